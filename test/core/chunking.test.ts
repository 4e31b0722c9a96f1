import { describe, expect, test } from "bun:test";
import { blake3Hex, bytesToHex } from "../../core/hashing/blake3.ts";
import {
  type Chunk,
  type ChunkBoundary,
  chunk,
  chunkBoundaries,
  chunkStream,
  createChunker,
  gearTable,
  resolveChunkSizes,
} from "../../core/chunking/chunking.ts";
import { StrataError } from "../../core/errors.ts";
import { writeSafetensors } from "../../core/tensors/safetensors.ts";
import { randomBytes, randomSplits, rng } from "./helpers/random.ts";

const M64 = (1n << 64n) - 1n;

/** The documented gear table: SplitMix64 seeded with "STRATACD". */
function referenceGear(): bigint[] {
  let s = 0x5354524154414344n;
  const out: bigint[] = [];
  for (let i = 0; i < 256; i++) {
    s = (s + 0x9e3779b97f4a7c15n) & M64;
    let z = s;
    z = ((z ^ (z >> 30n)) * 0xbf58476d1ce4e5b9n) & M64;
    z = ((z ^ (z >> 27n)) * 0x94d049bb133111ebn) & M64;
    out.push(z ^ (z >> 31n));
  }
  return out;
}

/** The documented cut rule, one byte at a time, in BigInt. */
function referenceCuts(data: Uint8Array, minSize: number, avgSize: number, maxSize: number): number[] {
  const gear = referenceGear();
  const { maskS, maskL } = resolveChunkSizes({ minSize, avgSize, maxSize });
  const lengths: number[] = [];
  let start = 0;
  while (start < data.length) {
    const n = Math.min(maxSize, data.length - start);
    let len = n;
    let fp = 0n;
    for (let i = minSize; i < n; i++) {
      fp = ((fp << 1n) + gear[data[start + i]!]!) & M64;
      if ((fp & (i < avgSize ? maskS : maskL)) === 0n) {
        len = i + 1;
        break;
      }
    }
    lengths.push(len);
    start += len;
  }
  return lengths;
}

function checkCover(chunks: ChunkBoundary[], total: number): void {
  let pos = 0;
  for (const c of chunks) {
    expect(c.offset).toBe(pos);
    expect(c.length).toBeGreaterThan(0);
    pos += c.length;
  }
  expect(pos).toBe(total);
}

function pushInSplits(data: Uint8Array, splits: number[], chunker = createChunker()): Chunk[] {
  const out: Chunk[] = [];
  let off = 0;
  for (const n of splits) {
    out.push(...chunker.push(data.subarray(off, off + n)));
    off += n;
  }
  out.push(...chunker.end());
  return out;
}

const key = (c: Chunk) => `${c.offset}:${c.length}:${bytesToHex(c.hash)}`;

