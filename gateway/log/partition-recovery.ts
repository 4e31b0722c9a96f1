// Start-up recovery of one partition from the catalog and its directory:
//
//   <dir>/<base>.wal        the active WAL (normally one; an older one left by a crash mid-roll is sealed)
//   <dir>/<base>.seg        sealed, not yet committed: to upload and commit
//   <dir>/cache/<base>.seg  committed segments kept as local cache
//
// Producer state = the catalog snapshot (as of the last committed segment) + every batch of the
// sealed files and WAL files, replayed in offset order. A torn WAL tail is cut; any other gap or
// damage in local files is refused with CORRUPT_DATA rather than papered over.
import { mkdir, readdir, rename, stat, unlink } from "node:fs/promises";
import { join } from "node:path";
import type { BatchHeader } from "../../core/log/batch.ts";
import { StrataError } from "../../core/errors.ts";
import { ChunkedReader, readBatches } from "./batch-reader.ts";
import { ProducerState, type ProducerRow } from "./producer-state.ts";
import type { PartitionCatalog, SegmentRow } from "./segment-catalog.ts";
import { decodeFooter, decodeTrailer, footerSize, parseBaseOffset, SEGMENT_TRAILER_SIZE } from "./segment-format.ts";
import type { StorageLimits } from "./storage-limits.ts";
import { readAt, scanSource, SEALED_SUFFIX, sealedPath, syncDir, WAL_SUFFIX, WalFile, type SealedFile } from "./wal.ts";
import type { WalIo } from "./wal-io.ts";
import { open } from "node:fs/promises";

export const CACHE_DIR = "cache";
const SCAN_CHUNK = 1 << 20;

export interface PendingSegment {
  readonly file: SealedFile;
  /** Producer state as of the segment's end offset, committed with its row. */
  readonly snapshot: ProducerRow[];
}

export interface RecoveredPartition {
  readonly startOffset: number;
  readonly committed: SegmentRow[];
  readonly pending: PendingSegment[];
  readonly wal: WalFile;
  readonly producers: ProducerState;
  /** Committed segment files found in the cache directory: path → bytes. */
  readonly cached: Map<string, number>;
  /** Bytes cut from torn WAL tails. */
  readonly cutBytes: number;
}

export function cachePath(dir: string, baseOffset: number): string {
  return sealedPath(join(dir, CACHE_DIR), baseOffset);
}

