// Which chunks an in-memory pull downloads: each distinct chunk once, with every offset where it
// goes, grouped into /v1/chunks/get batches bounded in chunks and bytes.
import { bytesToHex } from "../../core/hex.ts";
import type { Manifest } from "../../core/manifest.ts";
import type { ExpectedChunk } from "../artefacts/verified-frames.ts";

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

export function batches(chunks: readonly PlannedChunk[], maxChunks: number, maxBytes: number): PlannedChunk[][] {
  const out: PlannedChunk[][] = [];
  let current: PlannedChunk[] = [];
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
