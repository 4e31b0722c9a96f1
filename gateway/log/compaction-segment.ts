// Which records of one sealed segment compaction keeps, and the bytes of the rewritten segment
// (docs/compaction.md, docs/storage-format.md). Offsets stay stable: surviving records keep
// theirs, so the rewritten segment has gaps. Each run of consecutive survivors within one stored
// batch becomes one batch (base offset = its first survivor's offset, records base + index as
// always), never bigger than the batch it came from. The segment's base and end offsets, its
// timestamps and the trailer's layout are the original's; the sparse index's first entry is the
// segment's base at position 0 (scan from the first batch), later entries the batches' own bases.
import { invariant } from "../../core/errors.ts";
import { decodeBatchRecords, encodeBatch, encodeRecord, readBatchHeader, type BatchHeader } from "../../core/log/batch.ts";
import { bytesToBase64 } from "../../core/log/json-value.ts";
import { isTombstone, type LogRecord } from "../../core/log/record.ts";
import { StrataError } from "../../core/errors.ts";
import { decodeFooter, encodeFooter, SparseIndex } from "./segment-format.ts";
import type { SegmentRow } from "./segment-catalog.ts";

/** Tells the compactor which records are no longer the newest of their key (the latest-per-key index). */
export interface CompactionJudge {
  /** True when a newer record of `key` than the one at (partition, offset) exists, anywhere in the stream. */
  superseded(key: Uint8Array, partition: number, offset: number, timestamp: number): boolean;
  /** The tombstone at (partition, offset) left the log: its key is gone. */
  tombstoneRemoved(key: Uint8Array, partition: number, offset: number): void;
}

export interface SegmentDecision {
  readonly total: number;
  /** Offsets of the records kept, ascending. */
  readonly kept: ReadonlySet<number>;
  /** Tombstones removed by this rewrite (their keys leave the index once it is committed). */
  readonly tombstones: readonly LogRecord[];
}

/** A stored batch and its decoded records. */
interface StoredBatch {
  readonly header: BatchHeader;
  readonly records: LogRecord[];
}

/** The batches of a whole segment object, CRC-checked; offsets may have gaps (an earlier compaction). */
export function decodeSegment(bytes: Uint8Array, row: SegmentRow): StoredBatch[] {
  const footer = decodeFooter(bytes, bytes.length);
  if (footer.baseOffset !== row.baseOffset || footer.endOffset !== row.endOffset) {
    throw new StrataError("CORRUPT_DATA", `segment ${row.objectKey}: footer covers [${footer.baseOffset}, ${footer.endOffset}), catalog says [${row.baseOffset}, ${row.endOffset})`);
  }
  const out: StoredBatch[] = [];
  let pos = 0;
  let next = row.baseOffset;
  while (pos < footer.dataLength) {
    const header = readBatchHeader(bytes.subarray(pos, footer.dataLength), { verifyCrc: true, maxLength: footer.dataLength - pos });
    if (!header || header.baseOffset < next) throw new StrataError("CORRUPT_DATA", `segment ${row.objectKey}: bad batch at byte ${pos}`);
    out.push({ header, records: decodeBatchRecords(bytes.subarray(pos, pos + header.length), header) });
    next = header.baseOffset + header.count;
    pos += header.length;
  }
  return out;
}

/**
 * Decides what survives. Dropped: a record whose key has a newer record; a tombstone older than
 * `tombstoneBefore` that is its key's newest record, unless `olderKeys` (keys still held by
 * earlier segments) has its key. Always kept: the segment's last record (the catalog's
 * [base, end) and every reader's end-of-segment arithmetic stay as they are), and keyless records.
 */
export function decideSegment(
  batches: readonly StoredBatch[],
  row: SegmentRow,
  partition: number,
  judge: CompactionJudge,
  tombstoneBefore: number,
  olderKeys: ReadonlySet<string>,
): SegmentDecision {
  const kept = new Set<number>();
  const tombstones: LogRecord[] = [];
  let total = 0;
  for (const b of batches) {
    for (const r of b.records) {
      total++;
      const last = r.offset === row.endOffset - 1;
      if (last || r.key === null) {
        kept.add(r.offset);
        continue;
      }
      if (judge.superseded(r.key, partition, r.offset, r.timestamp)) continue;
      if (isTombstone(r) && r.timestamp < tombstoneBefore && !olderKeys.has(keyText(r.key))) {
        tombstones.push(r);
        continue;
      }
      kept.add(r.offset);
    }
  }
  return { total, kept, tombstones };
}

/** A key as a set member. */
export const keyText = (key: Uint8Array): string => bytesToBase64(key);

/** The rewritten segment object: the kept records in runs, the original's range and timestamps. */
export function encodeCompactedSegment(batches: readonly StoredBatch[], row: SegmentRow, kept: ReadonlySet<number>, indexIntervalBytes: number): Uint8Array {
  invariant(kept.has(row.endOffset - 1), "a compacted segment keeps its last record");
  const out: Uint8Array[] = [];
  const index = new SparseIndex(row.baseOffset, indexIntervalBytes);
  let position = 0;
  const flush = (run: LogRecord[], source: BatchHeader) => {
    if (run.length === 0) return;
    const encoded = run.map((r) => encodeRecord({ timestamp: r.timestamp, key: r.key, headers: r.headers, fields: r.fields }, source.firstTimestamp));
    const batch = encodeBatch(encoded, { baseOffset: run[0]!.offset, firstTimestamp: source.firstTimestamp, maxTimestamp: source.maxTimestamp, producer: null });
    index.add(out.length === 0 ? row.baseOffset : run[0]!.offset, position);
    out.push(batch);
    position += batch.length;
  };
  for (const b of batches) {
    let run: LogRecord[] = [];
    for (const r of b.records) {
      if (!kept.has(r.offset)) {
        flush(run, b.header);
        run = [];
      } else {
        run.push(r);
      }
    }
    flush(run, b.header);
  }
  const footer = encodeFooter({ baseOffset: row.baseOffset, endOffset: row.endOffset, dataLength: position, firstTimestamp: row.firstTimestamp, maxTimestamp: row.maxTimestamp, index });
  const bytes = new Uint8Array(position + footer.length);
  let at = 0;
  for (const b of out) {
    bytes.set(b, at);
    at += b.length;
  }
  bytes.set(footer, at);
  return bytes;
}
