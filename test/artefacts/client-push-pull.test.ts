// pushArtefact / pullArtefact against a real gateway (in this process, local object store):
// byte-identical round trips, deduplication, deltas between model versions through the chunk
// cache, corrupted cache entries, artefact resolution on streams.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { readdirSync, readFileSync, writeFileSync } from "node:fs";
import { decodeManifest } from "../../core/artefacts/manifest.ts";
import { pullArtefact, pushArtefact, SAFETENSORS_MEDIA_TYPE } from "../../edge/artefacts/index.ts";
import { removeDir, tempDir } from "../helpers/gateway.ts";
import { liveGateway, type LiveGateway } from "../helpers/in-process-gateway.ts";
import { spreadIndices, writeModel, type ModelLayout } from "../helpers/model-file.ts";
import { chunksOf, fileHash, path, writePlainFile } from "./client-fixtures.ts";

const MODEL = { bytes: 4 * 1024 * 1024, tensors: 40, seed: 11 };
const CHANGED = spreadIndices(2, MODEL.tensors);

let live: LiveGateway;
let dir: string;
let v1: ModelLayout;
let v2: ModelLayout;
let changedBytes = 0;

beforeAll(async () => {
  live = await liveGateway();
  dir = tempDir("strata-artefacts-");
  writePlainFile(path(dir, "plain.bin"), 3 * 1024 * 1024 + 12345, 7);
  v1 = writeModel(path(dir, "v1.safetensors"), MODEL);
  v2 = writeModel(path(dir, "v2.safetensors"), { ...MODEL, changed: CHANGED, changeSeed: 99 });
  for (const i of CHANGED) changedBytes += v2.tensors[i]!.end - v2.tensors[i]!.begin;
});

afterAll(async () => {
  await live?.close();
  if (dir) removeDir(dir);
});

