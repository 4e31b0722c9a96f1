// A safetensors file holding only some tensors of another (partial pulls, docs/versions.md):
// the header rewritten with the kept tensors in their original order, offsets recomputed so they
// lie back to back, `__metadata__` kept; and where each kept tensor's bytes lie in the source.
// Pure: the caller fetches the source ranges and writes them at their output offsets.
import { invariant, StrataError } from "../errors.ts";
import type { SafetensorsHeader, TensorEntry } from "./safetensors.ts";

/** A run of source bytes [sourceBegin, sourceEnd) (absolute file offsets) written at `outOffset` of the subset file. */
export interface SubsetPiece {
  readonly name: string;
  readonly sourceBegin: number;
  readonly sourceEnd: number;
  readonly outOffset: number;
}

export interface SafetensorsSubset {
  /** The subset file's first bytes: u64 header length and the JSON header, space-padded to a multiple of 8. */
  readonly header: Uint8Array;
  /** The subset file's size in bytes. */
  readonly size: number;
  /** The kept tensors' bytes, in file order (zero-size tensors have none). */
  readonly pieces: readonly SubsetPiece[];
}

function encodeHeader(metadata: Readonly<Record<string, string>>, kept: readonly TensorEntry[], keepMetadata: boolean): { bytes: Uint8Array; offsets: number[] } {
  // Built by hand rather than through an object so a tensor named "__proto__" stays a key.
  const parts: string[] = [];
  if (keepMetadata) parts.push(`"__metadata__":${JSON.stringify(metadata)}`);
  const offsets: number[] = [];
  let offset = 0;
  for (const t of kept) {
    offsets.push(offset);
    parts.push(`${JSON.stringify(t.name)}:${JSON.stringify({ dtype: t.dtype, shape: t.shape, data_offsets: [offset, offset + (t.end - t.begin)] })}`);
    offset += t.end - t.begin;
  }
  const json = new TextEncoder().encode(`{${parts.join(",")}}`);
  const headerLength = json.byteLength + ((8 - (json.byteLength % 8)) % 8);
  const bytes = new Uint8Array(8 + headerLength).fill(0x20, 8 + json.byteLength);
  const dv = new DataView(bytes.buffer);
  dv.setUint32(0, headerLength % 2 ** 32, true);
  dv.setUint32(4, Math.floor(headerLength / 2 ** 32), true);
  bytes.set(json, 8);
  return { bytes, offsets };
}

/**
 * The subset of `source` holding the tensors `keep` accepts (at least one). `hasMetadata` says
 * whether the source header had a `__metadata__` entry (kept as it was, also when empty).
 */
export function safetensorsSubset(source: SafetensorsHeader, keep: (name: string) => boolean, hasMetadata = Object.keys(source.metadata).length > 0): SafetensorsSubset {
  const kept = [...source.tensors].sort((a, b) => a.begin - b.begin || a.end - b.end).filter((t) => keep(t.name));
  if (kept.length === 0) throw new StrataError("BAD_REQUEST", `no tensor of the ${source.tensors.length} matches the selection`);
  const { bytes, offsets } = encodeHeader(source.metadata, kept, hasMetadata);
  const pieces: SubsetPiece[] = [];
  let size = bytes.byteLength;
  kept.forEach((t, i) => {
    invariant(offsets[i] === size - bytes.byteLength, "subset tensors lie back to back");
    if (t.end > t.begin) pieces.push({ name: t.name, sourceBegin: source.dataStart + t.begin, sourceEnd: source.dataStart + t.end, outOffset: bytes.byteLength + offsets[i]! });
    size += t.end - t.begin;
  });
  return { header: bytes, size, pieces };
}

/** Most globs one selection takes, and their longest. */
export const MAX_TENSOR_GLOBS = 1_000;
export const MAX_TENSOR_GLOB_LENGTH = 1_024;

/** A matcher for tensor names: `*` any run of characters (dots included), `?` one character; a name matches when any glob does. */
export function tensorMatcher(globs: readonly string[]): (name: string) => boolean {
  if (globs.length === 0 || globs.length > MAX_TENSOR_GLOBS) throw new StrataError("BAD_REQUEST", `a tensor selection has 1..${MAX_TENSOR_GLOBS} globs, got ${globs.length}`);
  const patterns = globs.map((glob) => {
    if (glob.length === 0 || glob.length > MAX_TENSOR_GLOB_LENGTH) throw new StrataError("BAD_REQUEST", `a tensor glob has 1..${MAX_TENSOR_GLOB_LENGTH} characters`);
    const body = [...glob].map((c) => (c === "*" ? ".*" : c === "?" ? "." : c.replace(/[\\^$.|+()[\]{}]/g, "\\$&"))).join("");
    return new RegExp(`^${body}$`, "su");
  });
  return (name) => patterns.some((p) => p.test(name));
}

/**
 * The byte ranges [begin, end) of a file a subset needs, from a manifest's tensor index (absolute
 * offsets): the header (every byte before the first tensor) and the kept tensors' bytes.
 */
export function subsetSourceRanges(tensors: Readonly<Record<string, { readonly begin: number; readonly end: number }>>, size: number, keep: (name: string) => boolean): [number, number][] {
  const all = Object.entries(tensors);
  const dataStart = Math.min(size, ...all.map(([, t]) => t.begin));
  return [[0, dataStart], ...all.filter(([name, t]) => t.end > t.begin && keep(name)).map(([, t]): [number, number] => [t.begin, t.end])];
}
