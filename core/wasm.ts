// Instantiates the kernel module once, synchronously, from bytes shipped as a module:
// no file-system read, so the same code runs in browsers, workers, Bun, Deno and Node.
import { wasmBase64 } from "../wasm/module.generated.ts";

export const KERNEL_ABI_VERSION = 1;

/** Exports of wasm/assembly/index.ts. Kernel files add their functions here. */
export interface KernelExports {
  readonly memory: WebAssembly.Memory;
  abiVersion(): number;
  [name: string]: unknown;
}

function decodeBase64(text: string): Uint8Array<ArrayBuffer> {
  const binary = atob(text);
  const bytes = new Uint8Array(binary.length);
  for (let i = 0; i < binary.length; i++) bytes[i] = binary.charCodeAt(i);
  return bytes;
}

let instance: KernelExports | undefined;

/** The kernel module's exports, instantiated on first use. */
export function kernels(): KernelExports {
  if (instance) return instance;
  const module = new WebAssembly.Module(decodeBase64(wasmBase64) as Uint8Array<ArrayBuffer>);
  const created = new WebAssembly.Instance(module, {
    env: {
      abort(_msg: number, _file: number, line: number, column: number): never {
        throw new Error(`wasm kernel abort at ${line}:${column}`);
      },
    },
  });
  const exports = created.exports as unknown as KernelExports;
  if (exports.abiVersion() !== KERNEL_ABI_VERSION) {
    throw new Error(`wasm module ABI ${exports.abiVersion()} != ${KERNEL_ABI_VERSION}: run npm run build:wasm`);
  }
  instance = exports;
  return exports;
}
