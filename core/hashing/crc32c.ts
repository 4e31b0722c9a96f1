// CRC32C (Castagnoli), as used in batch headers. Streamable: pass the previous result as seed.
//   crc32c(concat(a, b)) === crc32c(b, crc32c(a))
// Small inputs run in JavaScript; large ones in the WebAssembly slicing-by-8 kernel.
import { StrataError } from "../errors.ts";
import { crc32cUpdateJs } from "./crc32c-table.ts";
import { kernelView } from "../wasm.ts";

/** The WebAssembly exports this file uses (wasm/assembly/crc32c.ts). */
interface Crc32cKernel {
  readonly memory: WebAssembly.Memory;
  crc32cBuffer(): number;
  crc32cBufferSize(): number;
  crc32cUpdate(crc: number, len: number): number;
}

const crc32cKernel = kernelView<Crc32cKernel>({ crc32cBuffer: true, crc32cBufferSize: true, crc32cUpdate: true });

/** Below this many bytes the JS path is faster than copying into WASM memory. */
const WASM_THRESHOLD = 512;

let kernel: { k: Crc32cKernel; ptr: number; size: number } | undefined;

function wasmKernel(): { k: Crc32cKernel; ptr: number; size: number } {
  if (kernel) return kernel;
  const k = crc32cKernel();
  kernel = { k, ptr: k.crc32cBuffer(), size: k.crc32cBufferSize() };
  return kernel;
}

/** CRC32C of `bytes`, continuing from `seed` (the CRC of the preceding bytes; 0 to start). */
export function crc32c(bytes: Uint8Array, seed = 0): number {
  if (!(bytes instanceof Uint8Array)) throw new StrataError("BAD_REQUEST", "crc32c: input must be a Uint8Array");
  if (!Number.isInteger(seed) || seed < 0 || seed > 0xffffffff) {
    throw new StrataError("BAD_REQUEST", "crc32c: seed must be an unsigned 32-bit integer");
  }
  let crc = ~seed >>> 0;
  if (bytes.length < WASM_THRESHOLD) return ~crc32cUpdateJs(crc, bytes, 0, bytes.length) >>> 0;
  const { k, ptr, size } = wasmKernel();
  for (let off = 0; off < bytes.length; off += size) {
    const piece = bytes.subarray(off, Math.min(off + size, bytes.length));
    // The memory's buffer is re-read each time: it is replaced if memory ever grows.
    new Uint8Array(k.memory.buffer, ptr, piece.length).set(piece);
    crc = k.crc32cUpdate(crc, piece.length) >>> 0;
  }
  return ~crc >>> 0;
}
