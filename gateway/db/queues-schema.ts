// Metadata tables of the queues subsystem (re-exported by schema.ts; migration 0004_queues.sql).
// A queue group's state is a cursor per partition (the next never-delivered offset) plus one row
// per delivered record that is not settled yet; settling (ack, dead letter) deletes the row and
// bumps a counter, so rows never pile up below the cursor (docs/queues.md).
import { integer, primaryKey, real, sqliteTable, text } from "drizzle-orm/sqlite-core";

/** A queue group and its configuration. */
export const queues = sqliteTable("queues", {
  group: text("group").primaryKey(),
  maxDeliveries: integer("max_deliveries").notNull(),
  backoffInitialMs: integer("backoff_initial_ms").notNull(),
  backoffMaxMs: integer("backoff_max_ms").notNull(),
  backoffMultiplier: real("backoff_multiplier").notNull(),
  backoffJitter: text("backoff_jitter").notNull(),
  visibilityMs: integer("visibility_ms").notNull(),
  createdAt: integer("created_at").notNull(),
});

/**
 * Per (group, stream, partition): the next never-delivered offset, the settled counters, and
 * `dlq_seq`, the next sequence of the partition's dead-letter producer.
 */
export const queueCursors = sqliteTable(
  "queue_cursors",
  {
    group: text("group").notNull().references(() => queues.group, { onDelete: "cascade" }),
    stream: text("stream").notNull(),
    partition: integer("partition").notNull(),
    cursor: integer("cursor").notNull(),
    acked: integer("acked").notNull(),
    deadLettered: integer("dead_lettered").notNull(),
    redelivered: integer("redelivered").notNull(),
    filtered: integer("filtered").notNull(),
    dlqSeq: integer("dlq_seq").notNull(),
  },
  (t) => [primaryKey({ columns: [t.group, t.stream, t.partition] })],
);

/**
 * A delivered, unsettled record. `state` is pending (waiting for `visible_at`), in_flight
 * (`receipt` until `deadline`, wall-clock ms) or dead_lettering (published to the DLQ with
 * producer seq `dlq_seq`, then deleted).
 */
export const queueRecords = sqliteTable(
  "queue_records",
  {
    group: text("group").notNull().references(() => queues.group, { onDelete: "cascade" }),
    stream: text("stream").notNull(),
    partition: integer("partition").notNull(),
    offset: integer("offset").notNull(),
    state: text("state").notNull(),
    deliveries: integer("deliveries").notNull(),
    visibleAt: integer("visible_at"),
    receipt: text("receipt"),
    deadline: integer("deadline"),
    lastError: text("last_error"),
    dlqSeq: integer("dlq_seq"),
  },
  (t) => [primaryKey({ columns: [t.group, t.stream, t.partition, t.offset] })],
);