export async function recoverPartition(
  dir: string,
  catalog: PartitionCatalog,
  limits: StorageLimits,
  walIo: WalIo,
): Promise<RecoveredPartition> {
  await mkdir(join(dir, CACHE_DIR), { recursive: true });
  const committed = [...catalog.segments];
  for (let i = 1; i < committed.length; i++) {
    if (committed[i]!.baseOffset !== committed[i - 1]!.endOffset) {
      throw new StrataError("CORRUPT_DATA", `${dir}: committed segments are not contiguous at offset ${committed[i - 1]!.endOffset}`);
    }
  }
  const committedEnd = committed.length > 0 ? committed[committed.length - 1]!.endOffset : catalog.startOffset;
  const startOffset = committed.length > 0 ? Math.max(catalog.startOffset, committed[0]!.baseOffset) : catalog.startOffset;
  const producers = ProducerState.fromRows(catalog.producers, limits.maxProducers);
  const replay = (h: BatchHeader): void => {
    if (h.producer) producers.apply(h.producer, h.baseOffset, h.count);
  };

  const names = await readdir(dir);
  const sealedBases = names.map((n) => parseBaseOffset(n, SEALED_SUFFIX)).filter((b) => b !== undefined).sort((a, b) => a - b);
  const walBases = names.map((n) => parseBaseOffset(n, WAL_SUFFIX)).filter((b) => b !== undefined).sort((a, b) => a - b);
  const committedBases = new Set(committed.map((s) => s.baseOffset));

  // Sealed files: committed already (crash before the move to cache) → cache; stale → delete;
  // else they continue the log and are uploaded again.
  const pending: PendingSegment[] = [];
  let expected = committedEnd;
  for (const base of sealedBases) {
    const path = sealedPath(dir, base);
    if (base < committedEnd) {
      if (committedBases.has(base)) await rename(path, cachePath(dir, base));
      else await unlink(path);
      continue;
    }
    if (base !== expected) throw new StrataError("CORRUPT_DATA", `${path}: expected a segment at offset ${expected}`);
    const file = await readSealedFile(path, base, limits, replay);
    pending.push({ file, snapshot: producers.toRows() });
    expected = file.endOffset;
  }

  // WAL files: all but the newest are sealed (a crash between sealing and creating the next).
  let wal: WalFile | undefined;
  let cutBytes = 0;
  for (let i = 0; i < walBases.length; i++) {
    const base = walBases[i]!;
    if (base !== expected) {
      throw new StrataError("CORRUPT_DATA", `${dir}: WAL file at offset ${base}, expected ${expected}`);
    }
    const recovered = await WalFile.recover(walIo, dir, base, limits, replay);
    cutBytes += recovered.cutBytes;
    expected = recovered.wal.endOffset;
    if (i === walBases.length - 1) {
      wal = recovered.wal;
    } else if (recovered.wal.isEmpty) {
      await recovered.wal.close();
      await unlink(recovered.wal.path);
    } else {
      pending.push({ file: await recovered.wal.seal(), snapshot: producers.toRows() });
    }
  }
  wal ??= await WalFile.create(walIo, dir, expected, limits.indexIntervalBytes);

  // Cache files: keep those of committed segments, drop leftovers (e.g. retention interrupted).
  const cached = new Map<string, number>();
  const cacheDir = join(dir, CACHE_DIR);
  for (const name of await readdir(cacheDir)) {
    const base = parseBaseOffset(name, SEALED_SUFFIX);
    const path = join(cacheDir, name);
    const row = base === undefined ? undefined : committed.find((s) => s.baseOffset === base);
    const size = (await stat(path)).size;
    if (row && row.bytes === size) cached.set(path, size);
    else await unlink(path);
  }
  if (sealedBases.length > 0 || walBases.length > 1) await syncDir(walIo, dir);
  return { startOffset, committed, pending, wal, producers, cached, cutBytes };
}

/** Validates a sealed file's footer and every batch, replaying them in order. */
async function readSealedFile(
  path: string,
  base: number,
  limits: StorageLimits,
  onBatch: (h: BatchHeader) => void,
): Promise<SealedFile> {
  const fh = await open(path, "r");
  try {
    const size = (await fh.stat()).size;
    if (size < SEGMENT_TRAILER_SIZE) throw new StrataError("CORRUPT_DATA", `${path}: too short for a segment`);
    const t = decodeTrailer(await readAt(fh, size - SEGMENT_TRAILER_SIZE, SEGMENT_TRAILER_SIZE), size);
    const footer = decodeFooter(await readAt(fh, size - footerSize(t.indexCount), footerSize(t.indexCount)), size);
    if (footer.baseOffset !== base) throw new StrataError("CORRUPT_DATA", `${path}: trailer says base offset ${footer.baseOffset}`);
    // Only headers are kept from this scan, so its chunks may share one buffer.
    const reader = new ChunkedReader(scanSource(fh), footer.dataLength, SCAN_CHUNK);
    let pos = 0;
    let next = base;
    while (pos < footer.dataLength) {
      const batches = await readBatches(reader, {
        position: pos,
        end: footer.dataLength,
        fromOffset: next,
        maxBytes: SCAN_CHUNK,
        source: path,
        copy: "never",
      });
      for (const b of batches) {
        if (b.header.baseOffset !== next) throw new StrataError("CORRUPT_DATA", `${path}: batch at offset ${b.header.baseOffset}, expected ${next}`);
        onBatch(b.header);
        next += b.header.count;
        pos += b.header.length;
      }
    }
    if (next !== footer.endOffset) throw new StrataError("CORRUPT_DATA", `${path}: batches end at ${next}, trailer says ${footer.endOffset}`);
    return {
      path,
      baseOffset: base,
      endOffset: footer.endOffset,
      firstTimestamp: footer.firstTimestamp,
      maxTimestamp: footer.maxTimestamp,
      objectSize: size,
      dataLength: footer.dataLength,
      index: footer.index,
    };
  } finally {
    await fh.close();
  }
}
