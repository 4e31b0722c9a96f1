// The statements of a queue write, as plain parameterised SQL for one libSQL batch (one
// BEGIN IMMEDIATE … COMMIT, one fsync): multi-row upserts and one DELETE … IN per partition.
// Built by hand rather than through drizzle's query builder because it sits on the claim and ack
// path, where building the SQL cost more CPU than running it; the column lists follow
// queues-schema.ts (a test writes and reloads every column).
import type { InStatement, InValue } from "@libsql/client";
import type { queueCursors, queueRecords, queues } from "../db/schema.ts";

type QueueRow = typeof queues.$inferInsert;
type CursorRow = typeof queueCursors.$inferInsert;
type RecordRow = typeof queueRecords.$inferInsert;

/** Rows per multi-row statement (11 parameters a record row: far under SQLite's 32,766). */
const ROWS_PER_STATEMENT = 500;

/** `(?, ?, …), (?, ?, …)`: `rows` tuples of `columns` SQL parameters. */
function parameterRows(columns: number, rows: number): string {
  const row = `(${new Array<string>(columns).fill("?").join(", ")})`;
  return new Array<string>(rows).fill(row).join(", ");
}

function chunks<T>(items: readonly T[]): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += ROWS_PER_STATEMENT) out.push(items.slice(i, i + ROWS_PER_STATEMENT));
  return out;
}

export function upsertQueue(q: QueueRow): InStatement {
  return {
    sql:
      'INSERT INTO "queues" ("group", "max_deliveries", "backoff_initial_ms", "backoff_max_ms", "backoff_multiplier", "backoff_jitter", "visibility_ms", "created_at") VALUES (?, ?, ?, ?, ?, ?, ?, ?) ' +
      'ON CONFLICT ("group") DO UPDATE SET "max_deliveries" = excluded."max_deliveries", "backoff_initial_ms" = excluded."backoff_initial_ms", "backoff_max_ms" = excluded."backoff_max_ms", ' +
      '"backoff_multiplier" = excluded."backoff_multiplier", "backoff_jitter" = excluded."backoff_jitter", "visibility_ms" = excluded."visibility_ms"',
    args: [q.group, q.maxDeliveries, q.backoffInitialMs, q.backoffMaxMs, q.backoffMultiplier, q.backoffJitter, q.visibilityMs, q.createdAt],
  };
}

export function upsertCursors(rows: readonly CursorRow[]): InStatement[] {
  return chunks(rows).map((chunk) => ({
    sql:
      `INSERT INTO "queue_cursors" ("group", "stream", "partition", "cursor", "acked", "dead_lettered", "redelivered", "filtered", "dlq_seq") VALUES ${parameterRows(9, chunk.length)} ` +
      'ON CONFLICT ("group", "stream", "partition") DO UPDATE SET "cursor" = excluded."cursor", "acked" = excluded."acked", "dead_lettered" = excluded."dead_lettered", ' +
      '"redelivered" = excluded."redelivered", "filtered" = excluded."filtered", "dlq_seq" = excluded."dlq_seq"',
    args: chunk.flatMap((c): InValue[] => [c.group, c.stream, c.partition, c.cursor, c.acked, c.deadLettered, c.redelivered, c.filtered, c.dlqSeq]),
  }));
}

export function upsertRecords(rows: readonly RecordRow[]): InStatement[] {
  return chunks(rows).map((chunk) => ({
    sql:
      `INSERT INTO "queue_records" ("group", "stream", "partition", "offset", "state", "deliveries", "visible_at", "receipt", "deadline", "last_error", "dlq_seq") VALUES ${parameterRows(11, chunk.length)} ` +
      'ON CONFLICT ("group", "stream", "partition", "offset") DO UPDATE SET "state" = excluded."state", "deliveries" = excluded."deliveries", "visible_at" = excluded."visible_at", ' +
      '"receipt" = excluded."receipt", "deadline" = excluded."deadline", "last_error" = excluded."last_error", "dlq_seq" = excluded."dlq_seq"',
    args: chunk.flatMap((r): InValue[] => [r.group, r.stream, r.partition, r.offset, r.state, r.deliveries, r.visibleAt ?? null, r.receipt ?? null, r.deadline ?? null, r.lastError ?? null, r.dlqSeq ?? null]),
  }));
}

export function deleteRecords(group: string, stream: string, partition: number, offsets: readonly number[]): InStatement[] {
  return chunks(offsets).map((chunk) => ({
    sql: `DELETE FROM "queue_records" WHERE "group" = ? AND "stream" = ? AND "partition" = ? AND "offset" IN (${new Array<string>(chunk.length).fill("?").join(", ")})`,
    args: [group, stream, partition, ...chunk],
  }));
}
