// Tensor element types as safetensors names them, their sizes, and the typed array
// each one maps onto. Little-endian only: every runtime Strata targets is little-endian.
import { StrataError } from "../errors.ts";

export const DTYPE_SIZE = {
  F64: 8,
  F32: 4,
  F16: 2,
  BF16: 2,
  I64: 8,
  I32: 4,
  I16: 2,
  I8: 1,
  U64: 8,
  U32: 4,
  U16: 2,
  U8: 1,
  BOOL: 1,
  F8_E4M3: 1,
  F8_E5M2: 1,
} as const;

export type Dtype = keyof typeof DTYPE_SIZE;

/** The typed array a dtype reads as. f16, bf16 and f8 are raw bit patterns (unsigned ints). */
export interface DtypeArrays {
  F64: Float64Array;
  F32: Float32Array;
  F16: Uint16Array;
  BF16: Uint16Array;
  I64: BigInt64Array;
  I32: Int32Array;
  I16: Int16Array;
  I8: Int8Array;
  U64: BigUint64Array;
  U32: Uint32Array;
  U16: Uint16Array;
  U8: Uint8Array;
  BOOL: Uint8Array;
  F8_E4M3: Uint8Array;
  F8_E5M2: Uint8Array;
}

export type TensorArray = DtypeArrays[Dtype];

type ArrayCtor = new (buffer: ArrayBufferLike, byteOffset: number, length: number) => TensorArray;

const CTORS: Record<Dtype, ArrayCtor> = {
  F64: Float64Array,
  F32: Float32Array,
  F16: Uint16Array,
  BF16: Uint16Array,
  I64: BigInt64Array,
  I32: Int32Array,
  I16: Int16Array,
  I8: Int8Array,
  U64: BigUint64Array,
  U32: Uint32Array,
  U16: Uint16Array,
  U8: Uint8Array,
  BOOL: Uint8Array,
  F8_E4M3: Uint8Array,
  F8_E5M2: Uint8Array,
};

export function isDtype(name: unknown): name is Dtype {
  return typeof name === "string" && Object.hasOwn(DTYPE_SIZE, name);
}

/** Throws UNKNOWN_DTYPE unless `name` is a supported dtype. */
export function assertDtype(name: unknown): Dtype {
  if (!isDtype(name)) {
    throw new StrataError("UNKNOWN_DTYPE", `unknown dtype ${JSON.stringify(name) ?? String(name)}`);
  }
  return name;
}

/** Product of a shape's dimensions; BAD_REQUEST if it is not a list of safe non-negative integers. */
export function elementCount(shape: readonly number[]): number {
  let n = 1;
  for (const d of shape) {
    if (!Number.isSafeInteger(d) || d < 0) throw new StrataError("BAD_REQUEST", `bad dimension ${String(d)}`);
    n *= d;
    if (!Number.isSafeInteger(n)) throw new StrataError("BAD_REQUEST", "element count exceeds 2^53");
  }
  return n;
}

/**
 * A typed view of `bytes` as `dtype`: zero-copy when the bytes are aligned to the element
 * size, otherwise a copy (typed arrays cannot start at a misaligned offset).
 */
export function typedView<D extends Dtype>(dtype: D, bytes: Uint8Array): DtypeArrays[D] {
  const size = DTYPE_SIZE[dtype];
  if (bytes.byteLength % size !== 0) {
    throw new StrataError("BAD_REQUEST", `${bytes.byteLength} bytes is not a whole number of ${dtype} elements`);
  }
  const Ctor = CTORS[dtype];
  const src = bytes.byteOffset % size === 0 ? bytes : bytes.slice();
  return new Ctor(src.buffer, src.byteOffset, src.byteLength / size) as DtypeArrays[D];
}

/** The bytes of any typed array or DataView, zero-copy. */
export function bytesOf(view: ArrayBufferView): Uint8Array {
  return view instanceof Uint8Array ? view : new Uint8Array(view.buffer, view.byteOffset, view.byteLength);
}
