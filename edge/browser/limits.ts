// Limits of the browser client: kept small because everything is assembled in memory.
export const BROWSER_LIMITS = {
  /** How long one HTTP request may take before it is abandoned. */
  requestTimeoutMs: 120_000,
  /** Attempts of idempotent requests on network errors and 5xx answers. */
  attempts: 3,
  /** Chunk downloads in flight at once. */
  concurrency: 4,
  /** Chunk bytes per POST /v1/chunks/get. */
  batchBytes: 8 * 1024 * 1024,
  /** Chunks per POST /v1/chunks/get. */
  batchChunks: 1024,
  /** Largest artefact pulled into memory (1 GiB). */
  maxArtefactBytes: 1024 * 1024 * 1024,
} as const;
