// Which chunks a pull downloads (each distinct chunk once, with every offset where it goes), and
// transfer batches bounded in chunks and bytes. Pure: shared by the file pull, push and the
// browser bundle.
import { bytesToHex } from "../../core/util/hex.ts";
import type { Manifest } from "../../core/artefacts/manifest.ts";
import type { ExpectedChunk } from "./verified-frames.ts";

export interface PlannedChunk extends ExpectedChunk {
  readonly hex: string;
  readonly offsets: number[];
}

export function plannedChunks(manifest: Manifest): PlannedChunk[] {
  const byHex = new Map<string, PlannedChunk>();
  let offset = 0;
  for (const c of manifest.chunks) {
    const hex = bytesToHex(c.hash);
    const known = byHex.get(hex);
    if (known) known.offsets.push(offset);
    else byHex.set(hex, { hash: c.hash, length: c.length, hex, offsets: [offset] });
    offset += c.length;
  }
  return [...byHex.values()];
}

export function batches<T extends { readonly length: number }>(chunks: readonly T[], maxChunks: number, maxBytes: number): T[][] {
  const out: T[][] = [];
  let current: T[] = [];
  let bytes = 0;
  for (const c of chunks) {
    if (current.length > 0 && (bytes + c.length > maxBytes || current.length >= maxChunks)) {
      out.push(current);
      current = [];
      bytes = 0;
    }
    current.push(c);
    bytes += c.length;
  }
  if (current.length > 0) out.push(current);
  return out;
}
