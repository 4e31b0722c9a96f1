// Checks the WASM conversions against a reference written straight from IEEE-754: decode the
// 16-bit formats to exact Numbers, and round by comparing with the exact midpoint between
// the two neighbouring representable values (ties to the even bit pattern). Overflow: the
// value after the largest finite is treated as the next power of two, which makes values at
// or above the halfway point round to Inf, as IEEE-754 specifies.
import { describe, expect, test } from "bun:test";
import { bf16ToF16, bf16ToF32, convertFloat, f16ToBf16, f16ToF32, f32ToBf16, f32ToF16 } from "../../core/tensors/dtype.ts";

const f32buf = new Float32Array(1);
const u32buf = new Uint32Array(f32buf.buffer);
const f32FromBits = (b: number): number => ((u32buf[0] = b >>> 0), f32buf[0]!);

function f16Value(h: number): number {
  const s = h & 0x8000 ? -1 : 1;
  const e = (h >> 10) & 31;
  const m = h & 1023;
  if (e === 31) return m ? NaN : s * Infinity;
  if (e === 0) return s * m * 2 ** -24;
  return s * (1024 + m) * 2 ** (e - 25);
}
const bf16Value = (b: number): number => f32FromBits(b << 16);

/** Non-negative finite values of a 16-bit format by bit pattern, plus the Inf slot as 2^(emax+1). */
function ladder(value: (bits: number) => number, infBits: number, infValue: number): Float64Array {
  const v = new Float64Array(infBits + 1);
  for (let b = 0; b < infBits; b++) v[b] = value(b);
  v[infBits] = infValue;
  return v;
}
const F16 = ladder(f16Value, 0x7c00, 65536);
const BF16 = ladder(bf16Value, 0x7f80, 2 ** 128);

/** Reference rounding of a finite or infinite non-NaN number to a 16-bit pattern. */
function roundTo(x: number, table: Float64Array): number {
  const sign = x < 0 || Object.is(x, -0) ? 0x8000 : 0;
  const a = Math.abs(x);
  const last = table.length - 1;
  if (a >= table[last]!) return sign | last;
  let lo = 0;
  let hi = last;
  while (hi - lo > 1) {
    const mid = (lo + hi) >> 1;
    if (table[mid]! <= a) lo = mid;
    else hi = mid;
  }
  const midpoint = (table[lo]! + table[hi]!) / 2; // exact: both have few significant bits
  const pick = a < midpoint ? lo : a > midpoint ? hi : lo % 2 === 0 ? lo : hi;
  return sign | pick;
}

// Documented NaN rules: narrowing keeps sign and top payload bits and sets the quiet bit.
const refF32ToF16 = (bits: number): number => {
  const x = f32FromBits(bits);
  if (Number.isNaN(x)) return ((bits >>> 16) & 0x8000) | 0x7e00 | ((bits >>> 13) & 0x3ff);
  return roundTo(x, F16);
};
const refF32ToBf16 = (bits: number): number => {
  const x = f32FromBits(bits);
  if (Number.isNaN(x)) return (bits >>> 16) | 0x40;
  return roundTo(x, BF16);
};
/** Widening keeps every bit, NaN payloads included. */
const refF16ToF32 = (h: number): number => {
  if ((h & 0x7c00) === 0x7c00 && h & 0x3ff) return (((h & 0x8000) << 16) | 0x7f800000 | ((h & 0x3ff) << 13)) >>> 0;
  f32buf[0] = f16Value(h);
  return u32buf[0]!;
};

const ALL16 = Uint16Array.from({ length: 65536 }, (_, i) => i);
const isF16Nan = (h: number) => (h & 0x7c00) === 0x7c00 && (h & 0x3ff) !== 0;
const isBf16Nan = (b: number) => (b & 0x7f80) === 0x7f80 && (b & 0x7f) !== 0;

function expectAllEqual(actual: ArrayLike<number>, expected: (i: number) => number, label: (i: number) => string): void {
  let bad = 0;
  const first: string[] = [];
  for (let i = 0; i < actual.length; i++) {
    const want = expected(i);
    if (actual[i] !== want) {
      bad++;
      if (first.length < 5) first.push(`${label(i)}: got 0x${actual[i]!.toString(16)} want 0x${want.toString(16)}`);
    }
  }
  expect(first).toEqual([]);
  expect(bad).toBe(0);
}
const hex = (n: number) => `0x${n.toString(16)}`;

