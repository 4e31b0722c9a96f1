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

function isKernelExports(exports: WebAssembly.Exports): exports is WebAssembly.Exports & KernelExports {
  return exports.memory instanceof WebAssembly.Memory && typeof exports.abiVersion === "function";
}

/** The names of T's function members. */
type FunctionNames<T> = { [K in keyof T]-?: T[K] extends (...args: never[]) => unknown ? K : never }[keyof T] & string;

function hasFunctions<T>(exports: KernelExports, names: readonly string[]): exports is KernelExports & T {
  return names.every((name) => typeof exports[name] === "function");
}

/**
 * A typed view of some kernel functions, checked against the module's exports on first use.
 * `functions` must list every function of T (the compiler checks the list is complete).
 */
export function kernelView<T>(functions: Record<FunctionNames<T>, true>): () => KernelExports & T {
  const names = Object.keys(functions);
  let view: (KernelExports & T) | undefined;
  return () => {
    if (view) return view;
    const exports = kernels();
    if (!hasFunctions<T>(exports, names)) {
      const missing = names.filter((name) => typeof exports[name] !== "function");
      throw new Error(`wasm module lacks ${missing.join(", ")}: run npm run build:wasm`);
    }
    view = exports;
    return view;
  };
}

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
  const exports = created.exports;
  if (!isKernelExports(exports)) throw new Error("wasm module lacks memory or abiVersion: run npm run build:wasm");
  if (exports.abiVersion() !== KERNEL_ABI_VERSION) {
    throw new Error(`wasm module ABI ${exports.abiVersion()} != ${KERNEL_ABI_VERSION}: run npm run build:wasm`);
  }
  instance = exports;
  return exports;
}
