// Queue groups in the metadata database: loaded once at start, then each request's changes are
// written in one transaction before it is answered (an ack is durable before its answer). A
// settled record's row is deleted; rows exist only for delivered, unsettled records.
import { and, eq, inArray, sql } from "drizzle-orm";
import { z } from "zod";
import type { MetadataDb } from "../db/database.ts";
import { queueCursors, queueRecords, queues } from "../db/schema.ts";
import { isSettled, type QueuedRecord, type QueuedRecordState } from "./queued-record.ts";
import { emptyPartition, partitionKey, type QueueChanges, type QueueState } from "./queue-state.ts";
import type { QueueConfig } from "./queue-wire.ts";

const jitter = z.enum(["full", "equal", "none"]);
const ROWS_PER_STATEMENT = 500;

type RecordRow = typeof queueRecords.$inferInsert;

function recordRow(group: string, r: QueuedRecord): RecordRow {
  const s = r.state;
  return {
    group,
    stream: r.stream,
    partition: r.partition,
    offset: r.offset,
    state: s.kind,
    deliveries: r.deliveries,
    visibleAt: s.kind === "pending" ? s.visibleAt : null,
    receipt: s.kind === "in_flight" ? s.receipt : null,
    deadline: s.kind === "in_flight" ? s.deadline : null,
    lastError: r.lastError,
    dlqSeq: s.kind === "dead_lettering" ? s.dlqSeq : null,
  };
}

const storedState = z.discriminatedUnion("state", [
  z.object({ state: z.literal("pending"), visibleAt: z.number().int() }),
  z.object({ state: z.literal("in_flight"), receipt: z.string(), deadline: z.number().int() }),
  z.object({ state: z.literal("dead_lettering"), dlqSeq: z.number().int() }),
]);

function stateOf(row: typeof queueRecords.$inferSelect): QueuedRecordState {
  const s = storedState.parse(row);
  switch (s.state) {
    case "pending":
      return { kind: "pending", visibleAt: s.visibleAt };
    case "in_flight":
      return { kind: "in_flight", receipt: s.receipt, deadline: s.deadline };
    case "dead_lettering":
      return { kind: "dead_lettering", dlqSeq: s.dlqSeq };
  }
}

function configOf(row: typeof queues.$inferSelect): QueueConfig {
  return {
    max_deliveries: row.maxDeliveries,
    backoff: { initial_ms: row.backoffInitialMs, max_ms: row.backoffMaxMs, multiplier: row.backoffMultiplier, jitter: jitter.parse(row.backoffJitter) },
    visibility_ms: row.visibilityMs,
  };
}

function configRow(group: string, config: QueueConfig, createdAt: number): typeof queues.$inferInsert {
  return {
    group,
    maxDeliveries: config.max_deliveries,
    backoffInitialMs: config.backoff.initial_ms,
    backoffMaxMs: config.backoff.max_ms,
    backoffMultiplier: config.backoff.multiplier,
    backoffJitter: config.backoff.jitter,
    visibilityMs: config.visibility_ms,
    createdAt,
  };
}

export class QueueStore {
  /** Groups whose row exists: their row is rewritten only when their configuration changes. */
  private readonly stored = new Set<string>();

  constructor(private readonly db: MetadataDb) {}

