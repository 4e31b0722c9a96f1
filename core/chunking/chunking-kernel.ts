// Typed view of the FastCDC exports of the WebAssembly module (wasm/assembly/fastcdc.ts).
import { blake3Kernel, type KernelHandle } from "../hashing/blake3-kernel.ts";
import { kernelView } from "../wasm.ts";

export interface FastCdcKernel {
  cdcInput(): number;
  cdcInputSize(): number;
  cdcState(): number;
  cdcCuts(): number;
  cdcHashes(): number;
  cdcGear(): number;
  cdcReset(hash: number): void;
  cdcProcess(len: number, hash: number): number;
  cdcAbsorb(len: number, hash: number): void;
  cdcFinish(hash: number): number;
}

const fastCdcKernel = kernelView<FastCdcKernel>({ cdcInput: true, cdcInputSize: true, cdcState: true, cdcCuts: true, cdcHashes: true, cdcGear: true, cdcReset: true, cdcProcess: true, cdcAbsorb: true, cdcFinish: true });

/** Byte size of the kernel's scan state (fingerprint, offset, sizes, masks). */
export const CDC_STATE_SIZE = 40;

export interface CdcHandle {
  readonly k: FastCdcKernel;
  readonly blake3: KernelHandle;
  readonly input: number;
  readonly inputSize: number;
  readonly state: number;
  readonly cuts: number;
  readonly hashes: number;
}

let handle: CdcHandle | undefined;

export function cdcKernel(): CdcHandle {
  if (handle) return handle;
  const blake3 = blake3Kernel();
  const k = fastCdcKernel();
  handle = {
    k,
    blake3,
    input: k.cdcInput(),
    inputSize: k.cdcInputSize(),
    state: k.cdcState(),
    cuts: k.cdcCuts(),
    hashes: k.cdcHashes(),
  };
  return handle;
}

/** The 256-entry gear table, as the kernel generates it (see wasm/assembly/fastcdc.ts). */
export function gearTable(): BigUint64Array {
  const h = cdcKernel();
  const ptr = h.k.cdcGear();
  return new BigUint64Array(h.blake3.bytes().buffer.slice(ptr, ptr + 256 * 8));
}
