// FastCDC parameters: defaults, validation and the normalized-chunking masks.
import { StrataError } from "../errors.ts";

export interface ChunkSizes {
  /** Minimum chunk size in bytes (chunks are longer than this, except the last). */
  minSize?: number;
  /** Target average; rounded to the nearest power of two for the masks. */
  avgSize?: number;
  /** Maximum chunk size in bytes. */
  maxSize?: number;
}

export const CHUNK_DEFAULTS = { minSize: 16 * 1024, avgSize: 64 * 1024, maxSize: 256 * 1024 } as const;

/** Accepted ranges: 64 <= min < avg < max <= 1 GiB, and 256 <= avg <= 256 MiB. */
export const CHUNK_LIMITS = { minMin: 64, avgMin: 256, avgMax: 256 * 1024 * 1024, maxMax: 1024 * 1024 * 1024 } as const;

/** Normalization level 2 (the paper's recommendation): masks with 2 bits more / 2 bits fewer. */
export const NORMALIZATION_LEVEL = 2;

export interface ResolvedChunkSizes {
  minSize: number;
  avgSize: number;
  maxSize: number;
  /** Number of 1 bits in the mask used before `avgSize` (harder) and after it (easier). */
  bitsS: number;
  bitsL: number;
  maskS: bigint;
  maskL: bigint;
}

function bad(message: string): never {
  throw new StrataError("BAD_REQUEST", `chunking: ${message}`);
}

function size(value: number | undefined, fallback: number, name: string): number {
  const v = value ?? fallback;
  if (typeof v !== "number" || !Number.isSafeInteger(v) || v <= 0) bad(`${name} must be a positive integer, got ${String(value)}`);
  return v;
}

/** A mask of `bits` ones just below bit 63 (the gear hash's high bits see the most bytes). */
export function maskOf(bits: number): bigint {
  return ((1n << BigInt(bits)) - 1n) << BigInt(63 - bits);
}

export function resolveChunkSizes(options: ChunkSizes = {}): ResolvedChunkSizes {
  const minSize = size(options.minSize, CHUNK_DEFAULTS.minSize, "minSize");
  const avgSize = size(options.avgSize, CHUNK_DEFAULTS.avgSize, "avgSize");
  const maxSize = size(options.maxSize, CHUNK_DEFAULTS.maxSize, "maxSize");
  if (minSize < CHUNK_LIMITS.minMin) bad(`minSize must be at least ${CHUNK_LIMITS.minMin}, got ${minSize}`);
  if (avgSize < CHUNK_LIMITS.avgMin || avgSize > CHUNK_LIMITS.avgMax) {
    bad(`avgSize must be in [${CHUNK_LIMITS.avgMin}, ${CHUNK_LIMITS.avgMax}], got ${avgSize}`);
  }
  if (maxSize > CHUNK_LIMITS.maxMax) bad(`maxSize must be at most ${CHUNK_LIMITS.maxMax}, got ${maxSize}`);
  if (!(minSize < avgSize && avgSize < maxSize)) bad(`need minSize < avgSize < maxSize, got ${minSize}/${avgSize}/${maxSize}`);
  const bits = Math.round(Math.log2(avgSize));
  const bitsS = bits + NORMALIZATION_LEVEL;
  const bitsL = bits - NORMALIZATION_LEVEL;
  return { minSize, avgSize, maxSize, bitsS, bitsL, maskS: maskOf(bitsS), maskL: maskOf(bitsL) };
}