  /** Every queue group, or the one named. */
  async load(only?: string): Promise<QueueState[]> {
    const queueRows = only === undefined ? await this.db.select().from(queues) : await this.db.select().from(queues).where(eq(queues.group, only));
    const states = new Map<string, QueueState>(queueRows.map((row) => [row.group, { group: row.group, config: configOf(row), createdAt: row.createdAt, partitions: new Map() }]));
    const cursorRows = only === undefined ? await this.db.select().from(queueCursors) : await this.db.select().from(queueCursors).where(eq(queueCursors.group, only));
    for (const row of cursorRows) {
      const state = states.get(row.group);
      if (!state) continue;
      const p = emptyPartition(row.stream, row.partition, row.cursor);
      Object.assign(p, { acked: row.acked, deadLettered: row.deadLettered, redelivered: row.redelivered, filtered: row.filtered, dlqSeq: row.dlqSeq });
      state.partitions.set(partitionKey(row.stream, row.partition), p);
    }
    const recordRows = only === undefined ? await this.db.select().from(queueRecords) : await this.db.select().from(queueRecords).where(eq(queueRecords.group, only));
    for (const row of recordRows) {
      const p = states.get(row.group)?.partitions.get(partitionKey(row.stream, row.partition));
      if (!p) continue;
      p.records.set(row.offset, { stream: row.stream, partition: row.partition, offset: row.offset, deliveries: row.deliveries, lastError: row.lastError, state: stateOf(row) });
    }
    for (const group of states.keys()) this.stored.add(group);
    return [...states.values()];
  }

  /** Writes a request's changes (config, cursors, records) in one transaction. */
  async apply(state: QueueState, changes: QueueChanges): Promise<void> {
    if (changes.empty) return;
    const { group } = state;
    await this.db.transaction(async (tx) => {
      if (changes.configChanged || !this.stored.has(group)) {
        const row = configRow(group, state.config, state.createdAt);
        await tx.insert(queues).values(row).onConflictDoUpdate({ target: queues.group, set: { ...row, createdAt: undefined } });
      }
      const cursors = [...changes.partitions].map((p) => ({
        group,
        stream: p.stream,
        partition: p.partition,
        cursor: p.cursor,
        acked: p.acked,
        deadLettered: p.deadLettered,
        redelivered: p.redelivered,
        filtered: p.filtered,
        dlqSeq: p.dlqSeq,
      }));
      for (let i = 0; i < cursors.length; i += ROWS_PER_STATEMENT) {
        await tx
          .insert(queueCursors)
          .values(cursors.slice(i, i + ROWS_PER_STATEMENT))
          .onConflictDoUpdate({
            target: [queueCursors.group, queueCursors.stream, queueCursors.partition],
            set: {
              cursor: sql`excluded.cursor`,
              acked: sql`excluded.acked`,
              deadLettered: sql`excluded.dead_lettered`,
              redelivered: sql`excluded.redelivered`,
              filtered: sql`excluded.filtered`,
              dlqSeq: sql`excluded.dlq_seq`,
            },
          });
      }
      const live: RecordRow[] = [];
      const settled = new Map<string, { stream: string; partition: number; offsets: number[] }>();
      for (const r of changes.records) {
        if (isSettled(r)) {
          const key = partitionKey(r.stream, r.partition);
          const entry = settled.get(key) ?? { stream: r.stream, partition: r.partition, offsets: [] };
          entry.offsets.push(r.offset);
          settled.set(key, entry);
        } else {
          live.push(recordRow(group, r));
        }
      }
      for (let i = 0; i < live.length; i += ROWS_PER_STATEMENT) {
        await tx
          .insert(queueRecords)
          .values(live.slice(i, i + ROWS_PER_STATEMENT))
          .onConflictDoUpdate({
            target: [queueRecords.group, queueRecords.stream, queueRecords.partition, queueRecords.offset],
            set: {
              state: sql`excluded.state`,
              deliveries: sql`excluded.deliveries`,
              visibleAt: sql`excluded.visible_at`,
              receipt: sql`excluded.receipt`,
              deadline: sql`excluded.deadline`,
              lastError: sql`excluded.last_error`,
              dlqSeq: sql`excluded.dlq_seq`,
            },
          });
      }
      for (const { stream, partition, offsets } of settled.values()) {
        for (let i = 0; i < offsets.length; i += ROWS_PER_STATEMENT) {
          await tx
            .delete(queueRecords)
            .where(and(eq(queueRecords.group, group), eq(queueRecords.stream, stream), eq(queueRecords.partition, partition), inArray(queueRecords.offset, offsets.slice(i, i + ROWS_PER_STATEMENT))));
        }
      }
    });
    this.stored.add(group);
  }
}