describe("all 65,536 16-bit patterns", () => {
  test("f16 -> f32 is exact", () => {
    const out = new Uint32Array(f16ToF32(ALL16).buffer);
    expectAllEqual(out, (i) => refF16ToF32(i), hex);
  });

  test("f16 -> f32 -> f16 is the identity (signalling NaNs come back quiet)", () => {
    const back = f32ToF16(f16ToF32(ALL16));
    expectAllEqual(back, (h) => (isF16Nan(h) ? h | 0x200 : h), hex);
  });

  test("bf16 -> f32 is exact", () => {
    const out = new Uint32Array(bf16ToF32(ALL16).buffer);
    expectAllEqual(out, (b) => (b << 16) >>> 0, hex);
  });

  test("bf16 -> f32 -> bf16 is the identity (signalling NaNs come back quiet)", () => {
    const back = f32ToBf16(bf16ToF32(ALL16));
    expectAllEqual(back, (b) => (isBf16Nan(b) ? b | 0x40 : b), hex);
  });

  test("f16 -> bf16 rounds once, to nearest even", () => {
    expectAllEqual(f16ToBf16(ALL16), (h) => refF32ToBf16(refF16ToF32(h)), hex);
  });

  test("bf16 -> f16 rounds once, to nearest even", () => {
    expectAllEqual(bf16ToF16(ALL16), (b) => refF32ToF16((b << 16) >>> 0), hex);
  });
});

describe("f32 -> f16 / bf16 rounding", () => {
  test("sweep: every exponent and sign, every f16 rounding pattern (low 13 bits)", () => {
    const highs = [0, 1, 0x2aa, 0x3ff];
    const bits = new Uint32Array(2 * 256 * highs.length * 8192);
    let n = 0;
    for (let s = 0; s < 2; s++)
      for (let e = 0; e < 256; e++)
        for (const h of highs) for (let low = 0; low < 8192; low++) bits[n++] = ((s << 31) | (e << 23) | (h << 13) | low) >>> 0;
    const out = f32ToF16(new Float32Array(bits.buffer));
    expectAllEqual(out, (i) => refF32ToF16(bits[i]!), (i) => hex(bits[i]!));
  });

  test("sweep: every exponent and sign, bf16 rounding patterns of the low 16 bits", () => {
    const lows = [0, 1, 0x3fff, 0x7fff, 0x8000, 0x8001, 0xbfff, 0xc000, 0xfffe, 0xffff];
    const highs = [0, 1, 0x2a, 0x55, 0x7e, 0x7f];
    const bits: number[] = [];
    for (let s = 0; s < 2; s++)
      for (let e = 0; e < 256; e++) for (const h of highs) for (const low of lows) bits.push(((s << 31) | (e << 23) | (h << 16) | low) >>> 0);
    const u = Uint32Array.from(bits);
    const out = f32ToBf16(new Float32Array(u.buffer));
    expectAllEqual(out, (i) => refF32ToBf16(u[i]!), (i) => hex(u[i]!));
  });

  test("two million random f32 patterns", () => {
    let seed = 0x9e3779b9;
    const u = new Uint32Array(2_000_000);
    for (let i = 0; i < u.length; i++) {
      seed ^= seed << 13;
      seed ^= seed >>> 17;
      seed ^= seed << 5;
      u[i] = seed >>> 0;
    }
    const f = new Float32Array(u.buffer);
    expectAllEqual(f32ToF16(f), (i) => refF32ToF16(u[i]!), (i) => hex(u[i]!));
    expectAllEqual(f32ToBf16(f), (i) => refF32ToBf16(u[i]!), (i) => hex(u[i]!));
  });

  test("named edge cases", () => {
    const f16Cases: Array<[number, number]> = [
      [0, 0x0000],
      [-0, 0x8000],
      [1, 0x3c00],
      [65504, 0x7bff], // largest finite
      [65519, 0x7bff], // just below the overflow midpoint
      [65520, 0x7c00], // the midpoint ties to even: Inf
      [1e6, 0x7c00],
      [-1e6, 0xfc00],
      [Infinity, 0x7c00],
      [-Infinity, 0xfc00],
      [2 ** -24, 0x0001], // smallest subnormal
      [2 ** -25, 0x0000], // tie between 0 and the smallest subnormal: even is 0
      [Math.fround(2 ** -25 * (1 + 2 ** -23)), 0x0001], // just above halfway
      [3 * 2 ** -25, 0x0002], // tie between 1 and 2 subnormal units: even is 2
      [2 ** -14, 0x0400], // smallest normal
      [Math.fround(2 ** -14 - 2 ** -25), 0x0400], // largest subnormal + half a unit: tie, even is 0x400
      [1 + 2 ** -11, 0x3c00], // tie: stays at 1 (even)
      [1 + 3 * 2 ** -11, 0x3c02], // tie: goes up to the even pattern
      [Math.fround(1 + 2 ** -11 + 2 ** -23), 0x3c01], // just above halfway
      [Math.fround(1 + 2 ** -11 - 2 ** -23), 0x3c00], // just below halfway
      [2 ** -149, 0x0000], // smallest f32 subnormal
      [f32FromBits(0x7f7fffff), 0x7c00], // largest finite f32
    ];
    const out16 = f32ToF16(Float32Array.from(f16Cases.map((c) => c[0])));
    expect([...out16].map(hex)).toEqual(f16Cases.map((c) => hex(c[1])));

    const bf16Cases: Array<[number, number]> = [
      [1, 0x3f80],
      [1 + 2 ** -8, 0x3f80], // tie, even
      [1 + 3 * 2 ** -8, 0x3f82], // tie, up to even
      [Math.fround(1 + 2 ** -8 + 2 ** -23), 0x3f81],
      [f32FromBits(0x7f7f0000), 0x7f7f], // largest finite bf16
      [f32FromBits(0x7f7f7fff), 0x7f7f], // just below the overflow midpoint
      [f32FromBits(0x7f7f8000), 0x7f80], // midpoint: ties to even, Inf
      [f32FromBits(0x7f7fffff), 0x7f80],
      [2 ** -149, 0x0000], // smallest subnormal f32: tie? no, below half of 2^-133
      [f32FromBits(0x00008000), 0x0000], // exact tie between 0 and the smallest bf16 subnormal
      [f32FromBits(0x00008001), 0x0001],
      [f32FromBits(0x00018000), 0x0002],
      [-Infinity, 0xff80],
    ];
    const outBf = f32ToBf16(Float32Array.from(bf16Cases.map((c) => c[0])));
    expect([...outBf].map(hex)).toEqual(bf16Cases.map((c) => hex(c[1])));

    // NaNs go in as bit patterns: a JS number NaN stored into a Float32Array may be canonicalised.
    const nanBf = f32ToBf16(new Float32Array(Uint32Array.from([0x7fc00000, 0xffc00001, 0x7f800001, 0x7fa50000]).buffer));
    // canonical quiet NaN; payload below bf16 precision (sign, quiet bit kept); signalling NaN
    // with only a low payload (still NaN); signalling NaN (payload kept, made quiet)
    expect([...nanBf].map(hex)).toEqual(["0x7fc0", "0xffc0", "0x7fc0", "0x7fe5"]);
    const nan16 = f32ToF16(new Float32Array(Uint32Array.from([0x7f800001, 0xffc00000, 0x7fc02000]).buffer));
    expect([...nan16].map(hex)).toEqual(["0x7e00", "0xfe00", "0x7e01"]);
  });
});

