// Limits of the service layer, enforced where data enters: one declaration gives each its
// default, unit, range and meaning (README's limits table is generated from it). Cross-checks
// against the storage engine and the QUIC transport are in gateway/config.
import { DEFAULT_MAX_RECORD_BYTES, DEFAULT_PUBLISH_LIMITS } from "../../core/log/publish-request.ts";
import { StrataError } from "../../core/errors.ts";
import { defineLimits, type LimitValues } from "../../core/util/limit-spec.ts";

const KiB = 1024;
const MiB = 1024 * KiB;
const GiB = 1024 * MiB;

export const SERVICE_LIMITS = defineLimits("limits", {
  maxRequestBytes: { default: 64 * MiB, unit: "bytes", min: 1 * KiB, max: 1 * GiB, doc: "Largest request body, checked before the body is parsed." },
  // A JSON publish holds about five times its body while it is decoded and encoded (body, text,
  // parsed strings, decoded bytes, encoded records, batches): at 64 MiB one largest request runs
  // at a time, and with a collection after each (gateway/http/in-flight.ts) Bun stays near 650 MB.
  maxRequestBytesInFlight: { default: 64 * MiB, unit: "bytes", min: 1 * KiB, max: 64 * GiB, doc: "Request body bytes in flight across the gateway's HTTP routes (by Content-Length, or as a chunked body streams in); past it a request is refused with UNAVAILABLE (503) and Retry-After; at least maxRequestBytes." },
  maxRecordBytes: { default: DEFAULT_MAX_RECORD_BYTES, unit: "bytes", min: 1 * KiB, max: 512 * MiB, doc: "Largest encoded record (key, headers and fields)." },
  maxBatchRecords: { default: DEFAULT_PUBLISH_LIMITS.maxBatchRecords, unit: "count", min: 1, max: 1_000_000, doc: "Most records in one publish request." },
  maxHeaders: { default: DEFAULT_PUBLISH_LIMITS.maxHeaders, unit: "count", min: 0, max: 10_000, doc: "Most headers on one record." },
  maxKeyBytes: { default: DEFAULT_PUBLISH_LIMITS.maxKeyBytes, unit: "bytes", min: 1, max: 1 * MiB, doc: "Longest record key." },
  maxPartitions: { default: 1024, unit: "count", min: 1, max: 65_536, doc: "Most partitions of one stream." },
  maxGatewayPartitions: { default: 32_768, unit: "count", min: 1, max: 1_000_000, doc: "Most partitions of all streams together, gateway-wide; a create past it is BAD_REQUEST (400) and stores nothing." },
  maxStreams: { default: 10_000, unit: "count", min: 1, max: 1_000_000, doc: "Most streams one gateway holds." },
  maxFetchRecords: { default: 10_000, unit: "count", min: 1, max: 1_000_000, doc: "Most records one read returns." },
  defaultFetchRecords: { default: 1000, unit: "count", min: 1, max: 1_000_000, doc: "Records a read returns when it does not say (`max_records`); at most maxFetchRecords." },
  maxFetchBytes: { default: 16 * MiB, unit: "bytes", min: 64 * KiB, max: 1 * GiB, doc: "Most bytes one read returns (at least one record is returned whatever its size); also the storage engine's read bound." },
  defaultFetchBytes: { default: 4 * MiB, unit: "bytes", min: 1, max: 1 * GiB, doc: "Bytes a read returns when it does not say (`max_bytes`); at most maxFetchBytes." },
  maxWaitMs: { default: 30_000, unit: "ms", min: 0, max: 120_000, doc: "Longest long-poll (`wait_ms`); the HTTP idle timeout is derived from it." },
  maxWaiters: { default: 10_000, unit: "count", min: 1, max: 1_000_000, doc: "Long-polls waiting at once, gateway-wide." },
});

export type ServiceLimits = LimitValues<typeof SERVICE_LIMITS.specs>;

export const DEFAULT_SERVICE_LIMITS: ServiceLimits = SERVICE_LIMITS.defaults;

/** Fills in defaults and checks ranges and the defaults of a read against its bounds (BAD_REQUEST naming the keys). */
export function resolveServiceLimits(overrides: Partial<ServiceLimits> = {}): ServiceLimits {
  const limits = SERVICE_LIMITS.resolve(overrides);
  const atMost = (key: "defaultFetchRecords" | "defaultFetchBytes", bound: "maxFetchRecords" | "maxFetchBytes"): void => {
    if (limits[key] > limits[bound]) throw new StrataError("BAD_REQUEST", `limits.${key} (${limits[key]}) must be at most limits.${bound} (${limits[bound]})`);
  };
  atMost("defaultFetchRecords", "maxFetchRecords");
  atMost("defaultFetchBytes", "maxFetchBytes");
  if (limits.maxRequestBytesInFlight < limits.maxRequestBytes) {
    throw new StrataError("BAD_REQUEST", `limits.maxRequestBytesInFlight (${limits.maxRequestBytesInFlight}) must be at least limits.maxRequestBytes (${limits.maxRequestBytes})`);
  }
  return limits;
}
