// Limits of the browser client: kept small because everything is assembled in memory. It takes no
// options; its request sizes and retries are the push/pull defaults (edge/artefacts/limits.ts).
import { TRANSFER_DEFAULTS } from "../artefacts/limits.ts";

export const BROWSER_LIMITS = {
  /** How long one HTTP request may take before it is abandoned. */
  requestTimeoutMs: TRANSFER_DEFAULTS.requestTimeoutMs,
  /** Attempts of idempotent requests on network errors and 5xx answers. */
  attempts: TRANSFER_DEFAULTS.attempts,
  /** Chunk downloads in flight at once. */
  concurrency: TRANSFER_DEFAULTS.concurrency,
  /** Chunk bytes per POST /v1/chunks/get. */
  batchBytes: TRANSFER_DEFAULTS.batchBytes,
  /** Chunks per POST /v1/chunks/get. */
  batchChunks: TRANSFER_DEFAULTS.batchChunks,
  /** Largest artefact pulled into memory (1 GiB). */
  maxArtefactBytes: 1024 * 1024 * 1024,
} as const;
