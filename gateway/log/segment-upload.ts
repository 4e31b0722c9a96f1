// Uploads a sealed segment and commits it: the file goes to its object key with the store's
// putFile (a hard link into the local directory store, so the bytes are not written a second
// time; a single put or a multipart upload streamed from the file for S3, so a 64 MiB segment is
// never held in memory whole), then a catalog row commits it, and the local file becomes cache.
import { mkdir, rename } from "node:fs/promises";
import { dirname } from "node:path";
import { StrataError } from "../../core/errors.ts";
import { putFile } from "../objects/object-file.ts";
import type { ObjectStore } from "../objects/object-store.ts";
import type { PartitionContext } from "./partition-context.ts";
import { cachePath, type PendingSegment } from "./partition-recovery.ts";
import { commitOldestPending, type PartitionState } from "./partition-state.ts";
import type { SegmentRow } from "./segment-catalog.ts";
import { segmentObjectKey } from "./segment-format.ts";
import { verifySegmentFile } from "./partition-reader.ts";
import { errorText } from "../objects/errno.ts";
import { getLogger } from "@logtape/logtape";

const log = getLogger(["strata", "log"]);

export async function uploadSegmentFile(
  store: ObjectStore,
  key: string,
  path: string,
  size: number,
  partBytes: number,
): Promise<void> {
  const info = await putFile(store, key, path, partBytes);
  if (info.size !== size) {
    throw new StrataError("STORAGE_ERROR", `uploaded ${key} has ${info.size} bytes, expected ${size}`);
  }
}

/**
 * Whether every batch of the sealed file checks out. Never throws (the segment is committed
 * already): a damaged or unreadable file enters the cache unverified, and its first reader
 * checks it again, drops it and reads the object store.
 */
async function verifiedOnEntry(ctx: PartitionContext, path: string, dataLength: number, key: string): Promise<boolean> {
  try {
    await verifySegmentFile(path, dataLength, `sealed segment ${key}`, () => ctx.metrics.batchCrcChecks.inc({ tier: "cache-entry" }));
    return true;
  } catch (e) {
    log.warn("segment {key} failed its check on entering the cache: {error}", { key, error: errorText(e) });
    return false;
  }
}

/** Uploads and commits the oldest pending segment of `state`; returns its catalog row. */
export async function uploadAndCommit(ctx: PartitionContext, state: PartitionState, seg: PendingSegment): Promise<SegmentRow> {
  const started = performance.now();
  const f = seg.file;
  const fence = ctx.cluster?.fence;
  const key = segmentObjectKey(ctx.stream, ctx.partition, f.baseOffset, fence?.epoch);
  await uploadSegmentFile(ctx.objectStore, key, f.path, f.objectSize, ctx.limits.uploadPartBytes);
  const row: SegmentRow = {
    baseOffset: f.baseOffset,
    endOffset: f.endOffset,
    bytes: f.objectSize,
    firstTimestamp: f.firstTimestamp,
    maxTimestamp: f.maxTimestamp,
    objectKey: key,
  };
  try {
    await ctx.catalog.commitSegment(ctx.stream, ctx.partition, row, seg.snapshot, fence);
  } catch (e) {
    // Fenced: the object is nobody's (its key carries this leader's epoch); remove it, best effort.
    if (e instanceof StrataError && e.code === "LEASE_LOST") await ctx.objectStore.delete(key).catch(() => {});
    throw e;
  }
  // The cache serves its files without CRC checks, so the file is verified as it enters it.
  const verified = await verifiedOnEntry(ctx, f.path, f.dataLength, key);
  // Committed: the local file is now only a cache entry.
  const cached = cachePath(ctx.dir, f.baseOffset);
  await mkdir(dirname(cached), { recursive: true }); // someone may have wiped the cache directory
  await rename(f.path, cached);
  commitOldestPending(state, seg, row);
  ctx.cache.add(cached, f.objectSize, verified);
  ctx.remote.rememberIndex(key, {
    baseOffset: f.baseOffset,
    endOffset: f.endOffset,
    dataLength: f.dataLength,
    firstTimestamp: f.firstTimestamp,
    maxTimestamp: f.maxTimestamp,
    index: f.index,
    objectSize: f.objectSize,
  });
  ctx.metrics.segmentsUploaded.inc({ stream: ctx.stream });
  ctx.metrics.segmentUploadSeconds.observe((performance.now() - started) / 1000);
  return row;
}
