// The edge node's local schema (drizzle-orm on an embedded libSQL file in the data directory).
// Migrations are generated from this file by
// `npx drizzle-kit generate --config edge/drizzle.config.ts` into edge/db/migrations.
import { blob, index, integer, primaryKey, sqliteTable, text } from "drizzle-orm/sqlite-core";

/**
 * The producer identity of this data directory: one row (slot 1). `id` is random (53 bits), drawn
 * once when the directory is created, so two devices never share it; `epoch` is the epoch every
 * stream starts at.
 */
export const producerIdentity = sqliteTable("producer_identity", {
  slot: integer("slot").primaryKey(),
  id: integer("id").notNull(),
  epoch: integer("epoch").notNull(),
  createdAt: integer("created_at").notNull(),
});

/** Per stream: the (epoch, seq) the next request gets. Seq counts requests from 0 without gaps. */
export const producerStreams = sqliteTable("producer_streams", {
  stream: text("stream").primaryKey(),
  epoch: integer("epoch").notNull(),
  nextSeq: integer("next_seq").notNull(),
});

/**
 * Unacknowledged records, one row per publish call. `records` holds `record_count` MessagePack
 * records back to back; `bytes` is its length. `epoch`/`seq` are null until the row is first sent;
 * from then on every resend carries the same rows under the same (epoch, seq) until the gateway
 * acknowledges them and the rows are deleted.
 */
export const outbox = sqliteTable(
  "outbox",
  {
    id: integer("id").primaryKey({ autoIncrement: true }),
    stream: text("stream").notNull(),
    records: blob("records", { mode: "buffer" }).notNull(),
    recordCount: integer("record_count").notNull(),
    bytes: integer("bytes").notNull(),
    epoch: integer("epoch"),
    seq: integer("seq"),
    createdAt: integer("created_at").notNull(),
  },
  (t) => [index("outbox_stream_id").on(t.stream, t.id), index("outbox_stream_seq").on(t.stream, t.seq)],
);

/** Read positions of local consumers: the next offset to read per stream partition. */
export const subscriptions = sqliteTable(
  "subscriptions",
  {
    stream: text("stream").notNull(),
    partition: integer("partition").notNull(),
    offset: integer("offset").notNull(),
    updatedAt: integer("updated_at").notNull(),
  },
  (t) => [primaryKey({ columns: [t.stream, t.partition] })],
);

/** A pinned stream: its latest artefact is kept at `path` (absolute). `artefact` is null until the first pull. */
export const pins = sqliteTable(
  "pins",
  {
    stream: text("stream").notNull(),
    path: text("path").notNull(),
    artefact: text("artefact"),
    size: integer("size"),
    updatedAt: integer("updated_at"),
  },
  (t) => [primaryKey({ columns: [t.stream, t.path] })],
);

/** One row (slot 1): outbox totals (kept in the same transactions as the outbox) and the last sync. */
export const syncState = sqliteTable("sync_state", {
  slot: integer("slot").primaryKey(),
  outboxRecords: integer("outbox_records").notNull(),
  outboxBytes: integer("outbox_bytes").notNull(),
  lastSync: integer("last_sync"),
});
