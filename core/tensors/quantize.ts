// int8 symmetric per-channel quantisation along one axis, and its inverse. For channel c:
//   scale[c] = max|x| / 127 (f32),  q = clamp(roundHalfEven(x / scale[c]), -127, 127),
//   x' = q * scale[c],  so |x - x'| <= scale[c] / 2 (plus one f32 rounding of the product).
// An all-zero channel gets scale 0 and all-zero q. If max|x| / 127 rounds so low that
// max|x| / scale would exceed 127.5 (only possible for subnormal scales, where f32 has few
// bits), the scale is nudged up by ulps until it does not, which keeps the error bound.
// NaN or ±Inf input is rejected.
// Both layouts run on WASM SIMD kernels (wasm/assembly/quantize.ts): long contiguous runs of
// one channel (channel axis first), or rows that cycle through the channels (channel axis
// last or nearly last, period = channels × inner up to a few thousand). Anything else takes
// the scalar JS loop, which computes the same values.
import { StrataError } from "../errors.ts";
import { elementCount } from "./tensor-types.ts";
import { kernelView } from "../wasm.ts";

interface QuantKernels {
  readonly memory: WebAssembly.Memory;
  quantInPtr(): number;
  quantOutPtr(): number;
  quantSlice(): number;
  quantAbsMax(n: number, acc: number): number;
  quantRun(n: number, scale: number): void;
  dequantRun(n: number, scale: number): void;
  quantScalesPtr(): number;
  quantPeriodMax(): number;
  quantAbsMaxRows(n: number, period: number): void;
  quantRows(n: number, period: number): void;
  dequantRows(n: number, period: number): void;
}

const quantKernels = kernelView<QuantKernels>({ quantInPtr: true, quantOutPtr: true, quantSlice: true, quantAbsMax: true, quantRun: true, dequantRun: true, quantScalesPtr: true, quantPeriodMax: true, quantAbsMaxRows: true, quantRows: true, dequantRows: true });

export interface QuantizedInt8 {
  q: Int8Array;
  /** One scale per channel (the length of `shape[axis]`). */
  scales: Float32Array;
  shape: number[];
  /** Channel axis, normalised to be non-negative. */
  axis: number;
}

/** Runs shorter than this take the JS loop: copying into WASM memory would cost more. */
const WASM_MIN_RUN = 32;

interface Layout {
  outer: number;
  channels: number;
  inner: number;
  axis: number;
}

function layout(shape: readonly number[], axis: number, length: number): Layout {
  const n = elementCount(shape);
  if (n !== length) throw new StrataError("BAD_REQUEST", `shape [${shape}] has ${n} elements, data has ${length}`);
  const a = axis < 0 ? axis + shape.length : axis;
  if (!Number.isInteger(a) || a < 0 || a >= shape.length) {
    throw new StrataError("BAD_REQUEST", `axis ${axis} is out of range for shape [${shape}]`);
  }
  const outer = shape.slice(0, a).reduce((x, y) => x * y, 1);
  const inner = shape.slice(a + 1).reduce((x, y) => x * y, 1);
  return { outer, channels: shape[a]!, inner, axis: a };
}

function roundHalfEven(v: number): number {
  const f = Math.floor(v);
  const d = v - f;
  return d < 0.5 ? f : d > 0.5 ? f + 1 : f % 2 === 0 ? f : f + 1;
}

const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);
function nextUp(x: number): number {
  f32[0] = x;
  u32[0]! += 1;
  return f32[0]!;
}

/** scale = max|x| / 127 in f32, nudged up if needed so that max|x| / scale <= 127.5. */
function scaleFor(maxAbs: number, channel: number): number {
  if (!Number.isFinite(maxAbs)) throw new StrataError("BAD_REQUEST", `channel ${channel} holds NaN or Inf`);
  if (maxAbs === 0) return 0;
  let s = Math.fround(maxAbs / 127);
  if (s === 0) s = 2 ** -149;
  while (Math.fround(maxAbs / s) > 127.5) s = nextUp(s);
  return s;
}

type Visit = (start: number, length: number, channel: number) => void;

function forEachRun(l: Layout, visit: Visit): void {
  for (let o = 0; o < l.outer; o++) {
    for (let c = 0; c < l.channels; c++) visit((o * l.channels + c) * l.inner, l.inner, c);
  }
}


/** Period for the rows kernels: a whole number of channel cycles, about 1024 elements when they fit. */
function rowsPeriod(l: Layout, k: QuantKernels): number {
  const cycle = l.channels * l.inner;
  if (cycle === 0 || cycle > k.quantPeriodMax()) return 0;
  return cycle * Math.max(1, Math.min(Math.floor(1024 / cycle), Math.floor(k.quantPeriodMax() / cycle)));
}

/** Streams x through a rows kernel, whole periods per call. */
function streamRows(k: QuantKernels, period: number, total: number, each: (off: number, n: number) => void): void {
  const step = Math.floor(k.quantSlice() / period) * period;
  for (let off = 0; off < total; off += step) each(off, Math.min(step, total - off));
}

function channelOf(l: Layout, j: number): number {
  return Math.floor((j % (l.channels * l.inner)) / l.inner);
}

