import { describe, expect, test } from "bun:test";
import { StrataError } from "../../core/errors.ts";
import { dequantizeInt8, quantizeInt8 } from "../../core/tensors/quantize.ts";

function rng(seed: number): () => number {
  let s = seed >>> 0 || 1;
  return () => {
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    return (s >>> 0) / 2 ** 32;
  };
}

function randomTensor(n: number, seed: number, spread = 1): Float32Array {
  const r = rng(seed);
  return Float32Array.from({ length: n }, () => (r() * 2 - 1) * spread * 10 ** (r() * 4 - 2));
}

/** Reference from the definition, independent of the implementation's loops. */
function reference(x: Float32Array, shape: number[], axis: number): { q: number[]; scales: number[] } {
  const a = axis < 0 ? axis + shape.length : axis;
  const inner = shape.slice(a + 1).reduce((p, d) => p * d, 1);
  const channels = shape[a]!;
  const channelOf = (i: number) => Math.floor(i / inner) % channels;
  const maxAbs = new Array<number>(channels).fill(0);
  x.forEach((v, i) => (maxAbs[channelOf(i)] = Math.max(maxAbs[channelOf(i)]!, Math.abs(v))));
  const scales = maxAbs.map((m) => Math.fround(m / 127));
  const q = Array.from(x, (v, i) => {
    const s = scales[channelOf(i)]!;
    if (s === 0) return 0;
    const t = Math.fround(v / s);
    let r = Math.round(t);
    if (Math.abs(t % 1) === 0.5 && r % 2 !== 0) r -= 1; // ties to even (Math.round ties up)
    return Math.max(-127, Math.min(127, r));
  });
  return { q, scales };
}

