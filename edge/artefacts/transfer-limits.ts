// The tunable limits of the artefact client (push and pull): one declaration gives each its
// default, unit, range and meaning. Callers may lower or raise them per call (push/pull options).
import { defineLimits, type LimitValues } from "../../core/util/limit-spec.ts";
import { HARD_LIMITS, TRANSFER_DEFAULTS } from "./limits.ts";

const MiB = 1024 * 1024;
const GiB = 1024 * MiB;

export const TRANSFER_LIMITS = defineLimits("limits", {
  concurrency: { default: TRANSFER_DEFAULTS.concurrency, unit: "count", min: 1, max: HARD_LIMITS.maxConcurrency, doc: "Requests in flight at once (uploads for push, downloads for pull)." },
  maxBytesInFlight: { default: 64 * MiB, unit: "bytes", min: 1, max: 64 * GiB, doc: "Chunk bytes held in memory for requests in flight, summed over all of them." },
  missingBatchHashes: { default: 2048, unit: "count", min: 1, max: 100_000, doc: "Hashes per `POST /v1/chunks/missing`." },
  batchBytes: { default: TRANSFER_DEFAULTS.batchBytes, unit: "bytes", min: 1, max: 1 * GiB, doc: "Chunk bytes per `PUT /v1/chunks` or `POST /v1/chunks/get` (smaller under a rate limit)." },
  batchChunks: { default: TRANSFER_DEFAULTS.batchChunks, unit: "count", min: 1, max: 100_000, doc: "Chunks per `PUT /v1/chunks` or `POST /v1/chunks/get`." },
  readBytes: { default: 4 * MiB, unit: "bytes", min: 1, max: 256 * MiB, doc: "Bytes read from the file per read call while chunking or assembling." },
  requestTimeoutMs: { default: TRANSFER_DEFAULTS.requestTimeoutMs, unit: "ms", min: 1, max: 86_400_000, doc: "How long one HTTP request may take before it is abandoned." },
  attempts: { default: TRANSFER_DEFAULTS.attempts, unit: "count", min: 1, max: 10, doc: "Attempts per request on a network error or a 5xx answer (1 = no retry)." },
  maxBytesPerSecond: { default: 0, unit: "bytes", min: 0, max: 1024 * GiB, doc: "Chunk bytes per second over the network, 0 for no limit." },
});

export type TransferLimits = LimitValues<typeof TRANSFER_LIMITS.specs>;

/** Under --limit-rate, how many seconds' worth of bytes may go in one burst (like curl's pacing). */
export const TRANSFER_BURST_SECONDS = 0.25;

export const DEFAULT_TRANSFER_LIMITS: TransferLimits = TRANSFER_LIMITS.defaults;

/** Default bound of a local chunk cache (pull --cache, an edge node's DATA_DIR/chunks). */
export const DEFAULT_CACHE_MAX_BYTES = 8 * GiB;

/** Merges options into limits, refusing unknown keys and values out of range (BAD_REQUEST naming the key, value and range). */
export function resolveLimits(overrides: Partial<TransferLimits> = {}): TransferLimits {
  const limits = TRANSFER_LIMITS.resolve(overrides);
  // Under a rate limit, batches shrink so a batch is never a long burst.
  if (limits.maxBytesPerSecond === 0) return limits;
  return Object.freeze({ ...limits, batchBytes: Math.min(limits.batchBytes, Math.max(64 * 1024, Math.floor(limits.maxBytesPerSecond / 4))) });
}
