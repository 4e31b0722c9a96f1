// Manifest routes against a live gateway: 409 MISSING_CHUNKS until the chunks are stored,
// idempotent PUT, exact bytes on GET, and clear 4xx answers to hostile manifests.
import { afterAll, beforeAll, expect, test } from "bun:test";
import { encode } from "@msgpack/msgpack";
import { blake3, bytesToHex } from "../../core/hashing/blake3.ts";
import { manifestId } from "../../core/artefacts/manifest.ts";
import { liveGateway, type LiveGateway } from "../helpers/in-process-gateway.ts";
import { chunkData, chunkFile, errorCode, putChunksRaw, putManifest, randomBytes, upload } from "./gateway-fixture.ts";

let gw: LiveGateway;

beforeAll(async () => {
  gw = await liveGateway({ artefacts: { maxChunks: 1000, maxTensors: 10, maxManifestBytes: 256 * 1024, maxMissingListed: 5, packIdleMs: 5 } });
});
afterAll(async () => {
  await gw?.close();
});

test("a manifest whose chunks are not all stored is 409 MISSING_CHUNKS; then 201, then 200", async () => {
  const file = chunkFile(randomBytes(120_000, 21));
  let res = await putManifest(gw.url, file.id, file.manifestBytes);
  expect(res.status).toBe(409);
  const body = (await res.json()) as { error: { code: string; missing: string[]; missing_count: number } };
  expect(body.error.code).toBe("MISSING_CHUNKS");
  expect(body.error.missing).toEqual(file.chunks.slice(0, 5).map((c) => bytesToHex(c.hash)));
  expect(body.error.missing_count).toBe(new Set(file.chunks.map((c) => bytesToHex(c.hash))).size);
  expect((await fetch(`${gw.url}/v1/manifests/${file.id}`)).status).toBe(404);

  // All but the last chunk: still 409, naming only the last one.
  const last = file.chunks[file.chunks.length - 1]!;
  expect((await putChunksRaw(gw.url, file.chunks.slice(0, -1).map((c) => [c.hash, chunkData(file, c)] as const))).status).toBe(200);
  res = await putManifest(gw.url, file.id, file.manifestBytes);
  expect(res.status).toBe(409);
  expect(((await res.json()) as { error: { missing: string[] } }).error.missing).toEqual([bytesToHex(last.hash)]);

  expect((await putChunksRaw(gw.url, [[last.hash, chunkData(file, last)]])).status).toBe(200);
  res = await putManifest(gw.url, file.id, file.manifestBytes);
  expect(res.status).toBe(201);
  expect(await res.json()).toEqual({ id: file.id, size: file.bytes.length, mediaType: "application/octet-stream", chunks: file.chunks.length });
  res = await putManifest(gw.url, file.id, file.manifestBytes);
  expect(res.status).toBe(200);

  const got = await fetch(`${gw.url}/v1/manifests/${file.id}`);
  expect(got.status).toBe(200);
  expect(got.headers.get("content-type")).toBe("application/msgpack");
  expect(new Uint8Array(await got.arrayBuffer()) as Uint8Array).toEqual(file.manifestBytes);
});

