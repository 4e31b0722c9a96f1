// Every bound of the artefact subsystem (chunk store, manifests, caches, GC), with its default.
// resolveArtefactLimits rejects nonsensical values at start rather than failing under load.
import { DEFAULT_MANIFEST_LIMITS, type ManifestLimits } from "../../core/artefacts/manifest.ts";
import { StrataError } from "../../core/errors.ts";

const KiB = 1024;
const MiB = 1024 * KiB;
const GiB = 1024 * MiB;

export interface ArtefactLimits extends ManifestLimits {
  /** Hashes one /chunks/missing or /chunks/get request may carry (100,000). */
  readonly maxHashesPerRequest: number;
  /** Body of /chunks/missing and /chunks/get (8 MiB: 100,000 hex hashes in JSON fit). */
  readonly maxHashRequestBytes: number;
  /** Chunks one PUT /chunks may carry (4,096). */
  readonly maxChunksPerRequest: number;
  /** Body of one PUT /chunks (32 MiB). */
  readonly maxChunkRequestBytes: number;
  /** Missing hashes listed in a 409 MISSING_CHUNKS answer (1,000). */
  readonly maxMissingListed: number;
  /** A pack is sealed and uploaded once it holds this many bytes (64 MiB). */
  readonly packMaxBytes: number;
  /** ...or this long after its last append (25 ms); PUT /chunks answers once its pack is uploaded. */
  readonly packIdleMs: number;
  /** Packs at least this big are uploaded as a multipart stream of their pieces, without a second copy (16 MiB). */
  readonly packMultipartMinBytes: number;
  /** Bytes accepted into packs but not yet uploaded; past this PUT /chunks fails with UNAVAILABLE (256 MiB). */
  readonly maxPendingPackBytes: number;
  /** Unit of object-store reads and of the caches: aligned ranges of a pack (4 MiB). */
  readonly readBlockBytes: number;
  /** In-memory cache of pack blocks (256 MiB; 0 disables it). */
  readonly memoryCacheBytes: number;
  /** In-memory cache of verified chunks, served without hashing them again (128 MiB; 0 disables it). */
  readonly chunkCacheBytes: number;
  /** On-disk cache of pack blocks under dataDir/pack-cache (1 GiB; 0 disables it). */
  readonly diskCacheBytes: number;
  /** Object-store GETs of pack blocks in flight at once, gateway-wide (16). */
  readonly maxConcurrentReads: number;
  /** Chunk bytes a streaming response reads ahead of the one being sent (8 MiB: two blocks, so the next block's GET overlaps this one's). */
  readonly readAheadBytes: number;
  /** ...and at most this many chunks (256). */
  readonly readAheadChunks: number;
  /**
   * Artefact responses up to this size are assembled in memory and sent with a body of known
   * length (8 MiB). Larger ones stream with bounded memory; Bun.serve then drops the
   * Content-Length and frames them chunked (oven-sh/bun#10507), Deno and Node keep it.
   */
  readonly maxBufferedBodyBytes: number;
  /** Decoded manifests kept in memory, by encoded bytes (64 MiB). */
  readonly manifestCacheBytes: number;
  /** Manifests PUT and chunks stored or reported present this recently are never collected (1 h). */
  readonly gcGraceMs: number;
  /** GC runs by itself this often (6 h); 0 = only through POST /v1/admin/gc. */
  readonly gcIntervalMs: number;
  /** A pack is rewritten when at least this fraction of its chunk bytes is dead (0.2); fully dead packs are always deleted. */
  readonly gcRewriteMinDeadFraction: number;
}

export const DEFAULT_ARTEFACT_LIMITS: ArtefactLimits = Object.freeze({
  ...DEFAULT_MANIFEST_LIMITS,
  maxHashesPerRequest: 100_000,
  maxHashRequestBytes: 8 * MiB,
  maxChunksPerRequest: 4096,
  maxChunkRequestBytes: 32 * MiB,
  maxMissingListed: 1000,
  packMaxBytes: 64 * MiB,
  packIdleMs: 25,
  packMultipartMinBytes: 16 * MiB,
  maxPendingPackBytes: 256 * MiB,
  readBlockBytes: 4 * MiB,
  memoryCacheBytes: 256 * MiB,
  chunkCacheBytes: 128 * MiB,
  diskCacheBytes: 1 * GiB,
  maxConcurrentReads: 16,
  readAheadBytes: 8 * MiB,
  readAheadChunks: 256,
  maxBufferedBodyBytes: 8 * MiB,
  manifestCacheBytes: 64 * MiB,
  gcGraceMs: 60 * 60_000,
  gcIntervalMs: 6 * 60 * 60_000,
  gcRewriteMinDeadFraction: 0.2,
});

function bad(message: string): never {
  throw new StrataError("BAD_REQUEST", `artefact limits: ${message}`);
}

export function resolveArtefactLimits(overrides: Partial<ArtefactLimits> = {}): ArtefactLimits {
  const l: ArtefactLimits = { ...DEFAULT_ARTEFACT_LIMITS, ...overrides };
  for (const [name, value] of Object.entries(l)) {
    if (name === "gcRewriteMinDeadFraction") continue;
    if (typeof value !== "number" || !Number.isSafeInteger(value) || value < 0) bad(`${name} must be a non-negative integer, got ${String(value)}`);
  }
  const fraction = l.gcRewriteMinDeadFraction;
  if (typeof fraction !== "number" || !(fraction >= 0 && fraction <= 1)) bad(`gcRewriteMinDeadFraction must be in [0, 1], got ${String(fraction)}`);
  // setTimeout's longest delay.
  if (l.gcIntervalMs > 2 ** 31 - 1) bad("gcIntervalMs must be at most 2^31 - 1");
  const positive = ["maxChunkBytes", "maxChunks", "maxManifestBytes", "maxHashesPerRequest", "maxHashRequestBytes", "maxChunksPerRequest", "maxChunkRequestBytes", "packMaxBytes", "maxPendingPackBytes", "readBlockBytes", "maxConcurrentReads", "readAheadBytes", "readAheadChunks"] as const;
  for (const name of positive) if (!Number.isSafeInteger(l[name]) || l[name] < 1) bad(`${name} must be a positive integer`);
  if (l.packMaxBytes < l.maxChunkBytes) bad("packMaxBytes must be at least maxChunkBytes");
  if (l.maxChunkRequestBytes < l.maxChunkBytes) bad("maxChunkRequestBytes must be at least maxChunkBytes");
  if (l.maxPendingPackBytes < l.maxChunkRequestBytes) bad("maxPendingPackBytes must be at least maxChunkRequestBytes");
  return Object.freeze(l);
}
