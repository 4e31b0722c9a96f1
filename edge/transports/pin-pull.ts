// A pin pull as every transport does it: pullArtefact with the request's cache, rate and abort
// signal; only where the chunks come from differs.
import type { ChunkSource } from "../artefacts/chunk-source.ts";
import { pullArtefact } from "../artefacts/pull.ts";
import type { PullRequest, PullResult } from "./transport.ts";

/** Over HTTP: the gateway's URL and the token (and CA) it is reached with; over QUIC: the connection's chunk source. */
export type PinSource = { readonly gateway: string; readonly token?: string; readonly ca?: string } | { readonly chunkSource: ChunkSource };

export async function pullPin(from: PinSource, request: PullRequest): Promise<PullResult> {
  const summary = await pullArtefact({
    ...from,
    source: request.artefact,
    out: request.out,
    cacheDir: request.cacheDir,
    cacheMaxBytes: request.cacheMaxBytes,
    limits: { maxBytesPerSecond: request.maxBytesPerSecond },
    // Under a rate limit, one download at a time: parallel bodies would sit in socket buffers ahead of the limiter.
    ...(request.maxBytesPerSecond > 0 || request.rate ? { concurrency: 1 } : {}),
    ...(request.rate ? { rate: request.rate } : {}),
    ...(request.signal ? { signal: request.signal } : {}),
  });
  return { artefact: summary.artefact, size: summary.bytesTotal, bytesTransferred: summary.bytesTransferred };
}