describe("int8 per-channel quantisation", () => {
  const shapes: Array<[number[], number]> = [
    [[64, 256], 0], // rows (WASM path)
    [[64, 256], 1], // columns (JS path)
    [[64, 256], -1],
    [[3, 5, 7], 1],
    [[4, 3, 40], 1], // inner 40: WASM runs of odd length
    [[2, 100_003], 0], // runs longer than the kernel slice... with an odd tail
    [[70_000, 1], 0], // 70 000 channels: too many for the rows kernel, JS path
    [[20_001, 7], -1], // rows kernel across several slices, last row cut short
    [[1001, 3, 5], 1],
    [[9, 8192], 1], // the largest period the rows kernel takes
    [[17], 0],
    [[1, 1], 1],
    [[0, 5], 1],
  ];
  for (const [shape, axis] of shapes) {
    test(`shape [${shape}] axis ${axis} matches the definition`, () => {
      const n = shape.reduce((p, d) => p * d, 1);
      const x = randomTensor(n, n + axis + 100);
      const got = quantizeInt8(x, shape, axis);
      const want = reference(x, shape, axis);
      expect([...got.scales]).toEqual(want.scales);
      expect(Array.from(got.q).join()).toBe(want.q.join());
      expect(got.shape).toEqual(shape);
      expect(got.axis).toBe(axis < 0 ? axis + shape.length : axis);
      const a = axis < 0 ? axis + shape.length : axis;
      const inner = shape.slice(a + 1).reduce((p, d) => p * d, 1);
      const y = dequantizeInt8(got);
      const wantY = Array.from(got.q, (v, i) => Math.fround(v * want.scales[Math.floor(i / inner) % shape[a]!]!));
      expect(Array.from(y).join()).toBe(wantY.join());
    });
  }

  test("error is at most half a step per element, and the extremes hit ±127", () => {
    for (const [shape, axis] of [[[32, 4096], 0], [[4096, 32], 1]] as Array<[number[], number]>) {
      const x = randomTensor(shape[0]! * shape[1]!, 7, 3);
      const qt = quantizeInt8(x, shape, axis);
      const y = dequantizeInt8(qt);
      const inner = axis === 0 ? shape[1]! : 1;
      const channels = shape[axis]!;
      let worst = 0;
      for (let i = 0; i < x.length; i++) {
        const s = qt.scales[Math.floor(i / inner) % channels]!;
        const err = Math.abs(x[i]! - y[i]!);
        worst = Math.max(worst, err / s);
        expect(err).toBeLessThanOrEqual(s / 2 + Math.abs(x[i]!) * 2 ** -23);
      }
      expect(worst).toBeGreaterThan(0.45); // the bound is tight, not vacuous
      for (let c = 0; c < channels; c++) {
        let hit = false;
        for (let i = 0; i < x.length; i++) if (Math.floor(i / inner) % channels === c && Math.abs(qt.q[i]!) === 127) hit = true;
        expect(hit).toBe(true);
      }
    }
  });

  test("all-zero channels get scale 0 and dequantise to exact zeros (runs kernel, rows kernel, JS loop)", () => {
    // runs kernel, rows kernel, JS loop
    for (const [shape, axis] of [[[4, 64], 0], [[64, 4], 1], [[2, 4], 1]] as Array<[number[], number]>) {
      const x = randomTensor(shape[0]! * shape[1]!, 3);
      const inner = axis === 0 ? shape[1]! : 1;
      for (let i = 0; i < x.length; i++) if (Math.floor(i / inner) % 4 === 2) x[i] = i % 3 === 0 ? -0 : 0;
      const qt = quantizeInt8(x, shape, axis);
      expect(qt.scales[2]).toBe(0);
      expect(qt.scales.every((s, c) => c === 2 || s > 0)).toBe(true);
      const y = dequantizeInt8(qt);
      for (let i = 0; i < x.length; i++) {
        if (Math.floor(i / inner) % 4 === 2) {
          expect(qt.q[i]).toBe(0);
          expect(y[i]).toBe(0);
        }
      }
    }
    const zeros = quantizeInt8(new Float32Array(1000), [10, 100], 0);
    expect([...zeros.scales]).toEqual(new Array(10).fill(0));
    expect(dequantizeInt8(zeros).every((v) => v === 0)).toBe(true);
  });

  test("ties round to even; tiny (subnormal) channels keep the bound", () => {
    // max 127 gives scale 1: 2.5 -> 2, 3.5 -> 4, -2.5 -> -2, 0.5 -> 0
    const x = Float32Array.from([127, 2.5, 3.5, -2.5, 0.5, -126.5]);
    expect([...quantizeInt8(x, [1, 6], 0).q]).toEqual([127, 2, 4, -2, 0, -126]);
    const tiny = Float32Array.from([2 ** -140, -(2 ** -145), 2 ** -149, 0]);
    const qt = quantizeInt8(tiny, [1, 4], 0);
    const y = dequantizeInt8(qt);
    tiny.forEach((v, i) => expect(Math.abs(v - y[i]!)).toBeLessThanOrEqual(qt.scales[0]! / 2));
    expect(Math.max(...Array.from(qt.q, Math.abs))).toBeLessThanOrEqual(127);
  });

  test("bad input is rejected with BAD_REQUEST", () => {
    const codeOf = (fn: () => unknown) => {
      try {
        fn();
      } catch (e) {
        return e instanceof StrataError ? e.code : "other";
      }
      return "none";
    };
    expect(codeOf(() => quantizeInt8(new Float32Array(6), [2, 2], 0))).toBe("BAD_REQUEST");
    expect(codeOf(() => quantizeInt8(new Float32Array(4), [2, 2], 2))).toBe("BAD_REQUEST");
    expect(codeOf(() => quantizeInt8(new Float32Array(4), [2, 2], -3))).toBe("BAD_REQUEST");
    expect(codeOf(() => quantizeInt8(new Float32Array(1), [], 0))).toBe("BAD_REQUEST");
    expect(codeOf(() => quantizeInt8(Float32Array.from([1, NaN]), [2], 0))).toBe("BAD_REQUEST");
    expect(codeOf(() => quantizeInt8(Float32Array.from({ length: 64 }, (_, i) => (i === 40 ? Infinity : 1)), [1, 64], 0))).toBe("BAD_REQUEST");
    expect(codeOf(() => quantizeInt8(Float32Array.from({ length: 64 }, (_, i) => (i === 63 ? NaN : 1)), [1, 64], 0))).toBe("BAD_REQUEST");
    expect(codeOf(() => quantizeInt8(Float32Array.from({ length: 64 }, (_, i) => (i === 9 ? NaN : 1)), [64, 1], 0))).toBe("BAD_REQUEST");
    expect(codeOf(() => quantizeInt8(Float32Array.from({ length: 128 }, (_, i) => (i === 127 ? -Infinity : 1)), [2, 64], 1))).toBe("BAD_REQUEST");
    expect(codeOf(() => dequantizeInt8({ q: new Int8Array(4), scales: new Float32Array(3), shape: [2, 2], axis: 0 }))).toBe("BAD_REQUEST");
  });
});
