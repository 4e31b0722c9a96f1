// Rebuilding a partition's local directory from shared state when this gateway starts to lead it
// (cluster mode, docs/cluster.md). The shared state is the truth: committed segments (the segments
// table) and, above the last segment's end, the contiguous committed intake ranges. The ranges'
// batches are read back from their intake objects (range reads, every batch CRC-checked) and
// written into a fresh WAL; the partition's ordinary start-up recovery then replays it (producer
// state = the snapshot of the last segment + these batches). Whatever an earlier tenure left in
// the directory is discarded: anything not in the shared state was never acknowledged.
import { mkdir, rm } from "node:fs/promises";
import { getLogger } from "@logtape/logtape";
import { BATCH_HEADER_SIZE, readBatchHeader } from "../../core/log/batch.ts";
import { StrataError } from "../../core/errors.ts";
import type { MetadataDb } from "../db/database.ts";
import type { ObjectStore } from "../objects/object-store.ts";
import { errorText } from "../objects/errno.ts";
import { mapLimit } from "../../core/util/concurrency.ts";
import { loadIntakeRanges, type IntakeRange } from "./intake-catalog.ts";
import type { SegmentCatalog } from "./segment-catalog.ts";
import type { StorageLimits } from "./storage-limits.ts";
import { WalFile, type AppendedBatch } from "./wal.ts";
import type { WalIo } from "./wal-io.ts";

const log = getLogger(["strata", "log", "rebuild"]);

/** Intake ranges read at once while rebuilding one partition (each at most one intake object's size). */
const RANGES_IN_FLIGHT = 8;

export interface RebuildSources {
  readonly db: MetadataDb;
  readonly store: ObjectStore;
  readonly catalog: SegmentCatalog;
  readonly limits: StorageLimits;
  readonly walIo: WalIo;
}

export interface RebuildOutcome {
  /** Where the committed segments end (the WAL starts here). */
  readonly segmentsEnd: number;
  /** One past the last offset rebuilt from intake ranges (= segmentsEnd when there were none). */
  readonly endOffset: number;
  readonly ranges: number;
}

/**
 * Empties `dir` and writes the committed intake ranges above the last committed segment into a
 * fresh WAL there. CORRUPT_DATA (and nothing opened) on a missing intake object, a bad batch, or
 * ranges that leave a gap.
 */
export async function rebuildPartition(src: RebuildSources, dir: string, stream: string, partition: number): Promise<RebuildOutcome> {
  await rm(dir, { recursive: true, force: true });
  await mkdir(dir, { recursive: true });
  await src.catalog.ensurePartition(stream, partition);
  const catalog = await src.catalog.load(stream, partition);
  const segmentsEnd = catalog.segments.at(-1)?.endOffset ?? catalog.startOffset;
  const ranges = await loadIntakeRanges(src.db, stream, partition, segmentsEnd);
  const wal = await WalFile.create(src.walIo, dir, segmentsEnd, src.limits.indexIntervalBytes);
  let expected = segmentsEnd;
  for (const [i, range] of ranges.entries()) {
    // Only the first range may start below the segments' end (its first batches are covered).
    if (i === 0 ? range.baseOffset > expected : range.baseOffset !== expected) {
      await wal.close();
      throw new StrataError("CORRUPT_DATA", `partition ${partition} of ${stream}: committed intake ranges are not contiguous at offset ${expected} (next range starts at ${range.baseOffset})`);
    }
    expected = range.endOffset;
  }
  try {
    // Ranges are read RANGES_IN_FLIGHT at a time (each is one GET of its own object) and written in order.
    for (let i = 0; i < ranges.length; i += RANGES_IN_FLIGHT) {
      const window = ranges.slice(i, i + RANGES_IN_FLIGHT);
      const read = await mapLimit(window, RANGES_IN_FLIGHT, (range) => readRange(src.store, range, segmentsEnd));
      for (const batches of read) if (batches.length > 0) await wal.append(batches);
    }
  } finally {
    await wal.close();
  }
  if (ranges.length > 0) log.info("rebuilt {stream}/{partition} offsets {from}..{to} from {n} intake ranges", { stream, partition, from: segmentsEnd, to: expected, n: ranges.length });
  return { segmentsEnd, endOffset: expected, ranges: ranges.length };
}

/** The batches of `range` from `from` on (batches before it are covered by a segment), CRC-checked and contiguous. */
async function readRange(store: ObjectStore, range: IntakeRange, from: number): Promise<AppendedBatch[]> {
  const where = `intake object ${range.objectKey} [${range.position}, +${range.length})`;
  let bytes: Uint8Array;
  try {
    bytes = await store.get(range.objectKey, { offset: range.position, length: range.length });
  } catch (e) {
    throw new StrataError("CORRUPT_DATA", `${where} of partition ${range.partition} of ${range.stream}: cannot be read: ${errorText(e)}`, { cause: e });
  }
  if (bytes.length !== range.length) throw new StrataError("CORRUPT_DATA", `${where}: got ${bytes.length} bytes`);
  const out: AppendedBatch[] = [];
  let pos = 0;
  let next = range.baseOffset;
  while (pos < bytes.length) {
    let header;
    try {
      header = readBatchHeader(bytes.subarray(pos), { verifyCrc: true, maxLength: bytes.length - pos });
    } catch (e) {
      throw new StrataError("CORRUPT_DATA", `${where}: batch at byte ${pos}: ${errorText(e)}`, { cause: e });
    }
    if (!header || header.length < BATCH_HEADER_SIZE) throw new StrataError("CORRUPT_DATA", `${where}: short batch at byte ${pos}`);
    if (header.baseOffset !== next) throw new StrataError("CORRUPT_DATA", `${where}: batch at byte ${pos} has offset ${header.baseOffset}, expected ${next}`);
    const end = header.baseOffset + header.count;
    if (header.baseOffset >= from) {
      out.push({ bytes: bytes.slice(pos, pos + header.length), baseOffset: header.baseOffset, count: header.count, firstTimestamp: header.firstTimestamp, maxTimestamp: header.maxTimestamp });
    } else if (end > from) {
      throw new StrataError("CORRUPT_DATA", `${where}: batch [${header.baseOffset}, ${end}) straddles the committed segments' end ${from}`);
    }
    next = end;
    pos += header.length;
  }
  if (next !== range.endOffset) throw new StrataError("CORRUPT_DATA", `${where}: batches end at ${next}, the range says ${range.endOffset}`);
  return out;
}
