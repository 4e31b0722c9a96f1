// A queue group in memory: its configuration and, per (stream, partition), the cursor (next
// never-delivered offset), the settled counters and the delivered, unsettled records. Loaded
// from the database at start and written through it on every change (queue-store.ts).
import type { QueuedRecord } from "./queued-record.ts";
import type { QueueConfig } from "./queue-wire.ts";

export interface PartitionQueue {
  readonly stream: string;
  readonly partition: number;
  cursor: number;
  acked: number;
  deadLettered: number;
  redelivered: number;
  filtered: number;
  /** Next sequence of this partition's dead-letter producer. */
  dlqSeq: number;
  /** Delivered, unsettled records by offset (all below `cursor`). */
  readonly records: Map<number, QueuedRecord>;
}

export interface QueueState {
  readonly group: string;
  config: QueueConfig;
  readonly createdAt: number;
  /** By partitionKey(stream, partition). */
  readonly partitions: Map<string, PartitionQueue>;
}

export function partitionKey(stream: string, partition: number): string {
  return `${stream}\u0000${partition}`;
}

export function emptyPartition(stream: string, partition: number, cursor: number): PartitionQueue {
  return { stream, partition, cursor, acked: 0, deadLettered: 0, redelivered: 0, filtered: 0, dlqSeq: 0, records: new Map() };
}

/** What one request changed: written in one transaction. */
export class QueueChanges {
  readonly partitions = new Set<PartitionQueue>();
  readonly records = new Set<QueuedRecord>();
  configChanged = false;

  touch(partition: PartitionQueue, record?: QueuedRecord): void {
    this.partitions.add(partition);
    if (record) this.records.add(record);
  }

  get empty(): boolean {
    return this.partitions.size === 0 && this.records.size === 0 && !this.configChanged;
  }
}
