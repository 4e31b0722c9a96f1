// Forced chunk boundaries for safetensors files: the header (8-byte length + JSON) is one
// chunk and every tensor starts a new chunk. The header is parsed and validated by
// core/tensors/safetensors.ts; here we only need its length and the tensors' data offsets.
import { StrataError } from "../errors.ts";
import { DEFAULT_MAX_HEADER_BYTES, parseSafetensorsHeader } from "../tensors/safetensors.ts";

export interface ForcedCuts {
  /** End of the header chunk (8 + header length): bytes before it are never split. */
  headerEnd: number;
  /** Absolute offsets where a chunk must end, ascending, without duplicates. */
  cuts: number[];
}

/**
 * How many bytes of the file's start are needed to compute the cuts: 8 until the length
 * is known, then 8 + header length. Throws INVALID_SAFETENSORS for an oversized header.
 */
export function safetensorsPrefixNeeded(prefix: Uint8Array): number {
  if (prefix.length < 8) return 8;
  const dv = new DataView(prefix.buffer, prefix.byteOffset, 8);
  const n = dv.getUint32(4, true) * 2 ** 32 + dv.getUint32(0, true);
  if (n > DEFAULT_MAX_HEADER_BYTES) {
    throw new StrataError("INVALID_SAFETENSORS", `header length ${n} exceeds limit ${DEFAULT_MAX_HEADER_BYTES}`);
  }
  return 8 + n;
}

/** Cuts for a file starting with `prefix` (at least safetensorsPrefixNeeded(prefix) bytes). */
export function safetensorsCuts(prefix: Uint8Array): ForcedCuts {
  const header = parseSafetensorsHeader(prefix);
  const set = new Set<number>([header.dataStart]);
  for (const t of header.tensors) {
    if (t.end > t.begin) {
      set.add(header.dataStart + t.begin);
      set.add(header.dataStart + t.end);
    }
  }
  return { headerEnd: header.dataStart, cuts: [...set].sort((a, b) => a - b) };
}
