// The local chunk cache: content-addressed files, atomic writes, LRU eviction by bytes,
// corruption detected on read.
import { afterEach, describe, expect, test } from "bun:test";
import { existsSync, readdirSync, readFileSync, utimesSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { blake3Hex } from "../../core/hashing/blake3.ts";
import { ChunkCache } from "../../edge/artefacts/index.ts";
import { removeDir, tempDir } from "../helpers/gateway.ts";

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) removeDir(d);
});

function newDir(): string {
  const d = tempDir("strata-cache-");
  dirs.push(d);
  return d;
}

function chunkOf(n: number, fill: number): { hex: string; bytes: Uint8Array } {
  const bytes = new Uint8Array(n).fill(fill);
  return { hex: blake3Hex(bytes), bytes };
}

describe("ChunkCache", () => {
  test("stores chunks under their hash and reads them back verified", async () => {
    const dir = newDir();
    const cache = ChunkCache.open(dir, 1 << 20);
    const a = chunkOf(1000, 1);
    await cache.put(a.hex, a.bytes);
    expect(readFileSync(join(dir, a.hex.slice(0, 2), a.hex))).toEqual(Buffer.from(a.bytes));
    expect(readdirSync(join(dir, "tmp"))).toEqual([]);
    expect(cache.has(a.hex, 1000)).toBe(true);
    expect(cache.has(a.hex, 999)).toBe(false);
    expect(await cache.get(a.hex)).toEqual(a.bytes);
    const reopened = ChunkCache.open(dir, 1 << 20);
    expect(reopened.stats()).toMatchObject({ chunks: 1, bytes: 1000 });
  });

  test("evicts the least recently used chunks to stay within its bound", async () => {
    const cache = ChunkCache.open(newDir(), 3000);
    const [a, b, c, d] = [1, 2, 3, 4].map((f) => chunkOf(1000, f)) as [ReturnType<typeof chunkOf>, ReturnType<typeof chunkOf>, ReturnType<typeof chunkOf>, ReturnType<typeof chunkOf>];
    await cache.put(a.hex, a.bytes);
    await cache.put(b.hex, b.bytes);
    await cache.put(c.hex, c.bytes);
    expect(await cache.get(a.hex)).not.toBeNull(); // a is now the most recent
    await cache.put(d.hex, d.bytes);
    expect(cache.has(b.hex)).toBe(false);
    expect(cache.has(a.hex) && cache.has(c.hex) && cache.has(d.hex)).toBe(true);
    expect(cache.stats()).toMatchObject({ chunks: 3, bytes: 3000, evicted: 1 });
  });

  test("reopening keeps recency from file times and evicts down to a smaller bound", async () => {
    const dir = newDir();
    const cache = ChunkCache.open(dir, 10_000);
    const chunks = [1, 2, 3].map((f) => chunkOf(1000, f));
    for (const [i, c] of chunks.entries()) {
      await cache.put(c.hex, c.bytes);
      const t = new Date(Date.now() - (10 - i) * 60_000);
      utimesSync(join(dir, c.hex.slice(0, 2), c.hex), t, t);
    }
    const small = ChunkCache.open(dir, 2000);
    expect(small.has(chunks[0]!.hex)).toBe(false);
    expect(small.has(chunks[1]!.hex) && small.has(chunks[2]!.hex)).toBe(true);
    await Bun.sleep(20); // evicted files are removed in the background
    expect(existsSync(join(dir, chunks[0]!.hex.slice(0, 2), chunks[0]!.hex))).toBe(false);
  });

  test("a corrupted chunk reads as missing and is deleted", async () => {
    const dir = newDir();
    const cache = ChunkCache.open(dir, 1 << 20);
    const a = chunkOf(4096, 7);
    await cache.put(a.hex, a.bytes);
    const path = join(dir, a.hex.slice(0, 2), a.hex);
    const bad = new Uint8Array(a.bytes);
    bad[100] = bad[100]! ^ 0x01;
    writeFileSync(path, bad);
    expect(await cache.get(a.hex)).toBeNull();
    expect(cache.stats().corrupt).toBe(1);
    await Bun.sleep(20);
    expect(existsSync(path)).toBe(false);
    expect(cache.has(a.hex)).toBe(false);
  });

  test("stale temporary files are swept on open", () => {
    const dir = newDir();
    ChunkCache.open(dir, 1000);
    const stale = join(dir, "tmp", `${"ab".repeat(32)}.1.0`);
    writeFileSync(stale, "partial");
    const old = new Date(Date.now() - 3600_000);
    utimesSync(stale, old, old);
    ChunkCache.open(dir, 1000);
    expect(existsSync(stale)).toBe(false);
  });
});
