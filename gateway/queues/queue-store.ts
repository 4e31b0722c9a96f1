// Queue groups in the metadata database: loaded once at start; each request's changes are taken
// as a snapshot of rows and written (with the snapshots of concurrent requests, write-batcher.ts)
// in one transaction before it is answered: an ack is durable before its answer. A settled
// record's row is deleted; rows exist only for delivered, unsettled records.
import type { InStatement } from "@libsql/client";
import { eq } from "drizzle-orm";
import { z } from "zod";
import { invariant } from "../../core/errors.ts";
import type { Database } from "../db/database.ts";
import { queueCursors, queueRecords, queues } from "../db/schema.ts";
import { isSettled, type QueuedRecord, type QueuedRecordState } from "./queued-record.ts";
import { emptyPartition, partitionKey, type QueueChanges, type QueueState } from "./queue-state.ts";
import { deleteRecords, upsertCursors, upsertQueue, upsertRecords } from "./queue-sql.ts";
import type { QueueConfig } from "./queue-wire.ts";

const jitter = z.enum(["full", "equal", "none"]);

type RecordRow = typeof queueRecords.$inferInsert;
type CursorRow = typeof queueCursors.$inferInsert;
type QueueRow = typeof queues.$inferInsert;
type RecordChange = { readonly upsert: RecordRow } | { readonly delete: { readonly stream: string; readonly partition: number; readonly offset: number } };

/** The rows one request's changes leave, as they were when it made them. */
export interface WriteSet {
  readonly group: string;
  /** The queue's own row, when its configuration changed or it was never written. */
  readonly queue: QueueRow | undefined;
  readonly cursors: readonly CursorRow[];
  readonly records: readonly RecordChange[];
}

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

function configRow(group: string, config: QueueConfig, createdAt: number): QueueRow {
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

  private readonly db: Database["db"];
  /** The client under drizzle: the write path sends its statements in one batch. */
  private readonly client: Database["client"];

  constructor(database: Pick<Database, "db" | "client">) {
    this.db = database.db;
    this.client = database.client;
  }

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

  /** The rows a request's changes leave, taken when the request made them (written later, in order). */
  snapshot(state: QueueState, changes: QueueChanges): WriteSet {
    const { group } = state;
    const writeQueue = changes.configChanged || !this.stored.has(group);
    return {
      group,
      queue: writeQueue ? configRow(group, state.config, state.createdAt) : undefined,
      cursors: [...changes.partitions].map((p) => ({
        group,
        stream: p.stream,
        partition: p.partition,
        cursor: p.cursor,
        acked: p.acked,
        deadLettered: p.deadLettered,
        redelivered: p.redelivered,
        filtered: p.filtered,
        dlqSeq: p.dlqSeq,
      })),
      records: [...changes.records].map((r) => (isSettled(r) ? { delete: { stream: r.stream, partition: r.partition, offset: r.offset } } : { upsert: recordRow(group, r) })),
    };
  }

  /** Writes snapshots of one group in one transaction; a later snapshot's row replaces an earlier one's. */
  async write(sets: readonly WriteSet[]): Promise<void> {
    if (sets.length === 0) return;
    const group = sets[0]!.group;
    let queue: QueueRow | undefined;
    const cursors = new Map<string, CursorRow>();
    const records = new Map<string, RecordChange>();
    for (const set of sets) {
      invariant(set.group === group, `one queue write mixes groups ${group} and ${set.group}`);
      queue = set.queue ?? queue;
      for (const c of set.cursors) cursors.set(partitionKey(c.stream, c.partition), c);
      for (const r of set.records) {
        const at = "delete" in r ? r.delete : r.upsert;
        records.set(`${partitionKey(at.stream, at.partition)}\u0000${at.offset}`, r);
      }
    }
    if (queue === undefined && cursors.size === 0 && records.size === 0) return;
    const upserts: RecordRow[] = [];
    const deletes = new Map<string, { stream: string; partition: number; offsets: number[] }>();
    for (const r of records.values()) {
      if ("upsert" in r) {
        upserts.push(r.upsert);
        continue;
      }
      const key = partitionKey(r.delete.stream, r.delete.partition);
      const entry = deletes.get(key) ?? { stream: r.delete.stream, partition: r.delete.partition, offsets: [] };
      entry.offsets.push(r.delete.offset);
      deletes.set(key, entry);
    }
    // One batch: BEGIN IMMEDIATE, the statements, COMMIT (fsynced) in one call on one connection.
    const statements: InStatement[] = [];
    if (queue !== undefined) statements.push(upsertQueue(queue));
    statements.push(...upsertCursors([...cursors.values()]), ...upsertRecords(upserts));
    for (const { stream, partition, offsets } of deletes.values()) statements.push(...deleteRecords(group, stream, partition, offsets));
    await this.client.batch(statements, "write");
    this.stored.add(group);
  }
}
