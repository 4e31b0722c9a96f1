// Measures chunk download rates over two chunk sources (QUIC and HTTP to the same gateway) and
// picks the faster for bulk transfers. A probe downloads at most PROBE_BYTES of an artefact's
// chunks (verified, then dropped) from each source twice, in the order A B B A so neither gains
// from going second (warm gateway cache, congestion window), and keeps each source's best run.
import type { Manifest } from "../../core/artefacts/manifest.ts";
import type { ChunkSource } from "../artefacts/chunk-source.ts";
import type { ExpectedChunk } from "../artefacts/verified-frames.ts";

/** Bytes per probe run (each source runs twice): bounded cost. */
export const PROBE_BYTES = 2 * 1024 * 1024;
/** An artefact smaller than this says too little about throughput: no probe. */
export const MIN_PROBE_BYTES = 512 * 1024;
/** How long a measurement stands before the next pull measures again. */
export const REMEASURE_MS = 10 * 60_000;

/** The first chunks of `manifest` up to PROBE_BYTES (distinct; at least one). */
export function probeChunks(manifest: Manifest): ExpectedChunk[] {
  const out: ExpectedChunk[] = [];
  const seen = new Set<string>();
  let bytes = 0;
  for (const c of manifest.chunks) {
    if (out.length > 0 && bytes + c.length > PROBE_BYTES) break;
    const key = c.hash.join(",");
    if (seen.has(key)) continue;
    seen.add(key);
    out.push({ hash: c.hash, length: c.length });
    bytes += c.length;
  }
  return out;
}

/** MB/s (10^6 bytes per second) of one download of `chunks` from `source`. */
export async function timeDownload(source: ChunkSource, chunks: readonly ExpectedChunk[], signal: AbortSignal): Promise<number> {
  const bytes = chunks.reduce((n, c) => n + c.length, 0);
  const started = performance.now();
  await source.chunks(chunks, async () => undefined, signal);
  const seconds = Math.max((performance.now() - started) / 1000, 1e-6);
  return bytes / seconds / 1e6;
}

export interface ProbeResult {
  readonly a: number;
  readonly b: number;
}

/** Best MB/s of each source over the runs A B B A. */
export async function probe(a: ChunkSource, b: ChunkSource, chunks: readonly ExpectedChunk[], signal: AbortSignal): Promise<ProbeResult> {
  const a1 = await timeDownload(a, chunks, signal);
  const b1 = await timeDownload(b, chunks, signal);
  const b2 = await timeDownload(b, chunks, signal);
  const a2 = await timeDownload(a, chunks, signal);
  return { a: Math.max(a1, a2), b: Math.max(b1, b2) };
}
