// Where one partition's records are, as a plain object: committed segments (object store, maybe
// also the local cache) < pending segments (sealed local files being uploaded) < the active WAL,
// whose newest batches are also in the memory tail. The partition log changes it only through
// the functions below, which keep the tiers contiguous and the byte counts exact; the reader
// looks at its fields afresh on every read, and retries when `layoutVersion` moved under it.
import { invariant } from "../../core/errors.ts";
import type { PendingSegment } from "./partition-recovery.ts";
import type { SegmentRow } from "./segment-catalog.ts";
import type { TailBuffer } from "./tail-buffer.ts";
import type { WalFile } from "./wal.ts";

export interface PartitionState {
  /** First offset still held (retention moves it forward). */
  startOffset: number;
  /** Ascending, contiguous, committed to the catalog. */
  committed: SegmentRow[];
  committedBytes: number;
  /** Sealed local files not yet committed, oldest first, continuing `committed`. */
  pending: PendingSegment[];
  pendingBytes: number;
  /** The active segment, continuing `pending`. */
  wal: WalFile;
  readonly tail: TailBuffer;
  /** Bumped whenever files move (roll, commit, retention): a read that failed on a moved file retries. */
  layoutVersion: number;
  /** Readers waiting for the next bump (see layoutMoved). */
  readonly layoutWaiters: Set<() => void>;
}

function bumpLayout(s: PartitionState): void {
  s.layoutVersion++;
  for (const wake of s.layoutWaiters) wake();
  s.layoutWaiters.clear();
}

/**
 * Resolves true once the layout moved past `version`, or false after `timeoutMs`. A roll closes
 * the active WAL before it renames the file and installs the pending segment and the next WAL
 * (a rename, a directory fsync and a create later): a read that found the WAL closed waits for
 * that, instead of retrying at once against the same closed file.
 */
export function layoutMoved(s: Readonly<PartitionState>, version: number, timeoutMs: number): Promise<boolean> {
  if (s.layoutVersion !== version) return Promise.resolve(true);
  return new Promise((resolve) => {
    const wake = (): void => {
      clearTimeout(timer);
      resolve(true);
    };
    const timer = setTimeout(() => {
      s.layoutWaiters.delete(wake);
      resolve(false);
    }, timeoutMs);
    s.layoutWaiters.add(wake);
  });
}

/** One past the last offset in the object store. */
export function durableEnd(s: Readonly<PartitionState>): number {
  return s.committed.at(-1)?.endOffset ?? s.startOffset;
}

/** One past the last offset in a sealed file (pending or committed). */
export function sealedEnd(s: Readonly<PartitionState>): number {
  return s.pending.at(-1)?.file.endOffset ?? durableEnd(s);
}

/** Bytes held: committed segment objects, sealed files awaiting upload and the active WAL. */
export function heldBytes(s: Readonly<PartitionState>): number {
  return s.committedBytes + s.pendingBytes + s.wal.size;
}

/** A sealed WAL joins the pending segments; the caller installs the next WAL with replaceWal. */
export function addPending(s: PartitionState, segment: PendingSegment): void {
  invariant(segment.file.baseOffset === sealedEnd(s), "a sealed segment continues the log");
  s.pending.push(segment);
  s.pendingBytes += segment.file.objectSize;
  bumpLayout(s);
}

export function replaceWal(s: PartitionState, wal: WalFile): void {
  invariant(wal.baseOffset === sealedEnd(s) && wal.isEmpty, "a new WAL starts empty where the sealed segments end");
  s.wal = wal;
  bumpLayout(s);
}

/** The oldest pending segment is committed as `row`; its file has moved to the cache. */
export function commitOldestPending(s: PartitionState, segment: PendingSegment, row: SegmentRow): void {
  invariant(s.pending[0] === segment, "segments commit in order");
  invariant(row.baseOffset === durableEnd(s) && row.endOffset === segment.file.endOffset, "a committed segment continues the log");
  s.pending.shift();
  s.pendingBytes -= segment.file.objectSize;
  s.committed.push(row);
  s.committedBytes += row.bytes;
  bumpLayout(s);
}

/** Retention removed `doomed`, the oldest committed segments; the log now starts at `newStart`. */
export function dropOldestCommitted(s: PartitionState, doomed: readonly SegmentRow[], newStart: number): void {
  invariant(doomed.length > 0 && s.committed[0] === doomed[0], "retention removes the oldest segments");
  s.committed = s.committed.slice(doomed.length);
  for (const seg of doomed) s.committedBytes -= seg.bytes;
  s.startOffset = Math.max(s.startOffset, newStart);
  bumpLayout(s);
}

/**
 * Compaction rewrote committed segment `old` as `replacement` (same offsets, another object).
 * False when `old` is no longer committed (retention removed it meanwhile): nothing changes.
 */
export function replaceCommitted(s: PartitionState, old: SegmentRow, replacement: SegmentRow): boolean {
  invariant(replacement.baseOffset === old.baseOffset && replacement.endOffset === old.endOffset, "a compacted segment keeps its offsets");
  const at = s.committed.indexOf(old);
  if (at < 0) return false;
  s.committed = [...s.committed.slice(0, at), replacement, ...s.committed.slice(at + 1)];
  s.committedBytes += replacement.bytes - old.bytes;
  // The memory tail may still hold the segment's old batches: readers must reach the rewrite.
  s.tail.dropBefore(old.endOffset);
  bumpLayout(s);
  return true;
}

/**
 * The counters' order: start <= durable end <= sealed end <= synced end <= written end <= next
 * offset to assign, and no byte count below zero. `nextOffset` is the partition's next offset.
 */
export function assertOffsets(s: Readonly<PartitionState>, nextOffset: number): void {
  const durable = durableEnd(s);
  const sealed = sealedEnd(s);
  const synced = s.wal.endOffset;
  const written = s.wal.issuedEndOffset;
  invariant(s.startOffset <= durable, `start offset ${s.startOffset} <= durable end ${durable}`);
  invariant(durable <= sealed, `durable end ${durable} <= sealed end ${sealed}`);
  invariant(sealed <= synced, `sealed end ${sealed} <= synced end ${synced}`);
  invariant(synced <= written, `synced end ${synced} <= written end ${written}`);
  invariant(written <= nextOffset, `written end ${written} <= next offset ${nextOffset}`);
  invariant(s.committedBytes >= 0 && s.pendingBytes >= 0, "byte counts are not negative");
}
