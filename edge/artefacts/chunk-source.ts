// Where pullArtefact gets an artefact from: the latest ArtefactRef on a stream, a manifest
// (checked against its id), and chunks (each verified against its BLAKE3 before onChunk sees it).
// The HTTP source is the gateway's artefact routes; the edge's QUIC transport supplies another.
import type { Manifest } from "../../core/artefacts/manifest.ts";
import { getChunks, getManifest } from "./artefact-api.ts";
import type { ChunkHasher } from "./chunk-hasher.ts";
import type { GatewayHttp } from "./gateway-http.ts";
import { latestArtefact, type LocatedArtefact } from "./stream-api.ts";
import type { ExpectedChunk } from "./verified-frames.ts";

export interface ChunkSource {
  /** e.g. "http http://10.0.0.1:7070". */
  readonly description: string;
  /** The newest ArtefactRef in `field` of `stream` (NOT_FOUND / STREAM_NOT_FOUND when none). */
  latest(stream: string, field: string): Promise<LocatedArtefact>;
  /** The manifest whose bytes hash to `id`. */
  manifest(id: string): Promise<{ manifest: Manifest; bytes: Uint8Array }>;
  /**
   * Downloads `expected` in order, each verified, handing it to `onChunk`. A body cut short
   * throws TruncatedBodyError (the caller asks again for the rest).
   */
  chunks(expected: readonly ExpectedChunk[], onChunk: (index: number, bytes: Uint8Array) => Promise<void>, signal: AbortSignal): Promise<void>;
}

/** Paces bytes (a TokenBucket): resolves when `bytes` more fit the budget. */
export interface ByteRate {
  take(bytes: number, signal?: AbortSignal): Promise<void>;
}

/** The gateway's HTTP routes; chunk hashes run on `hasher` (default: the calling thread). */
export function httpChunkSource(http: GatewayHttp, hasher?: ChunkHasher): ChunkSource {
  return {
    description: `http ${http.baseUrl}`,
    latest: (stream, field) => latestArtefact(http, stream, field),
    manifest: (id) => getManifest(http, id),
    chunks: (expected, onChunk, signal) => getChunks(http, expected, onChunk, signal, hasher),
  };
}
