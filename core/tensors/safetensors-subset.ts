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