test("hostile manifests get a clear 4xx and store nothing", async () => {
  const file = chunkFile(randomBytes(40_000, 22));
  await upload(gw.url, file);
  const h = file.chunks[0]!.hash;
  const stored = (value: unknown) => encode(value);
  const cases: { name: string; bytes: Uint8Array; status: number; code: string; id?: string }[] = [
    { name: "huge size", bytes: stored({ v: 1, size: 2 ** 52, mediaType: "x/y", chunks: [[h, 2 ** 52]] }), status: 422, code: "CORRUPT_DATA" },
    { name: "size mismatch", bytes: stored({ v: 1, size: 10, mediaType: "x/y", chunks: [[h, file.chunks[0]!.length]] }), status: 422, code: "CORRUPT_DATA" },
    { name: "zero-length chunk", bytes: stored({ v: 1, size: 0, mediaType: "x/y", chunks: [[h, 0]] }), status: 422, code: "CORRUPT_DATA" },
    { name: "unsafe integer size", bytes: stored({ v: 1, size: 2 ** 64, mediaType: "x/y", chunks: [] }), status: 422, code: "CORRUPT_DATA" },
    { name: "too many chunks", bytes: stored({ v: 1, size: 1001, mediaType: "x/y", chunks: Array.from({ length: 1001 }, () => [h, 1]) }), status: 422, code: "CORRUPT_DATA" },
    { name: "short hash", bytes: stored({ v: 1, size: 5, mediaType: "x/y", chunks: [[h.subarray(0, 31), 5]] }), status: 422, code: "CORRUPT_DATA" },
    { name: "bad version", bytes: stored({ v: 2, size: 0, mediaType: "x/y", chunks: [] }), status: 422, code: "CORRUPT_DATA" },
    { name: "unknown key", bytes: stored({ v: 1, size: 0, mediaType: "x/y", chunks: [], extra: 1 }), status: 422, code: "CORRUPT_DATA" },
    { name: "control characters in mediaType", bytes: stored({ v: 1, size: 0, mediaType: "x/y\n", chunks: [] }), status: 422, code: "CORRUPT_DATA" },
    { name: "key order", bytes: stored({ size: 0, v: 1, mediaType: "x/y", chunks: [] }), status: 422, code: "CORRUPT_DATA" },
    { name: "not MessagePack", bytes: new Uint8Array([0xc1, 0x00]), status: 422, code: "CORRUPT_DATA" },
    {
      name: "overlapping tensors",
      bytes: stored({ v: 1, size: 100, mediaType: "x/y", chunks: [[h, 100]], tensors: { a: { dtype: "F32", shape: [10], begin: 0, end: 40 }, b: { dtype: "F32", shape: [10], begin: 39, end: 79 } } }),
      status: 422,
      code: "CORRUPT_DATA",
    },
    {
      name: "tensor past the end",
      bytes: stored({ v: 1, size: 100, mediaType: "x/y", chunks: [[h, 100]], tensors: { a: { dtype: "F32", shape: [100], begin: 0, end: 400 } } }),
      status: 422,
      code: "CORRUPT_DATA",
    },
    { name: "too large", bytes: randomBytes(300 * 1024, 3), status: 413, code: "PAYLOAD_TOO_LARGE" },
    { name: "wrong id", bytes: file.manifestBytes, id: bytesToHex(blake3("other")), status: 422, code: "HASH_MISMATCH" },
    { name: "malformed id", bytes: file.manifestBytes, id: "ABC", status: 400, code: "BAD_REQUEST" },
  ];
  for (const c of cases) {
    const id = c.id ?? manifestId(c.bytes);
    const res = await putManifest(gw.url, id, c.bytes);
    expect([c.name, res.status, await errorCode(res)]).toEqual([c.name, c.status, c.code]);
    if (/^[0-9a-f]{64}$/.test(id)) expect([c.name, (await fetch(`${gw.url}/v1/manifests/${id}`)).status]).toEqual([c.name, 404]);
  }
});

test("a valid manifest naming unknown chunks is 409, and GET of an unknown manifest is 404", async () => {
  const unknown = blake3("unknown chunk");
  const bytes = encode({ v: 1, size: 7, mediaType: "x/y", chunks: [[unknown, 7]] });
  const res = await putManifest(gw.url, manifestId(bytes), bytes);
  expect(res.status).toBe(409);
  expect(((await res.json()) as { error: { missing: string[] } }).error.missing).toEqual([bytesToHex(unknown)]);
  const missing = await fetch(`${gw.url}/v1/manifests/${bytesToHex(blake3("nothing"))}`);
  expect([missing.status, await errorCode(missing)]).toEqual([404, "NOT_FOUND"]);
  const artefact = await fetch(`${gw.url}/v1/artefacts/${bytesToHex(blake3("nothing"))}`);
  expect([artefact.status, await errorCode(artefact)]).toEqual([404, "NOT_FOUND"]);
});
