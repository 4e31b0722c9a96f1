// Records read past what a claim took, kept for the same group's next claims of that partition.
// A claim of 100 records out of a stored batch of 1,000 used to read (and CRC-check) the whole
// batch each time, ten times per batch; now the first claim reads up to READ_AHEAD_RECORDS and
// the next ones take the rest from memory. Stored records never change at an offset, so a kept
// record is the one a read would return; an entry is used only when it starts exactly at the
// partition's cursor (a cursor moved by retention or a reload simply misses it), and its key
// carries the stream's creation time, so a stream deleted and created again never sees the old
// one's records. Memory is bounded by the bytes of the batches the entries hold.
import type { RawRecord } from "../../core/log/batch.ts";
import { WeightedLru } from "../../core/util/byte-lru.ts";

/** Records one claim reads at least, when it reads the log without a filter. */
export const READ_AHEAD_RECORDS = 1000;
/** Bytes of stored batches the kept records may hold on to, across every group and partition. */
const READ_AHEAD_BYTES = 32 * 1024 * 1024;

/** Records of one partition, consecutive offsets from the first's. */
type Ahead = readonly RawRecord[];

function batchBytes(records: Ahead): number {
  const batches = new Set<Uint8Array>();
  for (const r of records) batches.add(r.batch);
  let bytes = 0;
  for (const b of batches) bytes += b.length;
  return bytes;
}

export class ReadAhead {
  private readonly kept = new WeightedLru<string, Ahead>(READ_AHEAD_BYTES, batchBytes);

  static key(group: string, stream: string, streamCreatedAt: number, partition: number): string {
    return `${group}\u0000${stream}\u0000${streamCreatedAt}\u0000${partition}`;
  }

  /** Up to `n` kept records starting exactly at `cursor` (removed from the entry), or undefined. */
  take(key: string, cursor: number, n: number): RawRecord[] | undefined {
    const records = this.kept.get(key);
    if (records === undefined) return undefined;
    if (records[0]?.offset !== cursor) {
      this.kept.delete(key);
      return undefined;
    }
    const taken = records.slice(0, n);
    this.keep(key, records.slice(n));
    return taken;
  }

  /** Keeps `records` (consecutive, read past what a claim took) for the partition's next claim. */
  keep(key: string, records: readonly RawRecord[]): void {
    if (records.length === 0) this.kept.delete(key);
    else this.kept.set(key, records);
  }

  /** Forgets every entry of a group (its state was reloaded). */
  forget(group: string): void {
    this.kept.deleteWhere((key) => key.startsWith(`${group}\u0000`));
  }
}
