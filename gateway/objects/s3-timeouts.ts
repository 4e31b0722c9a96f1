// How long the gateway waits for an S3-compatible store: validated bounds of the `s3` options,
// so a store that stops answering (frozen, partitioned) fails calls quickly instead of holding
// uploads and acks=durable appends for minutes.
import { z } from "zod";

/** Default bound of one S3 call, retries included: at most 10 s (hostile-store defaults, issue #9). */
export const DEFAULT_S3_REQUEST_TIMEOUT_MS = 10_000;
export const DEFAULT_S3_CONNECT_TIMEOUT_MS = 5_000;
export const DEFAULT_S3_MAX_ATTEMPTS = 3;

/** The timeout options of `s3` in the gateway configuration, with their allowed ranges. */
export const s3TimeoutsShape = {
  /** Longest one S3 call (each attempt, and all its retries together) may take; past it the call fails with STORAGE_ERROR. */
  requestTimeoutMs: z.number().int().min(100).max(600_000).optional(),
  /** Longest a connection to the store may take to open. */
  connectTimeoutMs: z.number().int().min(100).max(60_000).optional(),
  /** Attempts per call, including retries of throttling and 5xx answers (all within requestTimeoutMs). */
  maxAttempts: z.number().int().min(1).max(10).optional(),
};

export type S3Timeouts = { [K in keyof typeof s3TimeoutsShape]?: number };
