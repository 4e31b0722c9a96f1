// Artefact manifests: a canonical MessagePack map {v, size, mediaType, chunks, tensors?}
// identified by the BLAKE3 of its encoding (docs/artefact-protocol.md). decodeManifest accepts
// only the canonical encoding of a valid manifest, so one artefact has exactly one id.
import { Decoder } from "@msgpack/msgpack";
import { blake3, bytesToHex } from "../hashing/blake3.ts";
import { StrataError } from "../errors.ts";
import { MsgpackWriter } from "../log/msgpack-writer.ts";
import type { SafetensorsHeader } from "../tensors/safetensors.ts";
import { equalBytes } from "../util/equal-bytes.ts";

export const MANIFEST_VERSION = 1;
export const CHUNK_HASH_BYTES = 32;

export interface ManifestLimits {
  /** Largest chunk length a manifest may list (and the chunk store accepts). */
  readonly maxChunkBytes: number;
  readonly maxChunks: number;
  readonly maxTensors: number;
  /** Largest encoded manifest. */
  readonly maxManifestBytes: number;
}

export const DEFAULT_MANIFEST_LIMITS: ManifestLimits = {
  maxChunkBytes: 1024 * 1024,
  maxChunks: 1_048_576,
  maxTensors: 100_000,
  maxManifestBytes: 64 * 1024 * 1024,
};

export const MAX_MEDIA_TYPE_LENGTH = 255;
export const MAX_TENSOR_NAME_BYTES = 1024;
export const MAX_DTYPE_LENGTH = 16;
export const MAX_TENSOR_DIMS = 16;

export interface ManifestChunk {
  /** BLAKE3-256 of the chunk, 32 bytes. */
  readonly hash: Uint8Array;
  readonly length: number;
}

export interface ManifestTensor {
  readonly dtype: string;
  readonly shape: readonly number[];
  /** Absolute byte offsets in the artefact: [begin, end). */
  readonly begin: number;
  readonly end: number;
}

export interface Manifest {
  readonly v: typeof MANIFEST_VERSION;
  readonly size: number;
  readonly mediaType: string;
  readonly chunks: readonly ManifestChunk[];
  readonly tensors?: Readonly<Record<string, ManifestTensor>>;
}

const MEDIA_TYPE = /^[\x21-\x7e][\x20-\x7e]*$/;
const utf8 = new TextEncoder();

function corrupt(message: string): never {
  throw new StrataError("CORRUPT_DATA", `manifest: ${message}`);
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v) && !(v instanceof Uint8Array);
}

function uint(v: unknown, what: string): number {
  if (typeof v !== "number" || !Number.isSafeInteger(v) || v < 0) corrupt(`${what} must be a non-negative safe integer`);
  return v;
}

function onlyKeys(obj: Record<string, unknown>, allowed: readonly string[], what: string): void {
  for (const k of Object.keys(obj)) if (!allowed.includes(k)) corrupt(`${what} has an unknown key '${k}'`);
}

function resolveLimits(limits: Partial<ManifestLimits> | undefined): ManifestLimits {
  return { ...DEFAULT_MANIFEST_LIMITS, ...limits };
}

/** Tensors in canonical order: by begin, then end, then name. */
function sortedTensors(tensors: Readonly<Record<string, ManifestTensor>>): [string, ManifestTensor][] {
  return Object.entries(tensors).sort(([an, a], [bn, b]) => a.begin - b.begin || a.end - b.end || (an < bn ? -1 : an > bn ? 1 : 0));
}

