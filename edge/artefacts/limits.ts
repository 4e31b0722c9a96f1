// Protocol bounds of the artefact client, which no option changes, and the defaults the browser
// client shares with push and pull. Kept free of the validation library: the browser bundle needs
// only these. The tunable limits are declared in transfer-limits.ts.

const MiB = 1024 * 1024;

/** Bounds nothing may exceed, whatever the options say. */
export const HARD_LIMITS = {
  /** Largest chunk accepted from a gateway or a cache (the chunker's maximum is 256 KiB; the core allows up to 1 GiB chunks, the client does not). */
  maxChunkBytes: 64 * MiB,
  /** Largest manifest accepted from a gateway. */
  maxManifestBytes: 64 * MiB,
  /** Most requests in flight. */
  maxConcurrency: 64,
  /** Records read back from the end of one partition when looking for the latest artefact. */
  maxRecordsScannedPerPartition: 1000,
  /** Records per read while scanning back. */
  scanPageRecords: 100,
} as const;

/** Defaults of the tunable transfer limits (transfer-limits.ts) that the browser client, which takes no options, uses as they are. */
export const TRANSFER_DEFAULTS = {
  /** Requests in flight at once. */
  concurrency: 4,
  /** Chunk bytes per `PUT /v1/chunks` or `POST /v1/chunks/get`. */
  batchBytes: 8 * MiB,
  /** Chunks per `PUT /v1/chunks` or `POST /v1/chunks/get`. */
  batchChunks: 1024,
  /** How long one HTTP request may take before it is abandoned. */
  requestTimeoutMs: 120_000,
  /** Attempts per request on a network error or a 5xx answer. */
  attempts: 3,
} as const;
