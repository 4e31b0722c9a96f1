// Byte-plane split and merge on the WASM kernel (wasm/assembly/planes.ts): element i's byte k
// goes to plane k at index i. Planes come back laid one after another, `count` bytes each,
// so plane k is `planes.subarray(k * count, (k + 1) * count)`.
import { StrataError } from "../errors.ts";
import { kernelView } from "../wasm.ts";

interface PlanesKernels {
  readonly memory: WebAssembly.Memory;
  planesInPtr(): number;
  planesOutPtr(): number;
  planesSliceBytes(): number;
  planesSplit(n: number, size: number): void;
  planesMerge(n: number, size: number): void;
}

const planesKernels = kernelView<PlanesKernels>({ planesInPtr: true, planesOutPtr: true, planesSliceBytes: true, planesSplit: true, planesMerge: true });

function checkSize(elementSize: number, byteLength: number): number {
  if (!Number.isInteger(elementSize) || elementSize < 1 || elementSize > 16) {
    throw new StrataError("BAD_REQUEST", `element size must be an integer in 1..16, got ${elementSize}`);
  }
  if (byteLength % elementSize !== 0) {
    throw new StrataError("BAD_REQUEST", `${byteLength} bytes is not a whole number of ${elementSize}-byte elements`);
  }
  return byteLength / elementSize;
}

function checkOut(out: Uint8Array, length: number): void {
  if (out.byteLength !== length) throw new StrataError("BAD_REQUEST", `output holds ${out.byteLength} bytes, need ${length}`);
}

/** Splits interleaved elements into `elementSize` planes (a new buffer of the same length). */
export function splitPlanes(bytes: Uint8Array, elementSize: number, out: Uint8Array = new Uint8Array(bytes.byteLength)): Uint8Array {
  const count = checkSize(elementSize, bytes.byteLength);
  checkOut(out, bytes.byteLength);
  if (elementSize === 1) {
    out.set(bytes);
    return out;
  }
  const k = planesKernels();
  const slice = Math.floor(k.planesSliceBytes() / elementSize);
  const inPtr = k.planesInPtr();
  const outPtr = k.planesOutPtr();
  for (let off = 0; off < count; off += slice) {
    const n = Math.min(slice, count - off);
    const mem = k.memory.buffer;
    new Uint8Array(mem, inPtr, n * elementSize).set(bytes.subarray(off * elementSize, (off + n) * elementSize));
    k.planesSplit(n, elementSize);
    for (let p = 0; p < elementSize; p++) out.set(new Uint8Array(mem, outPtr + p * n, n), p * count + off);
  }
  return out;
}

/** Inverse of splitPlanes: `planes` holds `elementSize` planes of equal length, one after another. */
export function mergePlanes(planes: Uint8Array, elementSize: number, out: Uint8Array = new Uint8Array(planes.byteLength)): Uint8Array {
  const count = checkSize(elementSize, planes.byteLength);
  checkOut(out, planes.byteLength);
  if (elementSize === 1) {
    out.set(planes);
    return out;
  }
  const k = planesKernels();
  const slice = Math.floor(k.planesSliceBytes() / elementSize);
  const inPtr = k.planesInPtr();
  const outPtr = k.planesOutPtr();
  for (let off = 0; off < count; off += slice) {
    const n = Math.min(slice, count - off);
    const mem = k.memory.buffer;
    for (let p = 0; p < elementSize; p++) new Uint8Array(mem, inPtr + p * n, n).set(planes.subarray(p * count + off, p * count + off + n));
    k.planesMerge(n, elementSize);
    out.set(new Uint8Array(mem, outPtr, n * elementSize), off * elementSize);
  }
  return out;
}
