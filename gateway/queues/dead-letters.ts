// Publishing a record that ran out of deliveries to `<stream>.dlq`. The publish is the gateway's
// own (no caller's scope, no producer-id owner) through an idempotent producer whose id is
// derived from (group, stream, partition) and whose seq was recorded with the dead-letter
// intent, so re-publishing after a crash is answered with the first publish's offsets instead
// of writing a duplicate (docs/queues.md).
import { createHash } from "node:crypto";
import { StrataError } from "../../core/errors.ts";
import type { Headers, LogRecord, RecordInput } from "../../core/log/record.ts";
import type { LogService } from "../streams/log-service.ts";
import type { StreamService } from "../streams/stream-service.ts";
import type { QueuedRecord } from "./queued-record.ts";
import { decodeRawRecord } from "./raw-record.ts";
import { isInternalStreamName } from "../../core/log/stream-name.ts";

/** Headers a dead letter carries besides the original record's own. */
export const DLQ_HEADERS = {
  group: "strata-dlq-group",
  stream: "strata-dlq-stream",
  partition: "strata-dlq-partition",
  offset: "strata-dlq-offset",
  deliveries: "strata-dlq-deliveries",
  error: "strata-dlq-error",
} as const;

export const DLQ_SUFFIX = ".dlq";

export function deadLetterStream(stream: string): string {
  return `${stream}${DLQ_SUFFIX}`;
}

/** A 48-bit producer id, the same at every start for the same (group, stream, partition). */
export function deadLetterProducerId(group: string, stream: string, partition: number): number {
  const digest = createHash("sha256").update(`strata-dlq\u0000${group}\u0000${stream}\u0000${partition}`).digest();
  return digest.readUIntBE(0, 6);
}

export class DeadLetters {
  constructor(
    private readonly streams: StreamService,
    private readonly log: LogService,
  ) {}

  /** Publishes `record` (state dead_lettering, seq `dlqSeq`) to its dead-letter stream; resolves once it is durable. */
  async publish(group: string, record: QueuedRecord, dlqSeq: number): Promise<void> {
    const target = deadLetterStream(record.stream);
    const partitions = await this.ensureStream(record.stream, target);
    const original = await this.original(record);
    const headers: Record<string, string | Uint8Array> = { ...(original?.headers ?? {}) };
    headers[DLQ_HEADERS.group] = group;
    headers[DLQ_HEADERS.stream] = record.stream;
    headers[DLQ_HEADERS.partition] = String(record.partition);
    headers[DLQ_HEADERS.offset] = String(record.offset);
    headers[DLQ_HEADERS.deliveries] = String(record.deliveries);
    headers[DLQ_HEADERS.error] = record.lastError ?? "";
    const input: RecordInput = { key: original?.key ?? null, partition: record.partition % partitions, headers: headers as Headers, fields: original?.fields ?? {} };
    const producer = { id: deadLetterProducerId(group, record.stream, record.partition), epoch: 0, seq: dlqSeq };
    try {
      await this.log.publish(target, { records: [input], producer }, "durable");
    } catch (e) {
      // Dead letters of one producer are published strictly in seq order, so a seq the log
      // calls too old to retry was published before (its batch has aged out of the producer state).
      if (e instanceof StrataError && e.code === "SEQUENCE_GAP" && e.message.includes("too old")) return;
      throw e;
    }
  }

  /** The dead-letter stream, created with the source's partition count when missing; its partition count. */
  private async ensureStream(source: string, target: string): Promise<number> {
    try {
      return this.streams.require(target).partitions;
    } catch (e) {
      if (!(e instanceof StrataError && e.code === "STREAM_NOT_FOUND")) throw e;
    }
    const partitions = this.streams.require(source).partitions;
    try {
      // The dead letters of an internal `_strata/` stream are internal too (no client could create their stream).
      return (await this.streams.create({ name: target, partitions }, isInternalStreamName(target))).partitions.length;
    } catch (e) {
      if (e instanceof StrataError && e.code === "STREAM_EXISTS") return this.streams.require(target).partitions;
      throw e;
    }
  }

  /** The original record, or undefined when retention removed it (the dead letter then has empty fields). */
  /** Read raw (in cluster mode from the partition's leader, with the gateway's credential) and decoded alone. */
  private async original(record: QueuedRecord): Promise<LogRecord | undefined> {
    try {
      const read = await this.log.readRaw({ stream: record.stream, partition: record.partition, offset: record.offset, maxRecords: 1 });
      const raw = read.records.find((r) => r.offset === record.offset);
      return raw === undefined ? undefined : decodeRawRecord(raw);
    } catch (e) {
      if (e instanceof StrataError && e.code === "OFFSET_OUT_OF_RANGE") return undefined;
      throw e;
    }
  }
}
