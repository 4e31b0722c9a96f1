// The outbox: records published locally and not yet acknowledged by the gateway. Appends check
// the disk bound and update the totals in one transaction. Sending takes a group of one stream's
// rows and stamps them with the stream's next (epoch, seq) in one transaction before anything
// goes out; a group keeps that stamp until its ack deletes it, so a resend after a crash of
// either side repeats exactly the same request and the gateway answers it from its memory.
import { and, asc, eq, isNotNull, isNull, lte, notInArray, sql } from "drizzle-orm";
import { StrataError, invariant } from "../../core/errors.ts";
import type { EdgeDatabase } from "../db/database.ts";
import { outbox, producerIdentity, producerStreams, syncState } from "../db/schema.ts";
import type { EncodedRecords } from "../records.ts";

/** Seq is a uint32 on the wire; past it the stream moves to the next epoch at seq 0. */
const MAX_SEQ = 0xffffffff;
const MAX_EPOCH = 0xffff;

export interface ProducerIdentity {
  readonly id: number;
  readonly epoch: number;
}

/** Rows of one stream sent as one request under one (epoch, seq). */
export interface OutboxGroup {
  readonly stream: string;
  readonly epoch: number;
  readonly seq: number;
  readonly records: EncodedRecords;
}

export interface GroupBounds {
  readonly maxRecords: number;
  readonly maxBytes: number;
}

export interface OutboxTotals {
  readonly records: number;
  readonly bytes: number;
  readonly lastSync: number | null;
}

function concat(rows: readonly { records: Uint8Array; recordCount: number }[]): EncodedRecords {
  const total = rows.reduce((n, r) => n + r.records.length, 0);
  const bytes = new Uint8Array(total);
  let at = 0;
  let count = 0;
  for (const r of rows) {
    bytes.set(r.records, at);
    at += r.records.length;
    count += r.recordCount;
  }
  return { count, bytes };
}

export class Outbox {
  readonly #db: EdgeDatabase;

  constructor(db: EdgeDatabase) {
    this.#db = db;
  }

