// Artefact transfer for training jobs, edge nodes and the CLI: push a file as a content-addressed
// artefact and publish its ArtefactRef on a stream; pull the latest (or a given) artefact through
// a local chunk cache. See docs/artefact-protocol.md for the wire contract.
export { type PushOptions, type PushSummary, pushArtefact, ARTEFACT_FIELD, DEFAULT_MEDIA_TYPE, SAFETENSORS_MEDIA_TYPE } from "./push.ts";
export { type PullOptions, type PullSummary, pullArtefact } from "./pull.ts";
export { ChunkCache, type ChunkCacheStats } from "./chunk-cache.ts";
export { type TransferPhase, type TransferProgress, type ProgressListener, type TransferSummary, summaryJson } from "./progress.ts";
export { HARD_LIMITS } from "./limits.ts";
export { DEFAULT_CACHE_MAX_BYTES, DEFAULT_TRANSFER_LIMITS, type TransferLimits } from "./transfer-limits.ts";
export { latestArtefact, type LocatedArtefact, type RecordPosition } from "./stream-api.ts";
export { MissingChunksError } from "./artefact-api.ts";
export { TruncatedBodyError } from "./verified-frames.ts";
