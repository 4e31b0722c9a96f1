// Entry of the WebAssembly module: every kernel file is re-exported here.
// Each kernel owns its scratch memory (memory.data) and exposes a pointer getter,
// so kernels never share or allocate memory at run time.

/** Bumped when any export changes shape, so the loader can refuse a stale build. */
export function abiVersion(): i32 {
  return 1;
}
export * from "./crc32c";
export * from "./blake3";
export * from "./dtype";
export * from "./planes";
export * from "./fastcdc";
export * from "./quantize";
