// Fan-out: concurrent GETs of one cold artefact read each pack block from the object store
// once (single flight + memory cache), counted by the instrumented store's metrics; a gateway
// without a memory cache serves a repeated read from its disk cache.
import { afterAll, expect, test } from "bun:test";
import { liveGateway } from "../helpers/in-process-gateway.ts";
import { removeDir, tempDir } from "../helpers/gateway.ts";
import { chunkFile, metricValue, randomBytes, upload } from "./gateway-fixture.ts";

const dataDir = tempDir();
afterAll(() => removeDir(dataDir));

const SMALL = { maxChunkBytes: 64 * 1024, maxChunkRequestBytes: 1024 * 1024, packIdleMs: 5, packMaxBytes: 512 * 1024, readBlockBytes: 64 * 1024, maxBufferedBodyBytes: 0 };
const file = chunkFile(randomBytes(2_000_000, 41));

async function storeSizes(gw: Awaited<ReturnType<typeof liveGateway>>, prefix: string): Promise<number> {
  let total = 0;
  for await (const o of gw.gateway.objectStore.list(prefix)) total += o.size;
  return total;
}

async function readCounters(url: string): Promise<{ bytes: number; gets: number; misses: number; diskHits: number }> {
  const text = await (await fetch(`${url}/metrics`)).text();
  return {
    bytes: metricValue(text, "strata_object_store_read_bytes_total", '{op="get"}'),
    gets: metricValue(text, "strata_object_store_operations_total", '{op="get"}'),
    misses: metricValue(text, "strata_chunk_cache_misses_total"),
    diskHits: metricValue(text, "strata_chunk_cache_hits_total", '{tier="disk"}'),
  };
}

test("16 concurrent GETs of a cold artefact read each pack block once", async () => {
  const writer = await liveGateway({ dataDir, artefacts: SMALL });
  await upload(writer.url, file);
  await writer.close();

  // A fresh process view: empty memory and disk caches.
  const gw = await liveGateway({ dataDir, artefacts: { ...SMALL, memoryCacheBytes: 64 * 1024 * 1024 } });
  try {
    const packBytes = await storeSizes(gw, "packs/");
    const manifestBytes = file.manifestBytes.length;
    expect(packBytes).toBeGreaterThan(file.bytes.length);
    const before = await readCounters(gw.url);
    const bodies = await Promise.all(Array.from({ length: 16 }, () => fetch(`${gw.url}/v1/artefacts/${file.id}`).then((r) => r.arrayBuffer())));
    for (const b of bodies) expect(Buffer.compare(new Uint8Array(b), file.bytes)).toBe(0);
    const after = await readCounters(gw.url);
    // Every pack byte once, plus the manifest once; nothing more.
    expect(after.bytes - before.bytes).toBe(packBytes + manifestBytes);
    const packs = [];
    for await (const o of gw.gateway.objectStore.list("packs/")) packs.push(o.size);
    const blocks = packs.reduce((n, size) => n + Math.ceil(size / SMALL.readBlockBytes), 0);
    expect(after.gets - before.gets).toBe(blocks + 1);
    expect(after.misses - before.misses).toBe(blocks);

    // Warm: no object-store reads at all.
    await Promise.all(Array.from({ length: 4 }, () => fetch(`${gw.url}/v1/artefacts/${file.id}`, { headers: { range: "bytes=1000-1500000" } }).then((r) => r.arrayBuffer())));
    expect((await readCounters(gw.url)).bytes).toBe(after.bytes);
  } finally {
    await gw.close();
  }
});

test("without a memory cache, a repeated read is served from the disk cache", async () => {
  const gw = await liveGateway({ dataDir, artefacts: { ...SMALL, memoryCacheBytes: 0, chunkCacheBytes: 0, diskCacheBytes: 64 * 1024 * 1024 } });
  try {
    const first = new Uint8Array(await (await fetch(`${gw.url}/v1/artefacts/${file.id}`)).arrayBuffer());
    expect(Buffer.compare(first, file.bytes)).toBe(0);
    await Bun.sleep(300); // cache files are written after the response
    const before = await readCounters(gw.url);
    const second = new Uint8Array(await (await fetch(`${gw.url}/v1/artefacts/${file.id}`)).arrayBuffer());
    expect(Buffer.compare(second, file.bytes)).toBe(0);
    const after = await readCounters(gw.url);
    expect(after.bytes).toBe(before.bytes);
    expect(after.diskHits).toBeGreaterThan(before.diskHits);
  } finally {
    await gw.close();
  }
});
