// Deterministic safetensors "models" for artefact tests and benchmarks, written as a stream (a
// 1 GiB model never sits in memory): `tensors` bf16 tensors of varied shapes summing to about
// `bytes`, each filled from a PRNG seeded by (seed, tensor index). A second version with
// `changed` tensors re-seeded has the same header, so only those tensors' bytes differ.
import { closeSync, openSync, writeSync } from "node:fs";

export interface ModelSpec {
  /** Approximate total size in bytes. */
  readonly bytes: number;
  readonly tensors: number;
  readonly seed: number;
  /** Indices of tensors whose content comes from `changeSeed` instead of `seed`. */
  readonly changed?: ReadonlySet<number>;
  readonly changeSeed?: number;
}

export interface ModelLayout {
  readonly size: number;
  /** Absolute [begin, end) of every tensor's bytes in the file. */
  readonly tensors: readonly { name: string; begin: number; end: number }[];
}

const COLS = 1024;

function shapes(spec: ModelSpec): [number, number][] {
  // Rows vary 0.5x..1.5x around the mean, deterministically.
  const weights = Array.from({ length: spec.tensors }, (_, i) => 0.5 + ((i * 37) % 101) / 100);
  const total = weights.reduce((a, b) => a + b, 0);
  const rowsTotal = spec.bytes / (COLS * 2);
  return weights.map((w) => [Math.max(1, Math.round((w / total) * rowsTotal)), COLS]);
}

/** xorshift32 fill of `out` (a multiple of 4 bytes long). */
function fill(out: Uint8Array, seed: number): void {
  const words = new Uint32Array(out.buffer, out.byteOffset, out.byteLength >>> 2);
  let x = seed >>> 0 || 0x9e3779b9;
  for (let i = 0; i < words.length; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    words[i] = x >>> 0;
  }
}

function tensorSeed(seed: number, index: number): number {
  return (Math.imul(seed ^ 0x5bd1e995, 0x01000193) + Math.imul(index + 1, 0x9e3779b1)) >>> 0;
}

/** Writes the model to `path`; returns its layout. */
export function writeModel(path: string, spec: ModelSpec): ModelLayout {
  const dims = shapes(spec);
  const entries: string[] = [];
  let offset = 0;
  const names: { name: string; begin: number; end: number }[] = [];
  dims.forEach(([rows, cols], i) => {
    const name = `model.layers.${String(i).padStart(3, "0")}.weight`;
    const n = rows * cols * 2;
    entries.push(`${JSON.stringify(name)}:{"dtype":"BF16","shape":[${rows},${cols}],"data_offsets":[${offset},${offset + n}]}`);
    names.push({ name, begin: offset, end: offset + n });
    offset += n;
  });
  const json = new TextEncoder().encode(`{"__metadata__":{"format":"pt"},${entries.join(",")}}`);
  const headerLength = json.length + ((8 - (json.length % 8)) % 8);
  const head = new Uint8Array(8 + headerLength).fill(0x20);
  new DataView(head.buffer).setBigUint64(0, BigInt(headerLength), true);
  head.set(json, 8);
  const fd = openSync(path, "w");
  try {
    writeSync(fd, head);
    const buffer = new Uint8Array(COLS * 2 * 4096);
    dims.forEach(([rows], i) => {
      let left = rows * COLS * 2;
      const changed = spec.changed?.has(i) ?? false;
      let seed = tensorSeed(changed ? (spec.changeSeed ?? spec.seed + 1) : spec.seed, i);
      while (left > 0) {
        const n = Math.min(left, buffer.length);
        fill(buffer.subarray(0, n), seed);
        seed = (seed + 0x6d2b79f5) >>> 0;
        writeSync(fd, buffer, 0, n);
        left -= n;
      }
    });
  } finally {
    closeSync(fd);
  }
  const dataStart = 8 + headerLength;
  return { size: dataStart + offset, tensors: names.map((t) => ({ name: t.name, begin: dataStart + t.begin, end: dataStart + t.end })) };
}

/** `count` tensor indices spread evenly over `tensors`: the tensors a "fine-tune" changes. */
export function spreadIndices(count: number, tensors: number): Set<number> {
  const out = new Set<number>();
  for (let k = 0; k < count; k++) out.add(Math.floor(((k + 0.5) * tensors) / count));
  return out;
}
