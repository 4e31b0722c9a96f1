// Every bound of the artefact subsystem (chunk store, manifests, caches, GC): one declaration
// gives each its default, unit, range and meaning. resolveArtefactLimits rejects nonsensical
// values and combinations at start rather than failing under load.
import { DEFAULT_MANIFEST_LIMITS } from "../../core/artefacts/manifest.ts";
import { StrataError } from "../../core/errors.ts";
import { defineLimits, type LimitValues } from "../../core/util/limit-spec.ts";

const KiB = 1024;
const MiB = 1024 * KiB;
const GiB = 1024 * MiB;
const TiB = 1024 * GiB;

/** Bytes one hash takes in a JSON hash list: 64 hex characters, two quotes and a comma. */
const JSON_HASH_BYTES = 67;

export const ARTEFACT_LIMITS = defineLimits("artefacts", {
  maxChunkBytes: { default: DEFAULT_MANIFEST_LIMITS.maxChunkBytes, unit: "bytes", min: 1 * KiB, max: 64 * MiB, doc: "Largest chunk a manifest may list and the chunk store accepts." },
  maxChunks: { default: DEFAULT_MANIFEST_LIMITS.maxChunks, unit: "count", min: 1, max: 16_777_216, doc: "Most chunks one manifest lists." },
  maxTensors: { default: DEFAULT_MANIFEST_LIMITS.maxTensors, unit: "count", min: 0, max: 10_000_000, doc: "Most tensors one manifest indexes." },
  maxManifestBytes: { default: DEFAULT_MANIFEST_LIMITS.maxManifestBytes, unit: "bytes", min: 1 * KiB, max: 1 * GiB, doc: "Largest encoded manifest (the body of PUT /v1/manifests)." },
  maxHashesPerRequest: { default: 100_000, unit: "count", min: 1, max: 1_000_000, doc: "Hashes one /chunks/missing or /chunks/get request may carry." },
  maxHashRequestBytes: { default: 8 * MiB, unit: "bytes", min: 1 * KiB, max: 256 * MiB, doc: "Body of /chunks/missing and /chunks/get; must hold maxHashesPerRequest hex hashes in JSON." },
  maxChunksPerRequest: { default: 4096, unit: "count", min: 1, max: 65_536, doc: "Chunks one PUT /chunks may carry." },
  maxChunkRequestBytes: { default: 32 * MiB, unit: "bytes", min: 1 * KiB, max: 1 * GiB, doc: "Body of one PUT /chunks." },
  maxMissingListed: { default: 1000, unit: "count", min: 0, max: 100_000, doc: "Missing hashes listed in a 409 MISSING_CHUNKS answer." },
  packMaxBytes: { default: 64 * MiB, unit: "bytes", min: 1 * KiB, max: 1 * GiB, doc: "A pack is sealed and uploaded once it holds this many bytes." },
  packIdleMs: { default: 25, unit: "ms", min: 0, max: 60_000, doc: "...or this long after its last append; PUT /chunks answers once its pack is uploaded." },
  packMultipartMinBytes: { default: 16 * MiB, unit: "bytes", min: 0, max: 1 * GiB, doc: "Packs at least this big are uploaded as a multipart stream of their pieces, without a second copy." },
  maxPendingPackBytes: { default: 256 * MiB, unit: "bytes", min: 1 * KiB, max: 64 * GiB, doc: "Bytes accepted into packs but not yet uploaded; past this PUT /chunks fails with UNAVAILABLE." },
  readBlockBytes: { default: 4 * MiB, unit: "bytes", min: 1 * KiB, max: 256 * MiB, doc: "Unit of object-store reads and of the caches: aligned ranges of a pack." },
  memoryCacheBytes: { default: 256 * MiB, unit: "bytes", min: 0, max: 1 * TiB, doc: "In-memory cache of pack blocks (0 disables it)." },
  chunkCacheBytes: { default: 128 * MiB, unit: "bytes", min: 0, max: 1 * TiB, doc: "In-memory cache of verified chunks, served without hashing them again (0 disables it)." },
  diskCacheBytes: { default: 1 * GiB, unit: "bytes", min: 0, max: 64 * TiB, doc: "On-disk cache of pack blocks under dataDir/pack-cache (0 disables it)." },
  maxConcurrentReads: { default: 16, unit: "count", min: 1, max: 1024, doc: "Object-store GETs of pack blocks in flight at once, gateway-wide." },
  readAheadBytes: { default: 8 * MiB, unit: "bytes", min: 1, max: 1 * GiB, doc: "Chunk bytes a streaming response reads ahead of the one being sent (two blocks, so the next block's GET overlaps this one's)." },
  readAheadChunks: { default: 256, unit: "count", min: 1, max: 65_536, doc: "...and at most this many chunks." },
  // Larger responses stream with bounded memory; Bun.serve then drops the Content-Length and
  // frames them chunked (oven-sh/bun#10507), Deno and Node keep it.
  maxBufferedBodyBytes: { default: 8 * MiB, unit: "bytes", min: 0, max: 1 * GiB, doc: "Artefact responses up to this size are assembled in memory and sent with a body of known length." },
  manifestCacheBytes: { default: 64 * MiB, unit: "bytes", min: 0, max: 64 * GiB, doc: "Decoded manifests kept in memory, by encoded bytes." },
  gcGraceMs: { default: 60 * 60_000, unit: "ms", min: 0, max: 30 * 24 * 3_600_000, doc: "Manifests PUT and chunks stored or reported present this recently are never collected." },
  // setTimeout's longest delay.
  gcIntervalMs: { default: 6 * 60 * 60_000, unit: "ms", min: 0, max: 2 ** 31 - 1, doc: "GC runs by itself this often; 0 = only through POST /v1/admin/gc." },
  maxUploadBytes: { default: 16 * GiB, unit: "bytes", min: 1 * KiB, max: 16 * TiB, doc: "Largest body of POST /v1/artefacts (a raw upload, chunked by the gateway as it streams in); more is PAYLOAD_TOO_LARGE." },
  maxConcurrentUploads: { default: 8, unit: "count", min: 1, max: 1024, doc: "POST /v1/artefacts uploads served at once; past it UNAVAILABLE (each holds up to two chunk batches of maxChunkRequestBytes)." },
  // Delta uploads (POST /v1/artefacts?basis=): the basis is cut into fixed blocks of a size the client picks in this range.
  deltaMinBlockBytes: { default: 256 * KiB, unit: "bytes", min: 1 * KiB, max: 64 * MiB, doc: "Smallest block_size of GET /v1/artefacts/{id}/blocks and of a delta upload." },
  deltaMaxBlockBytes: { default: 16 * MiB, unit: "bytes", min: 1 * KiB, max: 64 * MiB, doc: "Largest block_size of a delta upload, and of one literal frame of its body." },
  deltaMaxBlocks: { default: 65_536, unit: "count", min: 1, max: 16_777_216, doc: "Most blocks a basis may have at the block_size asked (larger bases need a larger block_size)." },
  blockDigestCacheBytes: { default: 16 * MiB, unit: "bytes", min: 0, max: 1 * GiB, doc: "Block digests of bases kept in memory, by (basis, block_size, algorithm) (0 disables it)." },
  gcRewriteMinDeadFraction: { default: 0.2, unit: "fraction", min: 0, max: 1, doc: "A pack is rewritten when at least this fraction of its chunk bytes is dead; fully dead packs are always deleted." },
});

