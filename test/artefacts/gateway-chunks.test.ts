// Chunk routes against a live gateway on the local directory store: verification on arrival,
// the missing → put → get round trip in JSON and MessagePack, limits and bad input.
import { afterAll, beforeAll, expect, test } from "bun:test";
import { decode, encode } from "@msgpack/msgpack";
import { blake3, bytesToHex } from "../../core/hashing/blake3.ts";
import { ChunkFrameParser, CHUNKS_MEDIA_TYPE } from "../../core/artefacts/chunk-frames.ts";
import { resolveArtefactLimits } from "../../gateway/artefacts/artefact-limits.ts";
import { liveGateway, type LiveGateway } from "../helpers/in-process-gateway.ts";
import { chunkData, chunkFile, errorCode, missing, postHashes, putChunksRaw, randomBytes } from "./gateway-fixture.ts";

let gw: LiveGateway;

beforeAll(async () => {
  gw = await liveGateway({ artefacts: { maxHashesPerRequest: 1000, maxChunkBytes: 64 * 1024, maxChunksPerRequest: 100, maxChunkRequestBytes: 1024 * 1024, packIdleMs: 5 } });
});
afterAll(async () => {
  await gw?.close();
});

async function packObjects(): Promise<string[]> {
  const keys: string[] = [];
  for await (const o of gw.gateway.objectStore.list("packs/")) keys.push(o.key);
  return keys;
}

test("a batch with one wrong hash is rejected whole with 422 HASH_MISMATCH and stores nothing", async () => {
  const good = randomBytes(5000, 1);
  const bad = randomBytes(6000, 2);
  const wrongHash = blake3(randomBytes(6000, 3));
  const before = await packObjects();
  const res = await putChunksRaw(gw.url, [
    [blake3(good), good],
    [wrongHash, bad],
  ]);
  expect(res.status).toBe(422);
  expect(await errorCode(res)).toBe("HASH_MISMATCH");
  expect(await missing(gw.url, [bytesToHex(blake3(good)), bytesToHex(wrongHash), bytesToHex(blake3(bad))])).toHaveLength(3);
  expect(await packObjects()).toEqual(before);
});

test("missing → put → missing → get round trip, deduplicated, in JSON and MessagePack", async () => {
  const file = chunkFile(randomBytes(300_000, 7));
  const hexes = file.chunks.map((c) => bytesToHex(c.hash));
  expect(await missing(gw.url, hexes)).toEqual(hexes);
  const half = file.chunks.slice(0, 20);
  let res = await putChunksRaw(gw.url, half.map((c) => [c.hash, chunkData(file, c)] as const));
  expect(res.status).toBe(200);
  expect(await res.json()).toEqual({ stored: 20, existing: 0 });
  // Order preserved, only the second part missing; MessagePack in, MessagePack out.
  const mp = await fetch(`${gw.url}/v1/chunks/missing`, { method: "POST", headers: { "content-type": "application/msgpack" }, body: encode({ hashes: file.chunks.map((c) => c.hash) }) });
  expect(mp.headers.get("content-type")).toContain("application/msgpack");
  const mpMissing = (decode(new Uint8Array(await mp.arrayBuffer())) as { missing: Uint8Array[] }).missing.map((h) => bytesToHex(h));
  expect(mpMissing).toEqual(hexes.slice(20));
  // A re-upload of everything stores only the rest; duplicates in one request count as existing.
  const all = file.chunks.map((c) => [c.hash, chunkData(file, c)] as const);
  res = await putChunksRaw(gw.url, [...all, all[0]!]);
  expect(await res.json()).toEqual({ stored: file.chunks.length - 20, existing: 21 });
  expect(await missing(gw.url, hexes)).toEqual([]);

  const wanted = [hexes[5]!, hexes[0]!, hexes[5]!, hexes[hexes.length - 1]!];
  const get = await fetch(`${gw.url}/v1/chunks/get`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ hashes: wanted }) });
  expect(get.status).toBe(200);
  expect(get.headers.get("content-type")).toBe(CHUNKS_MEDIA_TYPE);
  const parser = new ChunkFrameParser(1 << 20);
  const frames = parser.push(new Uint8Array(await get.arrayBuffer()));
  parser.end();
  expect(frames.map((f) => bytesToHex(f.hash))).toEqual(wanted);
  for (const f of frames) expect(bytesToHex(blake3(f.data))).toBe(bytesToHex(f.hash));
  expect(frames[1]!.data).toEqual(chunkData(file, file.chunks[0]!));

  const metrics = await (await fetch(`${gw.url}/metrics`)).text();
  expect(metrics).toContain("strata_chunks_stored_total");
  expect(metrics).toContain("strata_chunks_deduplicated_total");
});

