// Every limit of the edge node in one place. openEdge takes overrides of the tunable ones.
import { StrataError } from "../core/errors.ts";

const MiB = 1024 * 1024;

export interface EdgeLimits {
  /** Most records in one publish call (the gateway takes at most 10,000 per request). */
  readonly maxRecordsPerPublish: number;
  /** Largest MessagePack-encoded record: the gateway's limit is 8 MiB of its own encoding, so 64 KiB are left for the difference. */
  readonly maxRecordBytes: number;
  /** Largest publish call, encoded (it is sent whole, and a gateway batch holds at most 16 MiB). */
  readonly maxPublishBytes: number;
  /** Longest key and most headers of a record (as the gateway). */
  readonly maxKeyBytes: number;
  readonly maxHeaders: number;
  /** Outbox rows of one stream are sent together up to this many records and bytes per request (one row may exceed the bytes). */
  readonly maxRequestRecords: number;
  readonly maxRequestBytes: number;
  /** How long one request to the gateway may take. */
  readonly requestTimeoutMs: number;
  /** How long a QUIC handshake may take before publishes fall back to HTTP. */
  readonly quicConnectTimeoutMs: number;
  /** A QUIC connection silent this long is dropped: how fast a dead gateway is noticed mid-request. */
  readonly quicIdleTimeoutMs: number;
  /** Reconnect backoff: full jitter over an exponential from initial to max. */
  readonly backoffInitialMs: number;
  readonly backoffMaxMs: number;
  /** How often an idle loop looks for rows other processes appended. */
  readonly idlePollMs: number;
  /** How often pinned streams are checked for a new artefact. */
  readonly pinPollMs: number;
  /** Bound of the chunk cache (DATA_DIR/chunks) that pins pull through. */
  readonly chunkCacheMaxBytes: number;
}

export const DEFAULT_EDGE_LIMITS: EdgeLimits = {
  maxRecordsPerPublish: 10_000,
  maxRecordBytes: 8 * MiB - 64 * 1024,
  maxPublishBytes: 8 * MiB,
  maxKeyBytes: 4096,
  maxHeaders: 64,
  maxRequestRecords: 10_000,
  maxRequestBytes: 1 * MiB,
  requestTimeoutMs: 30_000,
  quicConnectTimeoutMs: 5_000,
  quicIdleTimeoutMs: 10_000,
  backoffInitialMs: 200,
  backoffMaxMs: 30_000,
  idlePollMs: 500,
  pinPollMs: 2_000,
  chunkCacheMaxBytes: 8 * 1024 * MiB,
};

/** Merges overrides, refusing values that are not positive integers. */
export function resolveEdgeLimits(overrides: Partial<EdgeLimits> = {}): EdgeLimits {
  const limits: EdgeLimits = { ...DEFAULT_EDGE_LIMITS, ...overrides };
  for (const [name, value] of Object.entries(limits)) {
    if (!Number.isSafeInteger(value) || value < 1) throw new StrataError("BAD_REQUEST", `edge limit ${name} must be a positive integer, got ${String(value)}`);
  }
  if (limits.maxRequestRecords > 10_000) throw new StrataError("BAD_REQUEST", "maxRequestRecords must be at most 10,000 (the gateway's request limit)");
  if (limits.backoffMaxMs < limits.backoffInitialMs) throw new StrataError("BAD_REQUEST", "backoffMaxMs must be at least backoffInitialMs");
  return limits;
}
