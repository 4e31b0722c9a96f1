// Every limit of the edge node in one place: one declaration gives each its default, unit, range
// and meaning. openEdge takes overrides of them; the gateway's own bounds (core/log) set the
// defaults a request must stay under.
import { StrataError } from "../core/errors.ts";
import { DEFAULT_MAX_RECORD_BYTES, DEFAULT_PUBLISH_LIMITS } from "../core/log/publish-request.ts";
import { defineLimits, type LimitValues } from "../core/util/limit-spec.ts";
import { DEFAULT_CACHE_MAX_BYTES } from "./artefacts/transfer-limits.ts";

const KiB = 1024;
const MiB = 1024 * KiB;
const GiB = 1024 * MiB;
const TiB = 1024 * GiB;

export const EDGE_LIMITS = defineLimits("limits", {
  maxRecordsPerPublish: { default: DEFAULT_PUBLISH_LIMITS.maxBatchRecords, unit: "count", min: 1, max: 1_000_000, doc: "Most records in one publish call." },
  // The gateway bounds its own encoding of a record; 64 KiB are left for the difference.
  maxRecordBytes: { default: DEFAULT_MAX_RECORD_BYTES - 64 * KiB, unit: "bytes", min: 1, max: 512 * MiB, doc: "Largest MessagePack-encoded record." },
  maxPublishBytes: { default: 8 * MiB, unit: "bytes", min: 1, max: 1 * GiB, doc: "Largest publish call, encoded (it is sent whole, and a gateway batch holds at most 16 MiB)." },
  maxKeyBytes: { default: DEFAULT_PUBLISH_LIMITS.maxKeyBytes, unit: "bytes", min: 1, max: 1 * MiB, doc: "Longest record key (as the gateway)." },
  maxHeaders: { default: DEFAULT_PUBLISH_LIMITS.maxHeaders, unit: "count", min: 1, max: 10_000, doc: "Most headers of a record (as the gateway)." },
  maxRequestRecords: { default: DEFAULT_PUBLISH_LIMITS.maxBatchRecords, unit: "count", min: 1, max: DEFAULT_PUBLISH_LIMITS.maxBatchRecords, doc: "Outbox rows of one stream are sent together up to this many records per request (the gateway's request limit at most)." },
  maxRequestBytes: { default: 1 * MiB, unit: "bytes", min: 1, max: 1 * GiB, doc: "...and up to this many bytes per request (one row may exceed it)." },
  requestTimeoutMs: { default: 30_000, unit: "ms", min: 1, max: 3_600_000, doc: "How long one request to the gateway may take." },
  quicConnectTimeoutMs: { default: 5_000, unit: "ms", min: 1, max: 600_000, doc: "How long a QUIC handshake may take before publishes fall back to HTTP." },
  quicIdleTimeoutMs: { default: 10_000, unit: "ms", min: 1, max: 3_600_000, doc: "A QUIC connection silent this long is dropped: how fast a dead gateway is noticed mid-request." },
  backoffInitialMs: { default: 200, unit: "ms", min: 1, max: 3_600_000, doc: "Reconnect backoff: full jitter over an exponential from this..." },
  backoffMaxMs: { default: 30_000, unit: "ms", min: 1, max: 3_600_000, doc: "...to this." },
  idlePollMs: { default: 500, unit: "ms", min: 1, max: 3_600_000, doc: "How often an idle loop looks for rows other processes appended." },
  pinPollMs: { default: 2_000, unit: "ms", min: 1, max: 86_400_000, doc: "How often pinned streams are checked for a new artefact." },
  chunkCacheMaxBytes: { default: DEFAULT_CACHE_MAX_BYTES, unit: "bytes", min: 1, max: 64 * TiB, doc: "Bound of the chunk cache (DATA_DIR/chunks) that pins pull through." },
});

export type EdgeLimits = LimitValues<typeof EDGE_LIMITS.specs>;

export const DEFAULT_EDGE_LIMITS: EdgeLimits = EDGE_LIMITS.defaults;

/** Merges overrides, refusing unknown keys and values out of range (BAD_REQUEST naming the key, value and range). */
export function resolveEdgeLimits(overrides: Partial<EdgeLimits> = {}): EdgeLimits {
  const limits = EDGE_LIMITS.resolve(overrides);
  if (limits.backoffMaxMs < limits.backoffInitialMs) {
    throw new StrataError("BAD_REQUEST", `limits.backoffMaxMs (${limits.backoffMaxMs}) must be at least limits.backoffInitialMs (${limits.backoffInitialMs})`);
  }
  return limits;
}