export type ArtefactLimits = LimitValues<typeof ARTEFACT_LIMITS.specs>;

export const DEFAULT_ARTEFACT_LIMITS: ArtefactLimits = ARTEFACT_LIMITS.defaults;

function bad(message: string): never {
  throw new StrataError("BAD_REQUEST", `artefact limits: ${message}`);
}

export function resolveArtefactLimits(overrides: Partial<ArtefactLimits> = {}): ArtefactLimits {
  let l: ArtefactLimits;
  try {
    l = ARTEFACT_LIMITS.resolve(overrides);
  } catch (e) {
    if (e instanceof StrataError) bad(e.message);
    throw e;
  }
  if (l.packMaxBytes < l.maxChunkBytes) bad(`packMaxBytes (${l.packMaxBytes}) must be at least maxChunkBytes (${l.maxChunkBytes})`);
  if (l.maxChunkRequestBytes < l.maxChunkBytes) bad(`maxChunkRequestBytes (${l.maxChunkRequestBytes}) must be at least maxChunkBytes (${l.maxChunkBytes})`);
  if (l.maxPendingPackBytes < l.maxChunkRequestBytes) bad(`maxPendingPackBytes (${l.maxPendingPackBytes}) must be at least maxChunkRequestBytes (${l.maxChunkRequestBytes})`);
  if (l.deltaMaxBlockBytes < l.deltaMinBlockBytes) bad(`deltaMaxBlockBytes (${l.deltaMaxBlockBytes}) must be at least deltaMinBlockBytes (${l.deltaMinBlockBytes})`);
  if (l.maxHashRequestBytes < JSON_HASH_BYTES * l.maxHashesPerRequest + 16) {
    bad(`maxHashRequestBytes (${l.maxHashRequestBytes}) must hold maxHashesPerRequest (${l.maxHashesPerRequest}) hex hashes in JSON: at least ${JSON_HASH_BYTES * l.maxHashesPerRequest + 16}`);
  }
  return l;
}
