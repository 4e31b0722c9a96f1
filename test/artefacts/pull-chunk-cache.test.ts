// The client chunk cache: chunks appended to a few pack files with an index beside each, LRU
// eviction of whole packs within the byte bound, no hashing of bytes below a synced mark, and
// after a kill -9 of a writer every indexed chunk kept and verified on its first read.
import { afterEach, describe, expect, test } from "bun:test";
import { spawn } from "node:child_process";
import { existsSync, mkdirSync, readdirSync, readFileSync, statSync, truncateSync, utimesSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { blake3Hex } from "../../core/hashing/blake3.ts";
import { ChunkCache } from "../../edge/artefacts/index.ts";
import { INDEX_RECORD_BYTES } from "../../edge/artefacts/pack-index.ts";
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
  const bytes = new Uint8Array(n).map((_, i) => (i * 31 + fill * 7) & 0xff);
  return { hex: blake3Hex(bytes), bytes };
}

const packsIn = (dir: string): string[] => readdirSync(dir).filter((n) => n.endsWith(".pack"));

describe("ChunkCache (pack files)", () => {
  test("many chunks go into one pack; after close they read back without hashing", async () => {
    const dir = newDir();
    const cache = ChunkCache.open(dir, 64 << 20);
    const chunks = Array.from({ length: 200 }, (_, i) => chunkOf(1000 + i, i));
    await Promise.all(chunks.map((c) => cache.put(c.hex, c.bytes)));
    expect(await cache.get(chunks[7]!.hex)).toEqual(chunks[7]!.bytes);
    await cache.close();
    expect(packsIn(dir)).toHaveLength(1);
    const reopened = ChunkCache.open(dir, 64 << 20);
    expect(reopened.stats()).toMatchObject({ chunks: 200, chunkBytes: chunks.reduce((n, c) => n + c.bytes.length, 0), packs: 1 });
    for (const c of chunks) expect(await reopened.get(c.hex)).toEqual(c.bytes);
    expect(reopened.stats().hashedReads).toBe(0);
    expect(reopened.has(chunks[0]!.hex, 1000)).toBe(true);
    expect(reopened.has(chunks[0]!.hex, 999)).toBe(false);
    await reopened.close();
  });

  test("evicts the least recently used pack to stay within its bound", async () => {
    // A bound of 8,000 bytes makes packs of at most 1,000: one 1,000-byte chunk each.
    const cache = ChunkCache.open(newDir(), 8000);
    const chunks = Array.from({ length: 9 }, (_, i) => chunkOf(1000, i));
    for (const c of chunks.slice(0, 8)) await cache.put(c.hex, c.bytes);
    expect(await cache.get(chunks[0]!.hex)).not.toBeNull(); // chunk 0 is now the most recent
    await cache.put(chunks[8]!.hex, chunks[8]!.bytes);
    expect(cache.has(chunks[1]!.hex)).toBe(false);
    expect(chunks.filter((_, i) => i !== 1).every((c) => cache.has(c.hex))).toBe(true);
    expect(cache.stats()).toMatchObject({ chunks: 8, bytes: 8000, evicted: 1 });
    await cache.close();
  });

  test("reopening keeps recency from pack times and evicts down to a smaller bound", async () => {
    const dir = newDir();
    const cache = ChunkCache.open(dir, 8000);
    const chunks = [1, 2, 3].map((f) => chunkOf(1000, f));
    for (const c of chunks) await cache.put(c.hex, c.bytes);
    await cache.close();
    const packs = packsIn(dir).sort();
    expect(packs).toHaveLength(3);
    for (const [i, p] of packs.entries()) {
      const t = new Date(Date.now() - (10 - i) * 60_000);
      utimesSync(join(dir, p), t, t);
    }
    const small = ChunkCache.open(dir, 2000);
    expect(small.has(chunks[0]!.hex)).toBe(false);
    expect(small.has(chunks[1]!.hex) && small.has(chunks[2]!.hex)).toBe(true);
    expect(existsSync(join(dir, packs[0]!))).toBe(false);
    expect(existsSync(join(dir, packs[0]!.replace(/\.pack$/, ".idx")))).toBe(false);
    await small.close();
  });

  test("bytes not covered by a synced mark are verified on first read; a corrupt chunk reads as missing", async () => {
    const dir = newDir();
    const cache = ChunkCache.open(dir, 1 << 20);
    const a = chunkOf(4096, 7);
    const b = chunkOf(4096, 8);
    await cache.put(a.hex, a.bytes);
    await cache.put(b.hex, b.bytes);
    await cache.close();
    const [pack] = packsIn(dir);
    const idx = join(dir, pack!.replace(/\.pack$/, ".idx"));
    // As after a power loss before the fdatasync: the synced mark (the last record) is gone.
    truncateSync(idx, statSync(idx).size - INDEX_RECORD_BYTES);
    const bytes = readFileSync(join(dir, pack!));
    bytes[100] = bytes[100]! ^ 0x01; // inside chunk a
    writeFileSync(join(dir, pack!), bytes);
    const reopened = ChunkCache.open(dir, 1 << 20);
    expect(await reopened.get(a.hex)).toBeNull();
    expect(await reopened.get(b.hex)).toEqual(b.bytes);
    expect(reopened.stats()).toMatchObject({ corrupt: 1, hashedReads: 2, chunks: 1 });
    expect(await reopened.get(b.hex)).toEqual(b.bytes);
    expect(reopened.stats().hashedReads).toBe(2); // verified once
    await reopened.close();
  });

  test("a torn index record is skipped; the records after it still count", async () => {
    const dir = newDir();
    const cache = ChunkCache.open(dir, 1 << 20);
    const chunks = [1, 2, 3].map((f) => chunkOf(2000, f));
    for (const c of chunks) await cache.put(c.hex, c.bytes);
    await cache.close();
    const idx = join(dir, readdirSync(dir).find((n) => n.endsWith(".idx"))!);
    const records = readFileSync(idx);
    records[INDEX_RECORD_BYTES + 10] = records[INDEX_RECORD_BYTES + 10]! ^ 0xff; // the second entry
    writeFileSync(idx, records);
    const reopened = ChunkCache.open(dir, 1 << 20);
    expect(reopened.has(chunks[1]!.hex)).toBe(false);
    expect(await reopened.get(chunks[0]!.hex)).toEqual(chunks[0]!.bytes);
    expect(await reopened.get(chunks[2]!.hex)).toEqual(chunks[2]!.bytes);
    await reopened.close();
  });

  test("after a kill -9 of a writer every chunk whose put returned is kept, and verified on first read", async () => {
    const dir = newDir();
    const script = join(dir, "writer.ts");
    writeFileSync(
      script,
      `import { ChunkCache } from ${JSON.stringify(join(import.meta.dir, "../../edge/artefacts/index.ts"))};
import { blake3Hex } from ${JSON.stringify(join(import.meta.dir, "../../core/hashing/blake3.ts"))};
const cache = ChunkCache.open(${JSON.stringify(join(dir, "cache"))}, 1 << 30);
for (let i = 0; ; i++) {
  const bytes = new Uint8Array(5000).fill(i & 0xff); bytes[0] = i >> 8;
  await cache.put(blake3Hex(bytes), bytes);
  process.stdout.write(i + "\\n");
}
`,
    );
    const child = spawn(process.execPath, [script], { stdio: ["ignore", "pipe", "inherit"] });
    let acknowledged = -1;
    await new Promise<void>((resolve) => {
      child.stdout.on("data", (d: Buffer) => {
        const lines = d.toString().trim().split("\n");
        acknowledged = Number(lines[lines.length - 1]);
        if (acknowledged >= 300) resolve();
      });
    });
    child.kill("SIGKILL");
    await new Promise((resolve) => child.on("exit", resolve));
    const cache = ChunkCache.open(join(dir, "cache"), 1 << 30);
    expect(cache.stats().chunks).toBeGreaterThanOrEqual(acknowledged + 1);
    for (let i = 0; i <= acknowledged; i++) {
      const bytes = new Uint8Array(5000).fill(i & 0xff);
      bytes[0] = i >> 8;
      expect(await cache.get(blake3Hex(bytes))).toEqual(bytes);
    }
    expect(cache.stats()).toMatchObject({ corrupt: 0 });
    expect(cache.stats().hashedReads).toBe(acknowledged + 1);
    await cache.close();
  }, 30_000);

  test("the one-file-per-chunk layout of earlier versions is removed on open", () => {
    const dir = newDir();
    const legacy = join(dir, "ab");
    ChunkCache.open(dir, 1000);
    writeFileSync(join(dir, "tmp"), "x");
    mkdirSync(legacy);
    writeFileSync(join(legacy, "ab".repeat(32)), "old");
    ChunkCache.open(dir, 1000);
    expect(existsSync(legacy)).toBe(false);
    expect(existsSync(join(dir, "tmp"))).toBe(false);
  });
});