describe("push and pull", () => {
  test("a plain file round-trips byte-identical and its ref is on the stream", async () => {
    const file = path(dir, "plain.bin");
    const pushed = await pushArtefact({ gateway: live.url, file, stream: "art/plain", fields: { note: "hello" } });
    const chunks = await chunksOf(file);
    expect(pushed).toMatchObject({ bytesTotal: 3 * 1024 * 1024 + 12345, bytesTransferred: 3 * 1024 * 1024 + 12345, chunksTotal: chunks.length, chunksTransferred: chunks.length });
    expect(pushed.mediaType).toBe("application/octet-stream");
    const read = await fetch(`${live.url}/v1/streams/${encodeURIComponent("art/plain")}/partitions/${pushed.record.partition}/records?offset=${pushed.record.offset}`);
    const record = ((await read.json()) as { records: { fields: Record<string, unknown> }[] }).records[0]!;
    expect(record.fields).toEqual({ note: "hello", artefact: { $artefact: { manifest: pushed.artefact, size: pushed.bytesTotal, mediaType: "application/octet-stream" } } });

    const out = path(dir, "plain.out");
    const pulled = await pullArtefact({ gateway: live.url, source: "art/plain", out, cacheDir: path(dir, "cache-plain") });
    expect(pulled).toMatchObject({ artefact: pushed.artefact, bytesTransferred: pushed.bytesTotal, chunksTransferred: chunks.length, chunksCorrupt: 0 });
    expect(fileHash(out)).toBe(fileHash(file));
    expect(readdirSync(dir).filter((n) => n.includes(".strata-tmp-"))).toEqual([]);
  });

  test("a safetensors model round-trips, with its tensor index in the manifest", async () => {
    const file = path(dir, "v1.safetensors");
    const pushed = await pushArtefact({ gateway: live.url, file, stream: "art/model" });
    expect(pushed.mediaType).toBe(SAFETENSORS_MEDIA_TYPE);
    const manifest = decodeManifest(new Uint8Array(await (await fetch(`${live.url}/v1/manifests/${pushed.artefact}`)).arrayBuffer()));
    expect(Object.keys(manifest.tensors ?? {}).length).toBe(MODEL.tensors);
    const t = v1.tensors[3]!;
    expect(manifest.tensors?.[t.name]).toMatchObject({ dtype: "BF16", begin: t.begin, end: t.end });
    // Chunks never straddle a tensor boundary.
    let offset = 0;
    const bounds = new Set(v1.tensors.flatMap((x) => [x.begin, x.end]));
    const cuts = new Set<number>();
    for (const c of manifest.chunks) cuts.add((offset += c.length));
    for (const b of bounds) expect(cuts.has(b)).toBe(true);

    const out = path(dir, "v1.out.safetensors");
    const pulled = await pullArtefact({ gateway: live.url, source: "art/model", out, cacheDir: path(dir, "cache-model") });
    expect(pulled.bytesTransferred).toBe(v1.size);
    expect(fileHash(out)).toBe(fileHash(file));
  });

  test("pushing the same file again transfers nothing", async () => {
    const again = await pushArtefact({ gateway: live.url, file: path(dir, "v1.safetensors"), stream: "art/model" });
    expect(again.bytesTransferred).toBe(0);
    expect(again.chunksTransferred).toBe(0);
  });

  test("v2 with a few tensors changed pushes only their chunks, and pulls only them onto a cache holding v1", async () => {
    const pushed = await pushArtefact({ gateway: live.url, file: path(dir, "v2.safetensors"), stream: "art/model" });
    expect(pushed.bytesTransferred).toBe(changedBytes);
    expect(changedBytes).toBeLessThan(v2.size * 0.1);

    const out = path(dir, "v2.out.safetensors");
    const pulled = await pullArtefact({ gateway: live.url, source: "art/model", out, cacheDir: path(dir, "cache-model") });
    expect(pulled.artefact).toBe(pushed.artefact);
    expect(pulled.bytesTransferred).toBe(changedBytes);
    expect(fileHash(out)).toBe(fileHash(path(dir, "v2.safetensors")));
  });

  test("a corrupted chunk in the cache is detected and fetched again", async () => {
    const cacheDir = path(dir, "cache-model");
    // The cache trusts bytes below a pack's synced mark (written after an fdatasync); remove the
    // mark, as a power loss before it would, and flip a bit in the pack's first chunk.
    const idx = path(cacheDir, readdirSync(cacheDir).find((n) => n.endsWith(".idx"))!);
    const records = readFileSync(idx);
    writeFileSync(idx, records.subarray(0, records.length - 64));
    const first = new DataView(records.buffer, records.byteOffset, 64);
    const at = Number(first.getBigUint64(36, true));
    const length = first.getUint32(44, true);
    const file = idx.replace(/\.idx$/, ".pack");
    const pack = readFileSync(file);
    pack[at + (length >> 1)] = pack[at + (length >> 1)]! ^ 0x40;
    writeFileSync(file, pack);
    const bytes = { length };
    const out = path(dir, "v2.again.safetensors");
    const pulled = await pullArtefact({ gateway: live.url, source: "art/model", out, cacheDir });
    expect(pulled.chunksCorrupt).toBe(1);
    expect(pulled.chunksTransferred).toBe(1);
    expect(pulled.bytesTransferred).toBe(bytes.length);
    expect(fileHash(out)).toBe(fileHash(path(dir, "v2.safetensors")));
  });

  test("the chunk cache stays within its bound while a larger artefact goes through it", async () => {
    const cacheDir = path(dir, "cache-small");
    const out = path(dir, "v1.bounded.safetensors");
    const pulled = await pullArtefact({ gateway: live.url, source: "art/model", out, cacheDir, cacheMaxBytes: 1024 * 1024 });
    expect(pulled.bytesTransferred).toBe(v2.size);
    expect(fileHash(out)).toBe(fileHash(path(dir, "v2.safetensors")));
    let bytes = 0;
    for (const f of readdirSync(cacheDir)) bytes += Bun.file(path(cacheDir, f)).size;
    bytes -= readdirSync(cacheDir).filter((f) => f.endsWith(".idx")).reduce((n, f) => n + Bun.file(path(cacheDir, f)).size, 0);
    expect(bytes).toBeGreaterThan(0);
    expect(bytes).toBeLessThanOrEqual(1024 * 1024);
  });

  test("pull by artefact id, and the latest artefact across partitions", async () => {
    await fetch(`${live.url}/v1/streams`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ name: "art/multi", partitions: 3 }) });
    const a = await pushArtefact({ gateway: live.url, file: path(dir, "v1.safetensors"), stream: "art/multi" });
    await Bun.sleep(5);
    const b = await pushArtefact({ gateway: live.url, file: path(dir, "plain.bin"), stream: "art/multi" });
    expect(a.record.partition).not.toBe(b.record.partition);
    const latest = await pullArtefact({ gateway: live.url, source: "art/multi", out: path(dir, "multi.out"), cacheDir: path(dir, "cache-multi") });
    expect(latest.artefact).toBe(b.artefact);
    expect(latest.record?.partition).toBe(b.record.partition);
    const byId = await pullArtefact({ gateway: live.url, source: a.artefact, out: path(dir, "byid.out"), cacheDir: path(dir, "cache-multi") });
    expect(byId.record).toBeNull();
    expect(fileHash(path(dir, "byid.out"))).toBe(fileHash(path(dir, "v1.safetensors")));
  });

  test("an empty file is an artefact too", async () => {
    const file = path(dir, "empty.bin");
    writeFileSync(file, new Uint8Array(0));
    const pushed = await pushArtefact({ gateway: live.url, file, stream: "art/empty" });
    expect(pushed).toMatchObject({ bytesTotal: 0, chunksTotal: 0 });
    const out = path(dir, "empty.out");
    await pullArtefact({ gateway: live.url, source: "art/empty", out, cacheDir: path(dir, "cache-empty") });
    expect(readFileSync(out).length).toBe(0);
  });

  test("errors are clear: unknown stream, stream without artefacts, unknown id, fields naming 'artefact'", async () => {
    const cacheDir = path(dir, "cache-errors");
    await expect(pullArtefact({ gateway: live.url, source: "no/such", out: path(dir, "x"), cacheDir })).rejects.toMatchObject({ code: "STREAM_NOT_FOUND" });
    await fetch(`${live.url}/v1/streams/${encodeURIComponent("art/plain")}/records`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ records: [{ fields: { x: 1 } }] }) });
    await fetch(`${live.url}/v1/streams`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ name: "art/none" }) });
    await fetch(`${live.url}/v1/streams/${encodeURIComponent("art/none")}/records`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ records: [{ fields: { x: 1 } }] }) });
    await expect(pullArtefact({ gateway: live.url, source: "art/none", out: path(dir, "x"), cacheDir })).rejects.toMatchObject({ code: "NOT_FOUND" });
    // A plain record after the artefact record does not hide it.
    const latest = await pullArtefact({ gateway: live.url, source: "art/plain", out: path(dir, "plain.again"), cacheDir });
    expect(fileHash(path(dir, "plain.again"))).toBe(fileHash(path(dir, "plain.bin")));
    expect(latest.record).not.toBeNull();
    await expect(pullArtefact({ gateway: live.url, source: "0".repeat(64), out: path(dir, "x"), cacheDir })).rejects.toMatchObject({ code: "NOT_FOUND" });
    await expect(pushArtefact({ gateway: live.url, file: path(dir, "plain.bin"), stream: "art/plain", fields: { artefact: 1 } })).rejects.toMatchObject({ code: "BAD_REQUEST" });
    await expect(pushArtefact({ gateway: live.url, file: path(dir, "plain.bin"), stream: "Bad Name" })).rejects.toMatchObject({ code: "INVALID_STREAM_NAME" });
    await expect(pushArtefact({ gateway: live.url, file: path(dir, "plain.bin"), stream: "art/plain", fields: { x: { $nope: 1 } } })).rejects.toMatchObject({ code: "BAD_REQUEST" });
    await expect(pushArtefact({ gateway: live.url, file: path(dir, "no-such-file"), stream: "art/plain" })).rejects.toMatchObject({ code: "ENOENT" });
    await expect(pullArtefact({ gateway: live.url, source: "art/plain", out: path(dir, "no/such/dir/out"), cacheDir })).rejects.toMatchObject({ code: "BAD_REQUEST" });
    await expect(pushArtefact({ gateway: "http://127.0.0.1:1", file: path(dir, "plain.bin"), stream: "art/plain", limits: { attempts: 1 } })).rejects.toMatchObject({ code: "UNAVAILABLE" });
  });
});