  async identity(): Promise<ProducerIdentity> {
    return this.#db.serial.run(async () => {
      const [row] = await this.#db.db.select().from(producerIdentity).where(eq(producerIdentity.slot, 1));
      invariant(row, "producer identity row exists");
      return { id: row.id, epoch: row.epoch };
    });
  }

  /** Appends one publish; OUTBOX_FULL (nothing stored) when it would take the outbox past `maxBytes`. Returns the row id. */
  async append(stream: string, records: EncodedRecords, maxBytes: number): Promise<number> {
    return this.#db.serial.run(() =>
      this.#db.db.transaction(async (tx) => {
        const [totals] = await tx.select().from(syncState).where(eq(syncState.slot, 1));
        invariant(totals, "sync_state row exists");
        if (totals.outboxBytes + records.bytes.length > maxBytes) {
          throw new StrataError(
            "OUTBOX_FULL",
            `the outbox holds ${totals.outboxBytes} bytes in ${totals.outboxRecords} records; ${records.bytes.length} more would pass its bound of ${maxBytes} bytes`,
          );
        }
        const [row] = await tx
          .insert(outbox)
          .values({ stream, records: Buffer.from(records.bytes.buffer, records.bytes.byteOffset, records.bytes.byteLength), recordCount: records.count, bytes: records.bytes.length, createdAt: Date.now() })
          .returning({ id: outbox.id });
        await tx
          .update(syncState)
          .set({ outboxRecords: sql`${syncState.outboxRecords} + ${records.count}`, outboxBytes: sql`${syncState.outboxBytes} + ${records.bytes.length}` })
          .where(eq(syncState.slot, 1));
        invariant(row, "insert returned the row id");
        return row.id;
      }),
    );
  }

  /**
   * The next group to send, skipping streams in `exclude`: a group already stamped (sent before,
   * not acknowledged) comes first; otherwise the oldest unsent rows of one stream, up to `bounds`
   * (at least one row), are stamped with the stream's next (epoch, seq). Null when nothing is left.
   */
  async nextGroup(bounds: GroupBounds, exclude: readonly string[]): Promise<OutboxGroup | null> {
    return this.#db.serial.run(() =>
      this.#db.db.transaction(async (tx) => {
        const skip = exclude.length > 0 ? notInArray(outbox.stream, [...exclude]) : undefined;
        const [stamped] = await tx
          .select({ stream: outbox.stream, epoch: outbox.epoch, seq: outbox.seq })
          .from(outbox)
          .where(and(isNotNull(outbox.seq), skip))
          .orderBy(asc(outbox.id))
          .limit(1);
        if (stamped && stamped.epoch !== null && stamped.seq !== null) {
          const rows = await tx
            .select({ records: outbox.records, recordCount: outbox.recordCount })
            .from(outbox)
            .where(and(eq(outbox.stream, stamped.stream), eq(outbox.epoch, stamped.epoch), eq(outbox.seq, stamped.seq)))
            .orderBy(asc(outbox.id));
          return { stream: stamped.stream, epoch: stamped.epoch, seq: stamped.seq, records: concat(rows) };
        }
        // No stamped group outside `exclude`; a stream in `exclude` may still hold one, and must not get a second.
        const busy = tx.select({ stream: outbox.stream }).from(outbox).where(isNotNull(outbox.seq));
        const [oldest] = await tx
          .select({ stream: outbox.stream })
          .from(outbox)
          .where(and(isNull(outbox.seq), skip, notInArray(outbox.stream, busy)))
          .orderBy(asc(outbox.id))
          .limit(1);
        if (!oldest) return null;
        const stream = oldest.stream;
        // Sizes first: the blobs of rows that will not fit are never read.
        const candidates = await tx
          .select({ id: outbox.id, recordCount: outbox.recordCount, bytes: outbox.bytes })
          .from(outbox)
          .where(and(eq(outbox.stream, stream), isNull(outbox.seq)))
          .orderBy(asc(outbox.id))
          .limit(bounds.maxRecords);
        let last = candidates[0]!;
        let records = 0;
        let bytes = 0;
        for (const c of candidates) {
          if (records > 0 && (records + c.recordCount > bounds.maxRecords || bytes + c.bytes > bounds.maxBytes)) break;
          last = c;
          records += c.recordCount;
          bytes += c.bytes;
        }
        const position = await this.#nextPosition(tx, stream);
        const chosen = and(eq(outbox.stream, stream), isNull(outbox.seq), lte(outbox.id, last.id));
        const rows = await tx.select({ records: outbox.records, recordCount: outbox.recordCount }).from(outbox).where(chosen).orderBy(asc(outbox.id));
        await tx.update(outbox).set({ epoch: position.epoch, seq: position.seq }).where(chosen);
        return { stream, epoch: position.epoch, seq: position.seq, records: concat(rows) };
      }),
    );
  }

  /** Takes the stream's next (epoch, seq) and advances it. */
  async #nextPosition(tx: Parameters<Parameters<EdgeDatabase["db"]["transaction"]>[0]>[0], stream: string): Promise<{ epoch: number; seq: number }> {
    const [current] = await tx.select().from(producerStreams).where(eq(producerStreams.stream, stream));
    let epoch: number;
    let seq: number;
    if (!current) {
      const [identity] = await tx.select().from(producerIdentity).where(eq(producerIdentity.slot, 1));
      invariant(identity, "producer identity row exists");
      epoch = identity.epoch;
      seq = 0;
    } else if (current.nextSeq > MAX_SEQ) {
      if (current.epoch >= MAX_EPOCH) throw new StrataError("INTERNAL", `stream ${stream} used every producer epoch and sequence number`);
      epoch = current.epoch + 1;
      seq = 0;
    } else {
      epoch = current.epoch;
      seq = current.nextSeq;
    }
    await tx
      .insert(producerStreams)
      .values({ stream, epoch, nextSeq: seq + 1 })
      .onConflictDoUpdate({ target: producerStreams.stream, set: { epoch, nextSeq: seq + 1 } });
    return { epoch, seq };
  }

  /** Deletes an acknowledged group and records the sync time. */
  async ack(group: OutboxGroup): Promise<void> {
    await this.#db.serial.run(() =>
      this.#db.db.transaction(async (tx) => {
        const where = and(eq(outbox.stream, group.stream), eq(outbox.epoch, group.epoch), eq(outbox.seq, group.seq));
        const [sum] = await tx
          .select({ records: sql<number>`coalesce(sum(${outbox.recordCount}), 0)`, bytes: sql<number>`coalesce(sum(${outbox.bytes}), 0)` })
          .from(outbox)
          .where(where);
        await tx.delete(outbox).where(where);
        await tx
          .update(syncState)
          .set({ outboxRecords: sql`${syncState.outboxRecords} - ${sum?.records ?? 0}`, outboxBytes: sql`${syncState.outboxBytes} - ${sum?.bytes ?? 0}`, lastSync: Date.now() })
          .where(eq(syncState.slot, 1));
      }),
    );
  }

  async totals(): Promise<OutboxTotals> {
    return this.#db.serial.run(async () => {
      const [row] = await this.#db.db.select().from(syncState).where(eq(syncState.slot, 1));
      invariant(row, "sync_state row exists");
      return { records: row.outboxRecords, bytes: row.outboxBytes, lastSync: row.lastSync };
    });
  }

  /** Records a successful exchange with the gateway that moved no outbox rows (a pin check). */
  async touchSync(): Promise<void> {
    await this.#db.serial.run(() => this.#db.db.update(syncState).set({ lastSync: Date.now() }).where(eq(syncState.slot, 1)));
  }
}