function quantizeRows(x: Float32Array, l: Layout, k: QuantKernels, period: number, q: Int8Array): Float32Array {
  const scalesAt = () => new Float32Array(k.memory.buffer, k.quantScalesPtr(), period);
  scalesAt().fill(0);
  streamRows(k, period, x.length, (off, n) => {
    new Float32Array(k.memory.buffer, k.quantInPtr(), n).set(x.subarray(off, off + n));
    k.quantAbsMaxRows(n, period);
  });
  const maxAbs = new Float64Array(l.channels);
  scalesAt().forEach((m, j) => {
    const c = channelOf(l, j);
    if (m > maxAbs[c]! || Number.isNaN(m)) maxAbs[c] = m;
  });
  const scales = Float32Array.from(maxAbs, (m, c) => scaleFor(m, c));
  const expanded = scalesAt();
  for (let j = 0; j < period; j++) expanded[j] = scales[channelOf(l, j)]!;
  streamRows(k, period, x.length, (off, n) => {
    const mem = k.memory.buffer;
    new Float32Array(mem, k.quantInPtr(), n).set(x.subarray(off, off + n));
    k.quantRows(n, period);
    q.set(new Int8Array(mem, k.quantOutPtr(), n), off);
  });
  return scales;
}

export function quantizeInt8(x: Float32Array, shape: readonly number[], axis = 0): QuantizedInt8 {
  const l = layout(shape, axis, x.length);
  const q = new Int8Array(x.length);
  if (l.inner < WASM_MIN_RUN && x.length >= WASM_MIN_RUN) {
    const k = quantKernels();
    const period = rowsPeriod(l, k);
    if (period > 0) return { q, scales: quantizeRows(x, l, k, period, q), shape: [...shape], axis: l.axis };
  }
  const maxAbs = new Float64Array(l.channels);
  const useWasm = l.inner >= WASM_MIN_RUN;
  const k = useWasm ? (quantKernels()) : undefined;
  const slice = k ? k.quantSlice() : 0;

  forEachRun(l, (start, len, c) => {
    let m = maxAbs[c]!;
    if (k) {
      for (let off = 0; off < len; off += slice) {
        const n = Math.min(slice, len - off);
        new Float32Array(k.memory.buffer, k.quantInPtr(), n).set(x.subarray(start + off, start + off + n));
        m = k.quantAbsMax(n, m);
      }
    } else {
      for (let i = start; i < start + len; i++) {
        const a = Math.abs(x[i]!);
        m = a > m || Number.isNaN(a) ? a : m;
      }
    }
    maxAbs[c] = m;
  });
  const scales = Float32Array.from(maxAbs, (m, c) => scaleFor(m, c));

  forEachRun(l, (start, len, c) => {
    const s = scales[c]!;
    if (k) {
      for (let off = 0; off < len; off += slice) {
        const n = Math.min(slice, len - off);
        const mem = k.memory.buffer;
        new Float32Array(mem, k.quantInPtr(), n).set(x.subarray(start + off, start + off + n));
        k.quantRun(n, s);
        q.set(new Int8Array(mem, k.quantOutPtr(), n), start + off);
      }
    } else if (s !== 0) {
      for (let i = start; i < start + len; i++) {
        const v = roundHalfEven(Math.fround(x[i]! / s));
        q[i] = v > 127 ? 127 : v < -127 ? -127 : v;
      }
    }
  });
  return { q, scales, shape: [...shape], axis: l.axis };
}

export function dequantizeInt8(
  quantized: Pick<QuantizedInt8, "q" | "scales" | "shape" | "axis">,
  out: Float32Array = new Float32Array(quantized.q.length),
): Float32Array {
  const { q, scales, shape, axis } = quantized;
  const l = layout(shape, axis, q.length);
  if (scales.length !== l.channels) {
    throw new StrataError("BAD_REQUEST", `${scales.length} scales for ${l.channels} channels`);
  }
  if (out.length !== q.length) throw new StrataError("BAD_REQUEST", `output holds ${out.length} elements, need ${q.length}`);
  if (l.inner < WASM_MIN_RUN && q.length >= WASM_MIN_RUN) {
    const kr = quantKernels();
    const period = rowsPeriod(l, kr);
    if (period > 0) {
      const expanded = new Float32Array(kr.memory.buffer, kr.quantScalesPtr(), period);
      for (let j = 0; j < period; j++) expanded[j] = scales[channelOf(l, j)]!;
      streamRows(kr, period, q.length, (off, n) => {
        const mem = kr.memory.buffer;
        new Int8Array(mem, kr.quantInPtr(), n).set(q.subarray(off, off + n));
        kr.dequantRows(n, period);
        out.set(new Float32Array(mem, kr.quantOutPtr(), n), off);
      });
      return out;
    }
  }
  const k = l.inner >= WASM_MIN_RUN ? (quantKernels()) : undefined;
  const slice = k ? k.quantSlice() : 0;
  forEachRun(l, (start, len, c) => {
    const s = scales[c]!;
    if (k) {
      for (let off = 0; off < len; off += slice) {
        const n = Math.min(slice, len - off);
        const mem = k.memory.buffer;
        new Int8Array(mem, k.quantInPtr(), n).set(q.subarray(start + off, start + off + n));
        k.dequantRun(n, s);
        out.set(new Float32Array(mem, k.quantOutPtr(), n), start + off);
      }
    } else {
      for (let i = start; i < start + len; i++) out[i] = q[i]! * s;
    }
  });
  return out;
}
