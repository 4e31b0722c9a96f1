// Idempotent-producer state of one partition: per producer id, its epoch and its last
// RECENT_BATCHES batches (sequence → base offset, count). A retry of one of those is a duplicate;
// a lower epoch is fenced; a higher epoch starts the producer afresh. The table is bounded:
// past maxProducers the least recently active producer is forgotten (its next batch is then
// accepted as new, as Kafka does after producer-id expiry).
import { StrataError, invariant } from "../../core/errors.ts";
import type { ProducerRef } from "../../core/log/record.ts";

export const RECENT_BATCHES = 5;

export interface ProducerBatch {
  readonly seq: number;
  readonly baseOffset: number;
  readonly count: number;
}

interface ProducerEntry {
  epoch: number;
  /** Oldest first, at most RECENT_BATCHES. */
  recent: ProducerBatch[];
}

export type ProducerCheck =
  | { readonly kind: "new" }
  | { readonly kind: "duplicate"; readonly baseOffset: number; readonly count: number };

/** A producer row as the catalog stores it: `recent` is JSON [[seq, base_offset, count], ...], newest last. */
export interface ProducerRow {
  readonly producerId: number;
  readonly epoch: number;
  readonly recent: string;
}

export class ProducerState {
  // Map iteration order is recency order: touched producers are re-inserted at the end.
  private readonly producers = new Map<number, ProducerEntry>();

  constructor(private readonly maxProducers: number) {}

  get size(): number {
    return this.producers.size;
  }

  /** Classifies a batch from `ref` without changing state; throws PRODUCER_FENCED for a stale epoch. */
  check(ref: ProducerRef): ProducerCheck {
    const entry = this.producers.get(ref.id);
    if (!entry) return { kind: "new" };
    if (ref.epoch < entry.epoch) {
      throw new StrataError("PRODUCER_FENCED", `producer ${ref.id} epoch ${ref.epoch} is fenced by epoch ${entry.epoch}`);
    }
    if (ref.epoch > entry.epoch) return { kind: "new" };
    for (const b of entry.recent) if (b.seq === ref.seq) return { kind: "duplicate", baseOffset: b.baseOffset, count: b.count };
    return { kind: "new" };
  }

  /**
   * Records a batch written at `baseOffset`. Idempotent, so WAL replay may apply a batch the
   * database snapshot already holds; a batch from a fenced epoch is ignored.
   */
  apply(ref: ProducerRef, baseOffset: number, count: number): void {
    invariant(count > 0, "producer batch holds records");
    let entry = this.producers.get(ref.id);
    if (entry && ref.epoch < entry.epoch) return;
    if (!entry || ref.epoch > entry.epoch) entry = { epoch: ref.epoch, recent: [] };
    else if (entry.recent.some((b) => b.seq === ref.seq)) return;
    entry.recent.push({ seq: ref.seq, baseOffset, count });
    if (entry.recent.length > RECENT_BATCHES) entry.recent.shift();
    this.producers.delete(ref.id);
    this.producers.set(ref.id, entry);
    if (this.producers.size > this.maxProducers) {
      const oldest = this.producers.keys().next().value;
      if (oldest !== undefined) this.producers.delete(oldest);
    }
  }

  /** Epoch and sequence of the newest batch of producer `id`, if it is known. */
  get(id: number): { epoch: number; lastSeq: number } | undefined {
    const entry = this.producers.get(id);
    const last = entry?.recent[entry.recent.length - 1];
    return entry && last ? { epoch: entry.epoch, lastSeq: last.seq } : undefined;
  }

  /** The remembered batch `seq` of producer `id` (current epoch), if it is one of its recent ones. */
  batch(id: number, seq: number): ProducerBatch | undefined {
    return this.producers.get(id)?.recent.find((b) => b.seq === seq);
  }

  clone(): ProducerState {
    const copy = new ProducerState(this.maxProducers);
    for (const [id, e] of this.producers) copy.producers.set(id, { epoch: e.epoch, recent: [...e.recent] });
    return copy;
  }

  toRows(): ProducerRow[] {
    return [...this.producers].map(([producerId, e]) => ({
      producerId,
      epoch: e.epoch,
      recent: JSON.stringify(e.recent.map((b) => [b.seq, b.baseOffset, b.count])),
    }));
  }

  static fromRows(rows: readonly ProducerRow[], maxProducers: number): ProducerState {
    const state = new ProducerState(maxProducers);
    for (const row of rows) {
      const parsed: unknown = JSON.parse(row.recent);
      if (!Array.isArray(parsed)) throw new StrataError("CORRUPT_DATA", `producer ${row.producerId}: bad recent list`);
      const recent: ProducerBatch[] = [];
      for (const item of parsed) {
        if (!Array.isArray(item) || item.length !== 3 || !item.every((n) => Number.isSafeInteger(n))) {
          throw new StrataError("CORRUPT_DATA", `producer ${row.producerId}: bad recent entry`);
        }
        recent.push({ seq: item[0] as number, baseOffset: item[1] as number, count: item[2] as number });
      }
      state.producers.set(row.producerId, { epoch: row.epoch, recent: recent.slice(-RECENT_BATCHES) });
    }
    return state;
  }
}
