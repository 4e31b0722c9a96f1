// One delivered record of a queue group and its explicit state. Records never delivered have no
// state (they sit at or above the partition's cursor); settled records (acked, dead-lettered)
// leave memory and the database, counted by their partition. Every transition asserts its source
// state: a violation is a bug, not a client error.
import { invariant } from "../../core/errors.ts";

export type QueuedRecordState =
  /** Delivered before, waiting for redelivery from `visibleAt` (wall-clock ms). */
  | { readonly kind: "pending"; readonly visibleAt: number }
  /** Claimed by the holder of `receipt` until `deadline` (wall-clock ms). */
  | { readonly kind: "in_flight"; readonly receipt: string; readonly deadline: number }
  /** Out of deliveries: being published to the dead-letter stream with producer seq `dlqSeq`. */
  | { readonly kind: "dead_lettering"; readonly dlqSeq: number }
  | { readonly kind: "acked" }
  | { readonly kind: "dead_lettered" }
  /** Retention removed it from the log while it waited for redelivery: nothing left to deliver. */
  | { readonly kind: "removed" };

export interface QueuedRecord {
  readonly stream: string;
  readonly partition: number;
  readonly offset: number;
  /** Deliveries so far (1 once claimed the first time). */
  deliveries: number;
  lastError: string | null;
  state: QueuedRecordState;
}

/** A never-delivered record's first delivery. */
export function firstDelivery(stream: string, partition: number, offset: number, receipt: string, deadline: number): QueuedRecord {
  return { stream, partition, offset, deliveries: 1, lastError: null, state: { kind: "in_flight", receipt, deadline } };
}

/** A pending record whose time has come, delivered again. */
export function redeliver(record: QueuedRecord, receipt: string, deadline: number, now: number): void {
  invariant(record.state.kind === "pending" && record.state.visibleAt <= now, `redeliver ${describe(record)}: must be pending and due`);
  record.deliveries++;
  record.state = { kind: "in_flight", receipt, deadline };
}

export function ack(record: QueuedRecord): void {
  invariant(record.state.kind === "in_flight", `ack ${describe(record)}: must be in flight`);
  record.state = { kind: "acked" };
}

/** A failed delivery (nack or visibility expiry): back to pending at `visibleAt`. */
export function retryLater(record: QueuedRecord, visibleAt: number, error: string | null): void {
  invariant(record.state.kind === "in_flight", `retry ${describe(record)}: must be in flight`);
  if (error !== null) record.lastError = error;
  record.state = { kind: "pending", visibleAt };
}

/** A failed delivery that was the last allowed: to the dead-letter stream as producer seq `dlqSeq`. */
export function startDeadLetter(record: QueuedRecord, dlqSeq: number, error: string | null): void {
  invariant(record.state.kind === "in_flight", `dead-letter ${describe(record)}: must be in flight`);
  if (error !== null) record.lastError = error;
  record.state = { kind: "dead_lettering", dlqSeq };
}

export function finishDeadLetter(record: QueuedRecord): void {
  invariant(record.state.kind === "dead_lettering", `settle dead letter ${describe(record)}: must be dead-lettering`);
  record.state = { kind: "dead_lettered" };
}

export function removeByRetention(record: QueuedRecord): void {
  invariant(record.state.kind === "pending", `remove ${describe(record)}: must be pending`);
  record.state = { kind: "removed" };
}

/** Acked, dead-lettered and removed records are settled: they leave memory and the database. */
export function isSettled(record: QueuedRecord): boolean {
  return record.state.kind === "acked" || record.state.kind === "dead_lettered" || record.state.kind === "removed";
}

export function describe(record: QueuedRecord): string {
  return `${record.stream}/${record.partition}@${record.offset} (${record.state.kind}, delivery ${record.deliveries})`;
}
