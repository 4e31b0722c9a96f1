// The in-memory tail of a partition: the most recent synced batches, byte-bounded, for hot readers.
import { invariant } from "../../core/errors.ts";
import type { ReadBatch } from "./batch-reader.ts";

export class TailBuffer {
  private batches: Array<ReadBatch | undefined> = [];
  private head = 0;
  private total = 0;

  constructor(private readonly capacityBytes: number) {}

  get bytes(): number {
    return this.total;
  }

  /** First offset held, or undefined when empty. */
  get startOffset(): number | undefined {
    return this.batches[this.head]?.header.baseOffset;
  }

  /** Appends a synced batch (offsets contiguous with the previous one) and trims the oldest. */
  push(batch: ReadBatch): void {
    const last = this.batches[this.batches.length - 1];
    invariant(!last || last.header.baseOffset + last.header.count === batch.header.baseOffset, "tail batches are contiguous");
    this.batches.push(batch);
    this.total += batch.bytes.length;
    // Always keep the newest batch, even if it alone exceeds the bound.
    while (this.total > this.capacityBytes && this.batches.length - this.head > 1) {
      this.total -= this.batches[this.head]!.bytes.length;
      this.batches[this.head] = undefined; // release for GC
      this.head++;
    }
    if (this.head > 1024 && this.head * 2 > this.batches.length) {
      this.batches = this.batches.slice(this.head);
      this.head = 0;
    }
  }

  /** Batches from the one holding `offset`, until `maxBytes` are collected (the first always whole). */
  read(offset: number, maxBytes: number): ReadBatch[] {
    let lo = this.head;
    let hi = this.batches.length - 1;
    if (hi < lo) return [];
    // Last batch whose base offset <= offset.
    while (lo < hi) {
      const mid = (lo + hi + 1) >>> 1;
      if (this.batches[mid]!.header.baseOffset <= offset) lo = mid;
      else hi = mid - 1;
    }
    const out: ReadBatch[] = [];
    let collected = 0;
    for (let i = lo; i < this.batches.length && (out.length === 0 || collected < maxBytes); i++) {
      const b = this.batches[i]!;
      if (b.header.baseOffset + b.header.count <= offset) continue;
      out.push(b);
      collected += b.bytes.length;
    }
    return out;
  }

  /** Drops the batches that end at or before `offset` (compaction rewrote them in a committed segment). */
  dropBefore(offset: number): void {
    while (this.head < this.batches.length && this.batches[this.head]!.header.baseOffset + this.batches[this.head]!.header.count <= offset) {
      this.total -= this.batches[this.head]!.bytes.length;
      this.batches[this.head] = undefined;
      this.head++;
    }
  }

  clear(): void {
    this.batches = [];
    this.head = 0;
    this.total = 0;
  }
}