describe("FastCDC chunking", () => {
  test("the gear table is SplitMix64 seeded with STRATACD", () => {
    expect([...gearTable()]).toEqual(referenceGear());
  });

  test("boundaries follow the documented rule (BigInt reference)", () => {
    const data = randomBytes(600_000, 1);
    for (const [min, avg, max] of [[256, 1024, 4096], [64, 256, 1000], [1000, 3000, 9000]] as const) {
      const lengths = chunkBoundaries(data, { minSize: min, avgSize: avg, maxSize: max }).map((c) => c.length);
      expect(lengths).toEqual(referenceCuts(data, min, avg, max));
    }
  });

  test("defaults: chunks cover the input, respect min/max and hash correctly", () => {
    const data = randomBytes(8 << 20, 2);
    const chunks = chunk(data);
    checkCover(chunks, data.length);
    chunks.forEach((c, i) => {
      if (i < chunks.length - 1) expect(c.length).toBeGreaterThan(16 * 1024);
      expect(c.length).toBeLessThanOrEqual(256 * 1024);
      expect(bytesToHex(c.hash)).toBe(blake3Hex(data.subarray(c.offset, c.offset + c.length)));
    });
    expect(chunkBoundaries(data)).toEqual(chunks.map(({ offset, length }) => ({ offset, length })));
  });

  test("boundaries and hashes are identical however the input is split", () => {
    const data = randomBytes(5 << 20, 3);
    const expected = chunk(data).map(key);
    for (let seed = 1; seed <= 6; seed++) {
      expect(pushInSplits(data, randomSplits(data.length, seed)).map(key)).toEqual(expected);
    }
    // Tiny reads: 1..40 bytes at a time over the first 300 KB.
    const small = data.subarray(0, 300_000);
    const next = rng(9);
    const splits: number[] = [];
    for (let left = small.length; left > 0; ) {
      const n = Math.min(left, 1 + (next() % 40));
      splits.push(n);
      left -= n;
    }
    expect(pushInSplits(small, splits).map(key)).toEqual(chunk(small).map(key));
  });

  test("interleaved streaming chunkers do not disturb each other", () => {
    const a = randomBytes(3 << 20, 4);
    const b = randomBytes(3 << 20, 5);
    const ca = createChunker();
    const cb = createChunker({ minSize: 4096, avgSize: 16384, maxSize: 65536 });
    const outA: Chunk[] = [];
    const outB: Chunk[] = [];
    for (let off = 0; off < a.length; off += 100_003) {
      outA.push(...ca.push(a.subarray(off, off + 100_003)));
      outB.push(...cb.push(b.subarray(off, off + 100_003)));
    }
    outA.push(...ca.end());
    outB.push(...cb.end());
    expect(outA.map(key)).toEqual(chunk(a).map(key));
    expect(outB.map(key)).toEqual(chunk(b, { minSize: 4096, avgSize: 16384, maxSize: 65536 }).map(key));
  });

  test("small and empty inputs", () => {
    expect(chunk(new Uint8Array(0))).toEqual([]);
    const one = chunk(new Uint8Array([7]));
    expect(one.length).toBe(1);
    expect(bytesToHex(one[0]!.hash)).toBe(blake3Hex(new Uint8Array([7])));
    const data = randomBytes(16 * 1024, 6);
    expect(chunk(data).map((c) => c.length)).toEqual([16 * 1024]);
  });

  test("chunkStream over an async source", async () => {
    const data = randomBytes(2 << 20, 7);
    async function* source() {
      for (let off = 0; off < data.length; off += 65_000) yield data.subarray(off, off + 65_000);
    }
    const out: Chunk[] = [];
    for await (const c of chunkStream(source())) out.push(c);
    expect(out.map(key)).toEqual(chunk(data).map(key));
  });

  test("shifted insert on 64 MiB: only the chunks around the insert change", () => {
    const original = randomBytes(64 << 20, 8);
    const insertAt = 100_000;
    const inserted = randomBytes(1000, 9);
    const edited = new Uint8Array(original.length + inserted.length);
    edited.set(original.subarray(0, insertAt));
    edited.set(inserted, insertAt);
    edited.set(original.subarray(insertAt), insertAt + inserted.length);
    const before = chunk(original);
    const after = chunk(edited);
    const known = new Set(before.map((c) => bytesToHex(c.hash)));
    const fresh = after.filter((c) => !known.has(bytesToHex(c.hash)));
    const freshBytes = fresh.reduce((s, c) => s + c.length, 0);
    const unique = new Map<string, number>();
    for (const c of [...before, ...after]) unique.set(bytesToHex(c.hash), c.length);
    const stored = [...unique.values()].reduce((s, n) => s + n, 0);
    const avg = original.length / before.length;
    const ratio = (original.length + edited.length) / stored;
    console.log(
      `shifted insert: ${before.length} chunks, average ${Math.round(avg)} B; ` +
        `${fresh.length} new chunks (${freshBytes} B) after inserting ${inserted.length} B at ${insertAt}; ` +
        `dedup ratio ${ratio.toFixed(4)} (logical/stored over both versions)`,
    );
    expect(fresh.length).toBeLessThanOrEqual(3);
    for (const c of fresh) expect(c.offset).toBeLessThan(insertAt + inserted.length + 3 * 256 * 1024);
    expect(avg).toBeGreaterThan(48 * 1024);
    expect(avg).toBeLessThan(96 * 1024);
    expect(ratio).toBeGreaterThan(1.99);
  }, 60_000);
});