function validateTensor(name: string, t: unknown, size: number): ManifestTensor {
  const nameBytes = utf8.encode(name).length;
  if (nameBytes < 1 || nameBytes > MAX_TENSOR_NAME_BYTES) corrupt(`tensor names must be 1..${MAX_TENSOR_NAME_BYTES} UTF-8 bytes`);
  if (!isRecord(t)) corrupt(`tensor '${name}' must be a map`);
  onlyKeys(t, ["dtype", "shape", "begin", "end"], `tensor '${name}'`);
  const { dtype, shape } = t;
  if (typeof dtype !== "string" || dtype.length < 1 || dtype.length > MAX_DTYPE_LENGTH) corrupt(`tensor '${name}' dtype must be 1..${MAX_DTYPE_LENGTH} characters`);
  if (!Array.isArray(shape) || shape.length > MAX_TENSOR_DIMS) corrupt(`tensor '${name}' shape must be at most ${MAX_TENSOR_DIMS} dimensions`);
  shape.forEach((d, i) => uint(d, `tensor '${name}' shape[${i}]`));
  const begin = uint(t.begin, `tensor '${name}' begin`);
  const end = uint(t.end, `tensor '${name}' end`);
  if (begin > end || end > size) corrupt(`tensor '${name}' [${begin}, ${end}) lies outside [0, ${size})`);
  return { dtype, shape: shape as number[], begin, end };
}

/** Checks a manifest value (decoded or built in memory); returns it with tensors copied out. */
export function validateManifest(value: unknown, limits?: Partial<ManifestLimits>): Manifest {
  const l = resolveLimits(limits);
  if (!isRecord(value)) corrupt("must be a map");
  onlyKeys(value, ["v", "size", "mediaType", "chunks", "tensors"], "manifest");
  if (value.v !== MANIFEST_VERSION) corrupt(`unsupported version ${String(value.v)} (expected ${MANIFEST_VERSION})`);
  const size = uint(value.size, "size");
  const { mediaType, chunks } = value;
  if (typeof mediaType !== "string" || mediaType.length > MAX_MEDIA_TYPE_LENGTH || !MEDIA_TYPE.test(mediaType)) {
    corrupt(`mediaType must be 1..${MAX_MEDIA_TYPE_LENGTH} printable ASCII characters`);
  }
  if (!Array.isArray(chunks)) corrupt("chunks must be an array");
  if (chunks.length > l.maxChunks) corrupt(`${chunks.length} chunks; the limit is ${l.maxChunks}`);
  let total = 0;
  const out: ManifestChunk[] = new Array(chunks.length);
  for (let i = 0; i < chunks.length; i++) {
    const c: unknown = chunks[i];
    if (!Array.isArray(c) && !isRecord(c)) corrupt(`chunks[${i}] must be [hash, length]`);
    const hash: unknown = Array.isArray(c) ? c[0] : c.hash;
    const length: unknown = Array.isArray(c) ? c[1] : c.length;
    if (Array.isArray(c) && c.length !== 2) corrupt(`chunks[${i}] must be [hash, length]`);
    if (!(hash instanceof Uint8Array) || hash.length !== CHUNK_HASH_BYTES) corrupt(`chunks[${i}] hash must be ${CHUNK_HASH_BYTES} bytes`);
    const n = uint(length, `chunks[${i}] length`);
    if (n < 1 || n > l.maxChunkBytes) corrupt(`chunks[${i}] length ${n} is outside [1, ${l.maxChunkBytes}]`);
    total += n;
    out[i] = { hash, length: n };
  }
  if (total !== size) corrupt(`size ${size} is not the sum of the chunk lengths (${total})`);
  if (value.tensors === undefined) return { v: MANIFEST_VERSION, size, mediaType, chunks: out };
  if (!isRecord(value.tensors)) corrupt("tensors must be a map");
  const names = Object.keys(value.tensors);
  if (names.length > l.maxTensors) corrupt(`${names.length} tensors; the limit is ${l.maxTensors}`);
  const tensors: Record<string, ManifestTensor> = Object.create(null) as Record<string, ManifestTensor>;
  for (const name of names) tensors[name] = validateTensor(name, value.tensors[name], size);
  let reach = 0;
  for (const [name, t] of sortedTensors(tensors)) {
    if (t.begin < reach) corrupt(`tensor '${name}' [${t.begin}, ${t.end}) overlaps another tensor`);
    reach = Math.max(reach, t.end);
  }
  return { v: MANIFEST_VERSION, size, mediaType, chunks: out, tensors };
}

