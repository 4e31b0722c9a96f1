// Limits of the service layer, enforced where data enters. Storage limits live with the storage engine.
import type { PublishLimits } from "../../core/log/publish-request.ts";

export interface ServiceLimits extends PublishLimits {
  /** Largest request body, in bytes (checked before the body is parsed). */
  readonly maxRequestBytes: number;
  /** Largest encoded record (key, headers and fields), in bytes. */
  readonly maxRecordBytes: number;
  /** Most partitions a stream may have. */
  readonly maxPartitions: number;
  /** Most streams one gateway holds. */
  readonly maxStreams: number;
  /** Most records and bytes one fetch may ask for. */
  readonly maxFetchRecords: number;
  readonly maxFetchBytes: number;
  /** Longest long-poll. */
  readonly maxWaitMs: number;
  /** Most long-polls waiting at once, gateway-wide. */
  readonly maxWaiters: number;
}

export const DEFAULT_SERVICE_LIMITS: ServiceLimits = {
  maxRequestBytes: 64 * 1024 * 1024,
  maxRecordBytes: 8 * 1024 * 1024,
  maxBatchRecords: 10_000,
  maxHeaders: 64,
  maxKeyBytes: 4096,
  maxPartitions: 1024,
  maxStreams: 10_000,
  maxFetchRecords: 10_000,
  maxFetchBytes: 64 * 1024 * 1024,
  maxWaitMs: 30_000,
  maxWaiters: 10_000,
};