describe("safetensors mode", () => {
  function model(sizes: Record<string, number>, seed: number): Uint8Array {
    const tensors: Record<string, { dtype: "U8"; shape: number[]; data: Uint8Array }> = {};
    let s = seed;
    for (const [name, n] of Object.entries(sizes)) tensors[name] = { dtype: "U8", shape: [n], data: randomBytes(n, s++) };
    return writeSafetensors(tensors);
  }

  const sizes = { a: 300_000, b: 10, c: 1_000_000, d: 0, e: 70_000, f: 2_500_000 };

  function tensorBounds(file: Uint8Array): { headerEnd: number; cuts: Set<number> } {
    const n = new DataView(file.buffer, file.byteOffset).getUint32(0, true);
    const header = JSON.parse(new TextDecoder().decode(file.subarray(8, 8 + n))) as Record<string, { data_offsets: [number, number] }>;
    const cuts = new Set<number>([8 + n]);
    for (const t of Object.values(header)) {
      cuts.add(8 + n + t.data_offsets[0]);
      cuts.add(8 + n + t.data_offsets[1]);
    }
    return { headerEnd: 8 + n, cuts };
  }

  test("the header is one chunk and chunks never straddle a tensor boundary", () => {
    const file = model(sizes, 1);
    const chunks = chunk(file, { safetensors: true });
    checkCover(chunks, file.length);
    const { headerEnd, cuts } = tensorBounds(file);
    expect(chunks[0]!.offset).toBe(0);
    expect(chunks[0]!.length).toBe(headerEnd);
    const ends = new Set(chunks.map((c) => c.offset + c.length));
    for (const cut of cuts) expect(ends.has(cut)).toBe(true);
    for (const c of chunks) expect(bytesToHex(c.hash)).toBe(blake3Hex(file.subarray(c.offset, c.offset + c.length)));
  });

  test("changing one tensor changes only its chunks (and the header's)", () => {
    const a = model(sizes, 1);
    const b = model(sizes, 1);
    const { headerEnd } = tensorBounds(b);
    // Tensors are laid out by name (all U8): a, b, c, d, e, f. Flip bytes inside "e".
    const eStart = headerEnd + 300_000 + 10 + 1_000_000;
    for (let i = 0; i < 70_000; i += 1000) b[eStart + i] = b[eStart + i]! ^ 0xff;
    const known = new Set(chunk(a, { safetensors: true }).map((c) => bytesToHex(c.hash)));
    const changed = chunk(b, { safetensors: true }).filter((c) => !known.has(bytesToHex(c.hash)));
    expect(changed.length).toBeGreaterThan(0);
    for (const c of changed) {
      expect(c.offset).toBeGreaterThanOrEqual(eStart);
      expect(c.offset + c.length).toBeLessThanOrEqual(eStart + 70_000);
    }
  });

  test("split invariance in safetensors mode, including splits inside the header", () => {
    const file = model(sizes, 2);
    const expected = chunk(file, { safetensors: true }).map(key);
    for (const splits of [randomSplits(file.length, 3, 200_000), [3, 5, 1, ...randomSplits(file.length - 9, 4)]]) {
      expect(pushInSplits(file, splits, createChunker({ safetensors: true })).map(key)).toEqual(expected);
    }
  });

  test("truncated or hostile headers get INVALID_SAFETENSORS", () => {
    const file = model({ x: 100 }, 3);
    const huge = new Uint8Array(16);
    new DataView(huge.buffer).setUint32(4, 1, true); // 4 GiB header length
    const notJson = new Uint8Array(16);
    notJson[0] = 8;
    notJson.set(new TextEncoder().encode("{nope}  "), 8);
    for (const bytes of [file.subarray(0, 5), file.subarray(0, 20), huge, notJson]) {
      try {
        chunk(bytes, { safetensors: true });
        throw new Error("expected a StrataError");
      } catch (e) {
        expect(e).toBeInstanceOf(StrataError);
        expect((e as StrataError).code).toBe("INVALID_SAFETENSORS");
      }
    }
  });
});

describe("hostile parameters", () => {
  const cases: Record<string, unknown>[] = [
    { minSize: 0 },
    { minSize: 63 },
    { minSize: -1 },
    { minSize: 1.5 },
    { minSize: Number.NaN },
    { avgSize: Infinity },
    { minSize: 65536, avgSize: 65536 },
    { avgSize: 300_000 },
    { maxSize: 2 ** 31 },
    { minSize: 1024, avgSize: 128, maxSize: 4096 },
    { avgSize: 2 ** 30, maxSize: 2 ** 30 },
    { minSize: "16" },
  ];
  for (const options of cases) {
    test(JSON.stringify(options, (_, v: unknown) => (typeof v === "number" && !Number.isFinite(v) ? String(v) : v)), () => {
      try {
        chunk(new Uint8Array(10), options as never);
        throw new Error("expected a StrataError");
      } catch (e) {
        expect(e).toBeInstanceOf(StrataError);
        expect((e as StrataError).code).toBe("BAD_REQUEST");
        expect((e as Error).message).toMatch(/^chunking: /);
      }
    });
  }

  test("push after end and non-bytes input are rejected", () => {
    const c = createChunker();
    expect(() => c.push("x" as unknown as Uint8Array)).toThrow(StrataError);
    c.end();
    expect(() => c.push(new Uint8Array(1))).toThrow(StrataError);
  });
});
