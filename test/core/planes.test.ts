import { describe, expect, test } from "bun:test";
import { mergePlanes, splitPlanes } from "../../core/tensors/planes.ts";

function refSplit(bytes: Uint8Array, size: number): Uint8Array {
  const n = bytes.length / size;
  const out = new Uint8Array(bytes.length);
  for (let i = 0; i < n; i++) for (let k = 0; k < size; k++) out[k * n + i] = bytes[i * size + k]!;
  return out;
}

function randomBytes(n: number, seed: number): Uint8Array {
  const out = new Uint8Array(n);
  let s = seed >>> 0 || 1;
  for (let i = 0; i < n; i++) {
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    out[i] = s & 0xff;
  }
  return out;
}

describe("byte planes", () => {
  const slice = 256 * 1024; // the kernel's scratch size, to cross slice boundaries
  for (const size of [1, 2, 3, 4, 8]) {
    test(`split and merge, ${size}-byte elements, lengths around SIMD steps and slices`, () => {
      const per = Math.floor(slice / size);
      for (const n of [0, 1, 2, 15, 16, 17, 31, 33, 1000, per - 1, per, per + 1, 2 * per + 7]) {
        const bytes = randomBytes(n * size, n * 31 + size);
        const split = splitPlanes(bytes, size);
        expect(split).toEqual(refSplit(bytes, size));
        expect(mergePlanes(split, size)).toEqual(bytes);
      }
    });
  }

  test("writes into a caller's buffer and rejects misaligned lengths", () => {
    const bytes = randomBytes(64, 5);
    const out = new Uint8Array(64);
    expect(splitPlanes(bytes, 4, out)).toBe(out);
    expect([...out]).toEqual([...refSplit(bytes, 4)]);
    expect(() => splitPlanes(new Uint8Array(7), 2)).toThrow(/whole number/);
    expect(() => mergePlanes(new Uint8Array(6), 4)).toThrow(/whole number/);
    expect(() => splitPlanes(new Uint8Array(8), 0)).toThrow(/element size/);
    expect(() => splitPlanes(bytes, 4, new Uint8Array(3))).toThrow(/output/);
  });

  test("unaligned views", () => {
    const base = randomBytes(4 * 1001 + 3, 9);
    const bytes = base.subarray(3);
    expect(mergePlanes(splitPlanes(bytes, 4), 4)).toEqual(bytes);
  });
});