test("POST /chunks/get with an unknown hash is 404 before any byte", async () => {
  const known = randomBytes(3000, 11);
  expect((await putChunksRaw(gw.url, [[blake3(known), known]])).status).toBe(200);
  const unknown = bytesToHex(blake3("never stored"));
  const res = await fetch(`${gw.url}/v1/chunks/get`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ hashes: [bytesToHex(blake3(known)), unknown] }) });
  expect(res.status).toBe(404);
  const body = (await res.json()) as { error: { code: string; message: string } };
  expect(body.error.code).toBe("NOT_FOUND");
  expect(body.error.message).toContain(unknown);
});

test("bad input gets a stable 4xx code and changes nothing", async () => {
  const tooMany = Array.from({ length: 1001 }, (_, i) => bytesToHex(blake3(String(i))));
  let res = await postHashes(gw.url, tooMany);
  expect([res.status, await errorCode(res)]).toEqual([413, "BATCH_TOO_LARGE"]);
  res = await fetch(`${gw.url}/v1/chunks/missing`, { method: "POST", headers: { "content-type": "application/msgpack" }, body: encode({ hashes: tooMany.map((h) => blake3(h)) }) });
  expect([res.status, await errorCode(res)]).toEqual([413, "BATCH_TOO_LARGE"]);
  res = await postHashes(gw.url, ["ABC"]);
  expect([res.status, await errorCode(res)]).toEqual([400, "BAD_REQUEST"]);
  res = await fetch(`${gw.url}/v1/chunks/missing`, { method: "POST", headers: { "content-type": "application/json" }, body: "{not json" });
  expect([res.status, await errorCode(res)]).toEqual([400, "BAD_REQUEST"]);
  res = await fetch(`${gw.url}/v1/chunks`, { method: "PUT", headers: { "content-type": "application/json" }, body: JSON.stringify({ chunks: [] }) });
  expect([res.status, await errorCode(res)]).toEqual([415, "UNSUPPORTED_MEDIA_TYPE"]);
  const big = randomBytes(64 * 1024 + 1, 5);
  res = await putChunksRaw(gw.url, [[blake3(big), big]]);
  expect([res.status, await errorCode(res)]).toEqual([413, "RECORD_TOO_LARGE"]);
  const small = Array.from({ length: 101 }, (_, i) => randomBytes(10, 100 + i));
  res = await putChunksRaw(gw.url, small.map((d) => [blake3(d), d] as const));
  expect([res.status, await errorCode(res)]).toEqual([413, "BATCH_TOO_LARGE"]);
  res = await fetch(`${gw.url}/v1/chunks`, { method: "PUT", headers: { "content-type": "application/msgpack" }, body: randomBytes(2 * 1024 * 1024, 9) as Uint8Array<ArrayBuffer> });
  expect([res.status, await errorCode(res)]).toEqual([413, "PAYLOAD_TOO_LARGE"]);
  // A chunked body (no Content-Length) is counted as it arrives.
  const pieces = [randomBytes(600 * 1024, 10), randomBytes(600 * 1024, 11)];
  const chunked = new ReadableStream<Uint8Array>({
    pull(controller) {
      const next = pieces.shift();
      if (next) controller.enqueue(next);
      else controller.close();
    },
  });
  res = await fetch(`${gw.url}/v1/chunks`, { method: "PUT", headers: { "content-type": "application/msgpack" }, body: chunked, duplex: "half" } as RequestInit);
  expect([res.status, await errorCode(res)]).toEqual([413, "PAYLOAD_TOO_LARGE"]);
  res = await fetch(`${gw.url}/v1/chunks`, { method: "PUT", headers: { "content-type": "application/msgpack" }, body: encode({ chunks: [[new Uint8Array(31), new Uint8Array(3)]] }) });
  expect([res.status, await errorCode(res)]).toEqual([400, "BAD_REQUEST"]);
  res = await fetch(`${gw.url}/v1/chunks`, { method: "PUT", headers: { "content-type": "application/msgpack" }, body: new Uint8Array([0xc1]) });
  expect([res.status, await errorCode(res)]).toEqual([400, "BAD_REQUEST"]);
  for (const d of small) expect(await missing(gw.url, [bytesToHex(blake3(d))])).toHaveLength(1);
});

test("nonsensical artefact limits are refused at start", () => {
  for (const bad of [{ packMaxBytes: 1000 }, { maxChunkBytes: 0 }, { readBlockBytes: 1.5 }, { gcRewriteMinDeadFraction: 2 }, { memoryCacheBytes: -1 }, { maxChunkRequestBytes: 1024 }]) {
    expect(() => resolveArtefactLimits(bad)).toThrow(/artefact limits/);
  }
  expect(resolveArtefactLimits({ memoryCacheBytes: 0, gcGraceMs: 0 }).memoryCacheBytes).toBe(0);
});
