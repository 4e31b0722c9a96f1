// Verification once per trip into the gateway's caches: a chunk is hashed when its pack block
// comes from the object store and served from the memory or disk cache without hashing again;
// a disk cache file damaged after entry is detected by its CRC-32 and read again from the object
// store; a chunk damaged in its pack object is refused (CORRUPT_DATA) and never served.
import { afterAll, expect, test } from "bun:test";
import { readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { scanPack } from "../../gateway/artefacts/pack-format.ts";
import { liveGateway } from "../helpers/in-process-gateway.ts";
import { removeDir, tempDir } from "../helpers/gateway.ts";
import { chunkFile, errorCode, metricValue, randomBytes, upload } from "./gateway-fixture.ts";

const roots: string[] = [];
afterAll(() => {
  for (const d of roots) removeDir(d);
});

const SMALL = { maxChunkBytes: 64 * 1024, maxChunkRequestBytes: 1024 * 1024, packIdleMs: 5, packMaxBytes: 512 * 1024, readBlockBytes: 64 * 1024, maxBufferedBodyBytes: 0 };
/** Every block read goes through the disk cache: no memory tiers. */
const DISK_ONLY = { ...SMALL, memoryCacheBytes: 0, chunkCacheBytes: 0, diskCacheBytes: 64 * 1024 * 1024 };
const file = chunkFile(randomBytes(1_500_000, 77));
const distinctChunks = new Set(file.chunks.map((c) => c.hash.toString())).size;

type Live = Awaited<ReturnType<typeof liveGateway>>;

async function counters(url: string): Promise<{ hashed: number; misses: number; diskHits: number }> {
  const text = await (await fetch(`${url}/metrics`)).text();
  return {
    hashed: metricValue(text, "strata_chunks_hashed_total"),
    misses: metricValue(text, "strata_chunk_cache_misses_total"),
    diskHits: metricValue(text, "strata_chunk_cache_hits_total", '{tier="disk"}'),
  };
}

async function whole(url: string): Promise<Uint8Array> {
  const res = await fetch(`${url}/v1/artefacts/${file.id}`);
  expect(res.status).toBe(200);
  return new Uint8Array(await res.arrayBuffer());
}

/** A data dir holding the file, and a fresh gateway (empty caches) on it. */
async function storedFile(limits: Record<string, number>): Promise<{ gw: Live; dataDir: string }> {
  const dataDir = tempDir();
  roots.push(dataDir);
  const writer = await liveGateway({ dataDir, artefacts: SMALL });
  await upload(writer.url, file);
  await writer.close();
  return { gw: await liveGateway({ dataDir, artefacts: limits }), dataDir };
}

function cacheFiles(dataDir: string): string[] {
  const dir = join(dataDir, "pack-cache");
  return readdirSync(dir).filter((f) => !f.endsWith(".tmp")).map((f) => join(dir, f));
}

/** Waits until the disk cache holds `count` block files (they are written after the response). */
async function untilCached(dataDir: string, count: number): Promise<void> {
  const deadline = Date.now() + 10_000;
  while (cacheFiles(dataDir).length < count) {
    if (Date.now() > deadline) throw new Error(`disk cache holds ${cacheFiles(dataDir).length} of ${count} block files`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

test("each chunk is hashed once; repeated reads from the disk cache hash nothing", async () => {
  const { gw, dataDir } = await storedFile(DISK_ONLY);
  try {
    const start = await counters(gw.url);
    expect(Buffer.compare(await whole(gw.url), file.bytes)).toBe(0);
    const cold = await counters(gw.url);
    expect(cold.hashed - start.hashed).toBe(distinctChunks);
    await untilCached(dataDir, cold.misses - start.misses);
    for (let i = 0; i < 2; i++) expect(Buffer.compare(await whole(gw.url), file.bytes)).toBe(0);
    const warm = await counters(gw.url);
    expect(warm.hashed).toBe(cold.hashed);
    expect(warm.misses).toBe(cold.misses);
    expect(warm.diskHits).toBeGreaterThan(cold.diskHits);
  } finally {
    await gw.close();
  }
});

test("concurrent cold readers share one hash of each chunk", async () => {
  const { gw } = await storedFile({ ...SMALL, memoryCacheBytes: 64 * 1024 * 1024 });
  try {
    const start = await counters(gw.url);
    const bodies = await Promise.all(Array.from({ length: 8 }, () => whole(gw.url)));
    for (const b of bodies) expect(Buffer.compare(b, file.bytes)).toBe(0);
    expect((await counters(gw.url)).hashed - start.hashed).toBe(distinctChunks);
  } finally {
    await gw.close();
  }
});

test("a disk cache file damaged after entry is dropped and its block read again from the object store", async () => {
  const { gw, dataDir } = await storedFile(DISK_ONLY);
  try {
    await whole(gw.url);
    const cold = await counters(gw.url);
    await untilCached(dataDir, cold.misses);
    const files = cacheFiles(dataDir);
    for (const path of files) {
      const bytes = readFileSync(path);
      bytes[Math.floor(bytes.length / 2)]! ^= 0xff;
      writeFileSync(path, bytes);
    }
    expect(Buffer.compare(await whole(gw.url), file.bytes)).toBe(0);
    const after = await counters(gw.url);
    expect(after.misses - cold.misses).toBe(files.length);
    expect(after.hashed).toBeGreaterThan(cold.hashed);
  } finally {
    await gw.close();
  }
});

test("a chunk damaged in its pack object is refused with CORRUPT_DATA every time and never served", async () => {
  const dataDir = tempDir();
  roots.push(dataDir);
  const writer = await liveGateway({ dataDir, artefacts: SMALL });
  await upload(writer.url, file);
  // Damage the first chunk of one pack in the object store itself.
  let damaged: { hash: string; length: number } | undefined;
  for await (const o of writer.gateway.objectStore.list("packs/")) {
    const bytes = await writer.gateway.objectStore.get(o.key);
    const entry = scanPack(bytes, SMALL.maxChunkBytes)[0]!;
    const copy = bytes.slice();
    copy[entry.offset + Math.floor(entry.length / 2)]! ^= 0xff;
    await writer.gateway.objectStore.put(o.key, copy);
    damaged = { hash: entry.hash, length: entry.length };
    break;
  }
  await writer.close();
  expect(damaged).toBeDefined();
  const index = file.chunks.findIndex((c) => Buffer.from(c.hash).toString("hex") === damaged!.hash);
  expect(index).toBeGreaterThanOrEqual(0);
  const chunk = file.chunks[index]!;
  const range = `bytes=${chunk.offset}-${chunk.offset + chunk.length - 1}`;

  // Buffered responses: the refusal comes before any byte is sent.
  const gw = await liveGateway({ dataDir, artefacts: { ...SMALL, maxBufferedBodyBytes: 8 * 1024 * 1024 } });
  try {
    for (let i = 0; i < 2; i++) {
      const before = await counters(gw.url);
      const res = await fetch(`${gw.url}/v1/artefacts/${file.id}`, { headers: { range } });
      expect(res.status).toBe(422);
      expect(await errorCode(res)).toBe("CORRUPT_DATA");
      // Each attempt reads the object store again (the damaged copy is never cached as verified).
      expect((await counters(gw.url)).misses).toBeGreaterThan(before.misses);
    }
    // The chunk-frame route streams: the damaged chunk ends the response before its frame is whole.
    const served = await fetch(`${gw.url}/v1/chunks/get`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ hashes: [damaged!.hash] }) })
      .then((res) => (res.status === 200 ? res.arrayBuffer() : undefined))
      .then(
        (body) => (body !== undefined && body.byteLength >= damaged!.length ? "complete" : "refused"),
        () => "cut",
      );
    expect(served).not.toBe("complete");
    // The other chunks still read.
    const next = file.chunks[index + 1] ?? file.chunks[index - 1]!;
    const ok = await fetch(`${gw.url}/v1/artefacts/${file.id}`, { headers: { range: `bytes=${next.offset}-${next.offset + next.length - 1}` } });
    expect(ok.status).toBe(206);
    expect(Buffer.compare(new Uint8Array(await ok.arrayBuffer()), file.bytes.subarray(next.offset, next.offset + next.length))).toBe(0);
  } finally {
    await gw.close();
  }
});
