// f32 <-> f16 <-> bf16 conversion with round-to-nearest-even, on the WASM SIMD kernels
// (wasm/assembly/dtype.ts). Half floats are raw bit patterns in Uint16Array.
//
// Exact for ±0, ±Inf and subnormals; overflow rounds to ±Inf as IEEE-754 says (f16: |x| >=
// 65520, bf16: |x| >= 0x1.ffp127 half-ulp above the largest finite). NaN: widening keeps
// every bit; narrowing keeps the sign and top payload bits and sets the quiet bit, so NaN
// stays NaN, a quiet NaN round-trips exactly, and a signalling NaN comes back quiet.
import { StrataError } from "../errors.ts";
import { kernelView } from "../wasm.ts";

interface DtypeKernels {
  readonly memory: WebAssembly.Memory;
  dtypeInPtr(): number;
  dtypeOutPtr(): number;
  dtypeSlice(): number;
  dtypeF32ToF16(n: number): void;
  dtypeF16ToF32(n: number): void;
  dtypeF32ToBf16(n: number): void;
  dtypeBf16ToF32(n: number): void;
  dtypeF16ToBf16(n: number): void;
  dtypeBf16ToF16(n: number): void;
}

const dtypeKernels = kernelView<DtypeKernels>({ dtypeInPtr: true, dtypeOutPtr: true, dtypeSlice: true, dtypeF32ToF16: true, dtypeF16ToF32: true, dtypeF32ToBf16: true, dtypeBf16ToF32: true, dtypeF16ToBf16: true, dtypeBf16ToF16: true });

export type FloatDtype = "F32" | "F16" | "BF16";

const SIZE: Record<FloatDtype, number> = { F32: 4, F16: 2, BF16: 2 };

type KernelName = "dtypeF32ToF16" | "dtypeF16ToF32" | "dtypeF32ToBf16" | "dtypeBf16ToF32" | "dtypeF16ToBf16" | "dtypeBf16ToF16";

const KERNEL: Record<string, KernelName> = {
  "F32>F16": "dtypeF32ToF16",
  "F16>F32": "dtypeF16ToF32",
  "F32>BF16": "dtypeF32ToBf16",
  "BF16>F32": "dtypeBf16ToF32",
  "F16>BF16": "dtypeF16ToBf16",
  "BF16>F16": "dtypeBf16ToF16",
};

/** Streams `count` elements through the kernel's scratch buffers, one slice per call. */
function run(name: KernelName, src: Uint8Array, srcSize: number, out: Uint8Array, outSize: number): void {
  const k = dtypeKernels();
  const kernel = k[name];
  const slice = k.dtypeSlice();
  const inPtr = k.dtypeInPtr();
  const outPtr = k.dtypeOutPtr();
  const count = src.byteLength / srcSize;
  for (let off = 0; off < count; off += slice) {
    const n = Math.min(slice, count - off);
    const mem = k.memory.buffer;
    new Uint8Array(mem, inPtr, n * srcSize).set(src.subarray(off * srcSize, (off + n) * srcSize));
    kernel(n);
    out.set(new Uint8Array(mem, outPtr, n * outSize), off * outSize);
  }
}

function bytes(view: ArrayBufferView): Uint8Array {
  return new Uint8Array(view.buffer, view.byteOffset, view.byteLength);
}

function checkOut(out: ArrayBufferView, n: number, size: number): void {
  if (out.byteLength !== n * size) {
    throw new StrataError("BAD_REQUEST", `output holds ${out.byteLength} bytes, need ${n * size}`);
  }
}

/**
 * Converts raw little-endian element bytes between F32, F16 and BF16. Returns `src` copied
 * when the dtypes are equal. BAD_REQUEST if the length is not a whole number of elements.
 */
export function convertFloat(src: Uint8Array, from: FloatDtype, to: FloatDtype, out?: Uint8Array): Uint8Array {
  if (!Object.hasOwn(SIZE, from) || !Object.hasOwn(SIZE, to)) {
    throw new StrataError("UNKNOWN_DTYPE", `cannot convert ${String(from)} to ${String(to)}`);
  }
  const fromSize = SIZE[from];
  const toSize = SIZE[to];
  if (src.byteLength % fromSize !== 0) {
    throw new StrataError("BAD_REQUEST", `${src.byteLength} bytes is not a whole number of ${from} elements`);
  }
  const n = src.byteLength / fromSize;
  const dst = out ?? new Uint8Array(n * toSize);
  checkOut(dst, n, toSize);
  if (from === to) dst.set(src);
  else run(KERNEL[`${from}>${to}`]!, src, fromSize, dst, toSize);
  return dst;
}

export function f32ToF16(src: Float32Array, out: Uint16Array = new Uint16Array(src.length)): Uint16Array {
  checkOut(out, src.length, 2);
  run("dtypeF32ToF16", bytes(src), 4, bytes(out), 2);
  return out;
}

export function f16ToF32(src: Uint16Array, out: Float32Array = new Float32Array(src.length)): Float32Array {
  checkOut(out, src.length, 4);
  run("dtypeF16ToF32", bytes(src), 2, bytes(out), 4);
  return out;
}

export function f32ToBf16(src: Float32Array, out: Uint16Array = new Uint16Array(src.length)): Uint16Array {
  checkOut(out, src.length, 2);
  run("dtypeF32ToBf16", bytes(src), 4, bytes(out), 2);
  return out;
}

export function bf16ToF32(src: Uint16Array, out: Float32Array = new Float32Array(src.length)): Float32Array {
  checkOut(out, src.length, 4);
  run("dtypeBf16ToF32", bytes(src), 2, bytes(out), 4);
  return out;
}

export function f16ToBf16(src: Uint16Array, out: Uint16Array = new Uint16Array(src.length)): Uint16Array {
  checkOut(out, src.length, 2);
  run("dtypeF16ToBf16", bytes(src), 2, bytes(out), 2);
  return out;
}

export function bf16ToF16(src: Uint16Array, out: Uint16Array = new Uint16Array(src.length)): Uint16Array {
  checkOut(out, src.length, 2);
  run("dtypeBf16ToF16", bytes(src), 2, bytes(out), 2);
  return out;
}
