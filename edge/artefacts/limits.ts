// Every limit of the artefact client, in one place. Callers may lower or raise the tunable ones
// per call (push/pull options); the protocol bounds are fixed.
import { StrataError } from "../../core/errors.ts";

export interface TransferLimits {
  /** Requests in flight at once (uploads for push, downloads for pull). */
  readonly concurrency: number;
  /** Chunk bytes held in memory for requests in flight, summed over all of them. */
  readonly maxBytesInFlight: number;
  /** Hashes per `POST /v1/chunks/missing`. */
  readonly missingBatchHashes: number;
  /** Chunk bytes per `PUT /v1/chunks` or `POST /v1/chunks/get`. */
  readonly batchBytes: number;
  /** Chunks per `PUT /v1/chunks` or `POST /v1/chunks/get`. */
  readonly batchChunks: number;
  /** Bytes read from the file per read call while chunking or assembling. */
  readonly readBytes: number;
  /** How long one HTTP request may take before it is abandoned. */
  readonly requestTimeoutMs: number;
  /** Attempts per request on a network error or a 5xx answer (1 = no retry). */
  readonly attempts: number;
  /** Chunk bytes per second over the network, 0 for no limit. */
  readonly maxBytesPerSecond: number;
}

/** Under --limit-rate, how many seconds' worth of bytes may go in one burst (like curl's pacing). */
export const TRANSFER_BURST_SECONDS = 0.25;

export const DEFAULT_TRANSFER_LIMITS: TransferLimits = {
  concurrency: 4,
  maxBytesInFlight: 64 * 1024 * 1024,
  missingBatchHashes: 2048,
  batchBytes: 8 * 1024 * 1024,
  batchChunks: 1024,
  readBytes: 4 * 1024 * 1024,
  requestTimeoutMs: 120_000,
  attempts: 3,
  maxBytesPerSecond: 0,
};

/** Bounds nothing may exceed, whatever the options say. */
export const HARD_LIMITS = {
  /** Largest chunk accepted from a gateway or a cache (the chunker's maximum is 256 KiB; the core allows up to 1 GiB chunks, the client does not). */
  maxChunkBytes: 64 * 1024 * 1024,
  /** Largest manifest accepted from a gateway. */
  maxManifestBytes: 64 * 1024 * 1024,
  /** Most requests in flight. */
  maxConcurrency: 64,
  /** Records read back from the end of one partition when looking for the latest artefact. */
  maxRecordsScannedPerPartition: 1000,
  /** Records per read while scanning back. */
  scanPageRecords: 100,
} as const;

export const DEFAULT_CACHE_MAX_BYTES = 8 * 1024 * 1024 * 1024;

/** Merges options into limits, refusing nonsense (zero concurrency, a batch smaller than a chunk...). */
export function resolveLimits(overrides: Partial<TransferLimits> = {}): TransferLimits {
  const limits: { -readonly [K in keyof TransferLimits]: TransferLimits[K] } = { ...DEFAULT_TRANSFER_LIMITS, ...overrides };
  const positive = (name: keyof TransferLimits, max: number = Number.MAX_SAFE_INTEGER): void => {
    const v = limits[name];
    if (!Number.isSafeInteger(v) || v < 1 || v > max) throw new StrataError("BAD_REQUEST", `${name} must be an integer in [1, ${max}], got ${String(v)}`);
  };
  positive("concurrency", HARD_LIMITS.maxConcurrency);
  positive("maxBytesInFlight");
  positive("missingBatchHashes", 100_000);
  positive("batchBytes");
  positive("batchChunks", 100_000);
  positive("readBytes", 256 * 1024 * 1024);
  positive("requestTimeoutMs");
  positive("attempts", 10);
  if (!Number.isSafeInteger(limits.maxBytesPerSecond) || limits.maxBytesPerSecond < 0) {
    throw new StrataError("BAD_REQUEST", `maxBytesPerSecond must be a non-negative integer, got ${String(limits.maxBytesPerSecond)}`);
  }
  // Under a rate limit, batches shrink so a batch is never a long burst.
  if (limits.maxBytesPerSecond > 0) limits.batchBytes = Math.min(limits.batchBytes, Math.max(64 * 1024, Math.floor(limits.maxBytesPerSecond / 4)));
  return limits;
}