/** The canonical encoding of a (validated) manifest. */
export function encodeManifest(manifest: Manifest, limits?: Partial<ManifestLimits>): Uint8Array {
  const m = validateManifest(manifest, limits);
  const w = new MsgpackWriter(64 + m.chunks.length * 40);
  w.map(m.tensors ? 5 : 4);
  w.str("v").uint(m.v);
  w.str("size").uint(m.size);
  w.str("mediaType").str(m.mediaType);
  w.str("chunks").array(m.chunks.length);
  for (const c of m.chunks) w.array(2).bin(c.hash).uint(c.length);
  if (m.tensors) {
    const tensors = sortedTensors(m.tensors);
    w.str("tensors").map(tensors.length);
    for (const [name, t] of tensors) {
      w.str(name).map(4);
      w.str("dtype").str(t.dtype);
      w.str("shape").array(t.shape.length);
      for (const d of t.shape) w.uint(d);
      w.str("begin").uint(t.begin);
      w.str("end").uint(t.end);
    }
  }
  const bytes = w.bytes();
  const max = resolveLimits(limits).maxManifestBytes;
  if (bytes.length > max) throw new StrataError("PAYLOAD_TOO_LARGE", `manifest encodes to ${bytes.length} bytes; the limit is ${max}`);
  return bytes;
}


/** Decodes and validates manifest bytes; anything but a canonical, valid manifest is rejected. */
export function decodeManifest(bytes: Uint8Array, limits?: Partial<ManifestLimits>): Manifest {
  const l = resolveLimits(limits);
  if (!(bytes instanceof Uint8Array)) throw new StrataError("BAD_REQUEST", "manifest must be bytes");
  if (bytes.length > l.maxManifestBytes) throw new StrataError("PAYLOAD_TOO_LARGE", `manifest is ${bytes.length} bytes; the limit is ${l.maxManifestBytes}`);
  let value: unknown;
  try {
    const decoder = new Decoder({
      maxStrLength: Math.max(MAX_TENSOR_NAME_BYTES, MAX_MEDIA_TYPE_LENGTH),
      maxBinLength: CHUNK_HASH_BYTES,
      maxArrayLength: Math.max(l.maxChunks, MAX_TENSOR_DIMS),
      maxMapLength: Math.max(l.maxTensors, 5),
      maxExtLength: 0,
    });
    value = decoder.decode(bytes);
  } catch (e) {
    corrupt(`not a MessagePack manifest: ${(e as Error).message}`);
  }
  const manifest = validateManifest(value, l);
  if (!equalBytes(encodeManifest(manifest, l), bytes)) corrupt("not in canonical encoding (key order, shortest forms, tensor order)");
  return manifest;
}

/** The manifest id: lowercase hex BLAKE3-256 of its encoding. */
export function manifestId(encoded: Uint8Array): string {
  return bytesToHex(blake3(encoded));
}

/** Start offset of every chunk in the artefact, plus the artefact size at the end. */
export function chunkOffsets(manifest: Manifest): Float64Array {
  const offsets = new Float64Array(manifest.chunks.length + 1);
  for (let i = 0; i < manifest.chunks.length; i++) offsets[i + 1] = offsets[i]! + manifest.chunks[i]!.length;
  return offsets;
}

/** Index of the chunk holding byte `position` (0 <= position < size), by binary search. */
export function chunkAt(offsets: Float64Array, position: number): number {
  let lo = 0;
  let hi = offsets.length - 2;
  while (lo < hi) {
    const mid = (lo + hi + 1) >>> 1;
    if (offsets[mid]! <= position) lo = mid;
    else hi = mid - 1;
  }
  return lo;
}

/** A manifest's tensor index from a safetensors header: each tensor's absolute byte range in the file. */
export function manifestTensorIndex(header: SafetensorsHeader): Record<string, ManifestTensor> {
  const tensors: Record<string, ManifestTensor> = Object.create(null) as Record<string, ManifestTensor>;
  for (const t of header.tensors) {
    tensors[t.name] = { dtype: t.dtype, shape: t.shape, begin: header.dataStart + t.begin, end: header.dataStart + t.end };
  }
  return tensors;
}