describe("lengths and API", () => {
  test("every length around the SIMD width and slice size matches the reference", () => {
    for (const n of [0, 1, 7, 8, 9, 15, 16, 17, 65535, 65536, 65537, 65536 * 2 + 13]) {
      const u = Uint32Array.from({ length: n }, (_, i) => (Math.imul(i + 1, 0x9e3779b1) ^ (i << 7)) >>> 0);
      const f = new Float32Array(u.buffer);
      expectAllEqual(f32ToF16(f), (i) => refF32ToF16(u[i]!), (i) => `n=${n} i=${i}`);
      expectAllEqual(f32ToBf16(f), (i) => refF32ToBf16(u[i]!), (i) => `n=${n} i=${i}`);
      const h = Uint16Array.from(u, (x) => x & 0xffff);
      expectAllEqual(new Uint32Array(f16ToF32(h).buffer), (i) => refF16ToF32(h[i]!), (i) => `n=${n} i=${i}`);
    }
  });

  test("convertFloat on raw bytes, including unaligned input", () => {
    const f = Float32Array.from([1, -2.5, 65504, 1e-7, NaN]);
    const raw = new Uint8Array(f.byteLength + 1).subarray(1);
    raw.set(new Uint8Array(f.buffer));
    const half = convertFloat(raw, "F32", "F16");
    expect([...new Uint16Array(half.buffer)]).toEqual([...f32ToF16(f)]);
    const back = convertFloat(half, "F16", "F32");
    expect([...new Float32Array(back.buffer)].map(String)).toEqual(["1", "-2.5", "65504", String(Math.fround(f16Value(0x0001) * 2)), "NaN"]);
    expect(convertFloat(half, "F16", "F16")).toEqual(half);
    expect(() => convertFloat(new Uint8Array(3), "F16", "F32")).toThrow(/whole number/);
    expect(() => convertFloat(new Uint8Array(4), "constructor" as "F32", "F16")).toThrow(/cannot convert/);
    expect(() => convertFloat(new Uint8Array(4), "F32", "I8" as "F16")).toThrow(/cannot convert/);
    expect(() => f32ToF16(new Float32Array(4), new Uint16Array(3))).toThrow(/output/);
  });
});
