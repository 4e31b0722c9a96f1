// The read path of one partition: finds the tier holding an offset (memory tail, active WAL,
// sealed files awaiting upload, local segment cache, object store) and reads whole batches from
// it. Sequential readers of the object store get read-ahead: a larger first range, and the next
// range fetched in the background while they process this one.
//
// When CRCs are computed: each batch once per local file, never again on later reads. The
// active WAL and a sealed file awaiting upload keep, per file (keyed by base offset: a WAL and
// the sealed file it becomes hold the same bytes at the same positions), the positions of the
// batches a reader already checked; a batch damaged on disk after the write fails its first read
// and every read after it (it never joins the set). A sealed file is verified as a whole again
// when it enters the segment cache (segment-upload.ts): a damaged one is dropped there and the
// object store's copy fails its CRC (CORRUPT_DATA, never damaged bytes served).
// A segment cache file is verified once, as a whole, when it enters the cache or, for a file
// adopted at start-up, by its first reader; later reads of it compute none (the FileCache keeps
// the per-file marker in memory, so bit rot after the check is caught only after a restart).
// Object-store ranges are checked once per trip into memory (the range cache remembers them).
//
// Under Bun every local tier is read through memory mappings (mapFile): answers are views of the
// page cache, so a response costs no buffer of its own and its bytes are copied once, into the socket.
import { getLogger } from "@logtape/logtape";
import { StrataError, invariant, isStrataError } from "../../core/errors.ts";
import { SingleFlight } from "../../core/util/single-flight.ts";
import { ChunkedReader, readBatches, verifyBatches, type ByteSource, type ReadBatch } from "./batch-reader.ts";
import type { PartitionContext } from "./partition-context.ts";
import { cachePath } from "./partition-recovery.ts";
import { layoutMoved, type PartitionState } from "./partition-state.ts";
import type { SegmentRow } from "./segment-catalog.ts";
import type { SparseIndex } from "./segment-format.ts";
import { WalClosedError, readAt, scanSource } from "./wal.ts";
import { errnoCode, errorText } from "../objects/errno.ts";
import type { GatewayMetrics } from "../metrics.ts";
import { open } from "node:fs/promises";

const log = getLogger(["strata", "log"]);

/** Object-store reads whose next offset is remembered, to spot sequential readers. */
const SEQUENTIAL_MEMORY = 64;
/**
 * A record moves at most WAL -> sealed file -> segment cache while one read chases it, and each
 * move is two layout steps at most (a roll installs the sealed file, then the next WAL): every
 * attempt but the last may fail on a file that moved.
 */
const READ_ATTEMPTS = 8;
/** How long a read whose file was closed or renamed waits for the roll that did it to finish. */
const LAYOUT_WAIT_MS = 10_000;
/** Read size of a whole-file verification (one reused buffer). */
const VERIFY_CHUNK_BYTES = 4 << 20;
/**
 * A WAL that grew past its mapping is mapped again only once it grew by this much; reads of the
 * newer bytes before that use positional reads. Each mapping is released only when collected, so
 * a reader chasing the WAL's tail must not make one per read (the kernel caps mappings per process).
 */
const WAL_REMAP_BYTES = 8 << 20;
/** Memory mappings of local files (cache, sealed, active WAL) kept per partition (most recently used). */
const MAPPINGS_PER_PARTITION = 8;

type MapFile = (path: string, options: { shared: boolean }) => Uint8Array;
/**
 * Bun.mmap where the runtime has it (the gateway's runtime), else undefined (Deno, Node read
 * with positional reads). A mapped file is read without copying: the response parts are views of
 * the page cache. Safe because the mapped bytes never change: a cache or sealed file is only ever
 * renamed or unlinked, never written or truncated (a truncation would fault readers of the
 * mapping), and only the synced prefix of a WAL file is read, which no write or truncation ever
 * touches (a full disk cuts the WAL back to its synced end, no further). Linux shows bytes
 * written after the mapping was made (the pages are the page cache's until written through the
 * mapping, which nothing does); a WAL that grew past its mapping is mapped again. An unlinked or
 * renamed file's pages stay readable until the mapping is collected.
 */
const mapFile: MapFile | undefined = (globalThis as { Bun?: { mmap?: MapFile } }).Bun?.mmap;

/** The local tiers a read is served from. */
type LocalTier = "wal" | "pending" | "cache";

/** Where a batch's CRC was computed, as the metric labels it. */
export type CrcTier = "wal" | "pending" | "cache-entry" | "cache-first-read" | "object-store";

const crcCounter = (metrics: GatewayMetrics, tier: CrcTier) => () => metrics.batchCrcChecks.inc({ tier });

/**
 * Checks every batch of a segment (or sealed) file's data region [0, dataLength): CRCs, framing
 * and contiguous offsets. Throws CORRUPT_DATA naming `what`.
 */
export async function verifySegmentFile(path: string, dataLength: number, what: string, onCrcCheck?: () => void): Promise<void> {
  const fh = await open(path, "r");
  try {
    const reader = new ChunkedReader(scanSource(fh), dataLength, VERIFY_CHUNK_BYTES);
    await verifyBatches(reader, { position: 0, end: dataLength, source: what, ...(onCrcCheck ? { onCrcCheck } : {}) });
  } finally {
    await fh.close();
  }
}

export class PartitionReader {
  private readonly sequentialNext: number[] = [];
  /** First-read verifications of cache files adopted at start-up, one per file at a time. */
  private readonly cacheChecks = new SingleFlight<string, boolean>();
  /** Mappings of verified cache files, in recency order (Bun only; see mapFile). */
  private readonly mappings = new Map<string, Uint8Array>();
  /**
   * Positions of batches already CRC-checked in the WAL and sealed files, by the file's base
   * offset (see the top of this file). Entries of files that left both tiers are dropped.
   */
  private readonly checkedBatches = new Map<number, Set<number>>();

  constructor(
    private readonly ctx: PartitionContext,
    /** Owned by the partition log; every field may change between two reads. */
    private readonly tiers: Readonly<PartitionState>,
  ) {}

  /** Batches from the one tier holding `offset` (>= startOffset), retrying when files moved under the read. */
  async read(offset: number, maxBytes: number): Promise<ReadBatch[]> {
    for (let attempt = 1; ; attempt++) {
      const version = this.tiers.layoutVersion;
      if (offset < this.tiers.startOffset) {
        throw new StrataError("OFFSET_OUT_OF_RANGE", `offset ${offset} was removed by retention (start offset ${this.tiers.startOffset})`);
      }
      try {
        return await this.readTier(offset, maxBytes);
      } catch (e) {
        const fileGone = e instanceof WalClosedError || errnoCode(e) === "ENOENT" || errnoCode(e) === "EBADF";
        if (attempt >= READ_ATTEMPTS || (this.tiers.layoutVersion === version && !fileGone)) throw e;
        // A file closed or renamed under the read: wait for the layout that replaces it.
        if (fileGone && !(await layoutMoved(this.tiers, version, LAYOUT_WAIT_MS))) throw e;
      }
    }
  }

  private async readTier(offset: number, maxBytes: number): Promise<ReadBatch[]> {
    const { tail, wal } = this.tiers;
    const tailStart = tail.startOffset;
    if (tailStart !== undefined && offset >= tailStart) return tail.read(offset, maxBytes);
    if (offset >= wal.baseOffset) {
      const synced = wal.size;
      if (synced === 0) return [];
      // Mapped by path, not through the WAL's descriptor: nothing a roll closes. A WAL renamed by
      // a roll fails with ENOENT and the read waits for the new layout (read()).
      const mapped = this.walMapping(wal.path, synced);
      const source: ByteSource = mapped ? mappedSource(mapped) : { read: (p, _m, pref) => wal.read(p, pref) };
      return this.readLocal(this.checkedOnce(source, wal.baseOffset), wal.index, synced, offset, maxBytes, "active WAL", "wal");
    }
    const pending = findSegment(this.tiers.pending, offset, (p) => p.file)?.file;
    if (pending) {
      const mapped = this.mapped(pending.path, pending.dataLength);
      return mapped
        ? this.readLocal(this.checkedOnce(mappedSource(mapped), pending.baseOffset), pending.index, pending.dataLength, offset, maxBytes, pending.path, "pending")
        : this.readFile(pending.path, pending.index, pending.dataLength, offset, maxBytes, "pending", pending.baseOffset);
    }
    const seg = findSegment(this.tiers.committed, offset, (s) => s);
    invariant(seg, `offset ${offset} is held by a committed segment`);
    const local = cachePath(this.ctx.dir, seg.baseOffset);
    if (this.ctx.cache.touch(local)) {
      try {
        const footer = await this.ctx.remote.footer(seg.objectKey, seg.bytes, local);
        if (await this.cacheFileVerified(local, footer.dataLength)) {
          const mapped = this.mapped(local, footer.dataLength);
          const batches = mapped
            ? await this.readLocal(mappedSource(mapped), footer.index, footer.dataLength, offset, maxBytes, local, "cache")
            : await this.readFile(local, footer.index, footer.dataLength, offset, maxBytes, "cache");
          this.ctx.metrics.cacheHits.inc();
          return batches;
        }
      } catch (e) {
        if (errnoCode(e) !== "ENOENT") throw e;
        this.ctx.cache.remove(local, false); // gone from disk: serve it from the object store
      }
    }
    return this.readRemote(seg, offset, maxBytes);
  }

  /**
   * True when the cache file may be read without CRC checks: verified in this process, or now by
   * this first read. A damaged file is dropped (deleted) and false returned: the object store
   * serves the read, and a later upload or restart never re-adopts the damaged copy.
   */
  private async cacheFileVerified(path: string, dataLength: number): Promise<boolean> {
    const { cache, metrics } = this.ctx;
    if (cache.isVerified(path)) return true;
    return this.cacheChecks.run(path, async () => {
      try {
        await verifySegmentFile(path, dataLength, `segment cache file ${path}`, crcCounter(metrics, "cache-first-read"));
      } catch (e) {
        if (!isStrataError(e) || e.code !== "CORRUPT_DATA") throw e;
        log.warn("dropping a damaged segment cache file, reading it from the object store: {error}", { error: errorText(e) });
        metrics.cacheFilesRefused.inc();
        cache.remove(path, true);
        return false;
      }
      cache.markVerified(path);
      return true;
    });
  }

  /**
   * The mapping of local file `path` under Bun, covering at least its first `minLength` bytes:
   * made on first use (again when a growing WAL outgrew it) and kept for the next reads. Mappings
   * of files that left every local tier are dropped, so that their disk space is freed once
   * responses holding views of them are done (a mapping is released when collected).
   */
  private mapped(path: string, minLength: number): Uint8Array | undefined {
    if (!mapFile) return undefined;
    let mapping = this.mappings.get(path);
    if (mapping) this.mappings.delete(path);
    if (!mapping || mapping.length < minLength) {
      for (const p of this.mappings.keys()) if (!this.isLocalFile(p)) this.mappings.delete(p);
      if (this.mappings.size >= MAPPINGS_PER_PARTITION) this.mappings.delete(this.mappings.keys().next().value!);
      mapping = mapFile(path, { shared: false }); // private: a stray write could never reach the file
      invariant(mapping.length >= minLength, `${path} holds the ${minLength} bytes to read`);
    }
    this.mappings.set(path, mapping);
    return mapping;
  }

  /** The active WAL's mapping, when it covers the synced bytes or they grew enough to map again (WAL_REMAP_BYTES). */
  private walMapping(path: string, synced: number): Uint8Array | undefined {
    const current = this.mappings.get(path);
    if (current && current.length < synced && synced - current.length < WAL_REMAP_BYTES) return undefined;
    return this.mapped(path, synced);
  }

  /** Whether `path` is still one of this partition's local files: the WAL, a sealed file or a cache file. */
  private isLocalFile(path: string): boolean {
    return path === this.tiers.wal.path || this.tiers.pending.some((p) => p.file.path === path) || this.ctx.cache.has(path);
  }

  private async readFile(path: string, index: SparseIndex, dataLength: number, offset: number, maxBytes: number, tier: LocalTier, baseOffset?: number): Promise<ReadBatch[]> {
    const fh = await open(path, "r");
    try {
      const source: ByteSource = { read: (p, _m, pref) => readAt(fh, p, pref) };
      return await this.readLocal(baseOffset === undefined ? source : this.checkedOnce(source, baseOffset), index, dataLength, offset, maxBytes, path, tier);
    } finally {
      await fh.close();
    }
  }

  /**
   * `source` with the file's set of checked batch positions: readBatches skips the CRC of those
   * and adds the ones it checks (only after they passed).
   */
  private checkedOnce(source: ByteSource, baseOffset: number): ByteSource {
    let checked = this.checkedBatches.get(baseOffset);
    if (!checked) {
      const live = new Set([this.tiers.wal.baseOffset, ...this.tiers.pending.map((p) => p.file.baseOffset)]);
      for (const base of this.checkedBatches.keys()) if (!live.has(base)) this.checkedBatches.delete(base);
      checked = new Set<number>();
      this.checkedBatches.set(baseOffset, checked);
    }
    const positions = checked;
    return { read: (p, m, pref) => source.read(p, m, pref), verified: () => positions };
  }

  /**
   * Batches of a local file. A cache file is trusted (verified as a whole on entering the cache)
   * and may have offset gaps (a compacted segment); WAL and sealed-file batches are checked once
   * each (checkedOnce; see the top of this file).
   */
  private readLocal(source: ByteSource, index: SparseIndex, dataLength: number, offset: number, maxBytes: number, what: string, tier: LocalTier): Promise<ReadBatch[]> {
    const { limits } = this.ctx;
    const { position } = index.lookup(offset);
    return readBatches(new ChunkedReader(source, dataLength, maxBytes + limits.indexIntervalBytes), {
      position,
      end: dataLength,
      fromOffset: offset,
      maxBytes,
      source: `${this.ctx.stream}/${this.ctx.partition} ${what}`,
      copy: "never", // each local read has its own buffer, or views of a mapping
      ...(tier === "cache" ? { crc: "trusted" as const, gaps: true } : { crc: "check" as const, onCrcCheck: crcCounter(this.ctx.metrics, tier) }),
    });
  }

  private async readRemote(seg: SegmentRow, offset: number, maxBytes: number): Promise<ReadBatch[]> {
    try {
      return await this.readRemoteOnce(seg, offset, maxBytes);
    } catch (e) {
      // Do not keep serving cached bytes of a damaged object: a repaired one is read afresh.
      if (isStrataError(e) && e.code === "CORRUPT_DATA") this.ctx.remote.forget(seg.objectKey);
      throw e;
    }
  }

  private async readRemoteOnce(seg: SegmentRow, offset: number, maxBytes: number): Promise<ReadBatch[]> {
    const { limits, remote } = this.ctx;
    const footer = await remote.footer(seg.objectKey, seg.bytes);
    if (footer.baseOffset !== seg.baseOffset || footer.endOffset !== seg.endOffset) {
      throw new StrataError(
        "CORRUPT_DATA",
        `segment ${seg.objectKey}: footer covers [${footer.baseOffset}, ${footer.endOffset}), catalog says [${seg.baseOffset}, ${seg.endOffset})`,
      );
    }
    const seqIndex = this.sequentialNext.indexOf(offset);
    const sequential = seqIndex >= 0;
    if (sequential) this.sequentialNext.splice(seqIndex, 1);
    const chunk = sequential ? Math.max(limits.readAheadBytes, maxBytes) : maxBytes + limits.indexIntervalBytes;
    const { position } = footer.index.lookup(offset);
    const batches = await readBatches(new ChunkedReader(remote.source(seg.objectKey), footer.dataLength, chunk), {
      position,
      end: footer.dataLength,
      fromOffset: offset,
      maxBytes,
      source: `segment ${seg.objectKey}`,
      copy: "small", // views of big batches; small ones do not pin whole ranges of the shared cache
      gaps: true, // a compacted segment
      onCrcCheck: crcCounter(this.ctx.metrics, "object-store"),
    });
    const last = batches[batches.length - 1];
    if (last) {
      this.sequentialNext.push(last.header.baseOffset + last.header.count);
      if (this.sequentialNext.length > SEQUENTIAL_MEMORY) this.sequentialNext.shift();
      // Read-ahead: a sequential reader's next request starts right after this batch.
      const next = last.position + last.header.length;
      if (sequential && limits.readAheadBytes > 0 && next < footer.dataLength) {
        remote.prefetch(seg.objectKey, next, Math.min(chunk, footer.dataLength - next));
      }
    }
    return batches;
  }
}

/** A byte source over a mapped file: views, no copies. */
function mappedSource(mapping: Uint8Array): ByteSource {
  return { read: async (p, _m, preferred) => mapping.subarray(p, Math.min(p + preferred, mapping.length)) };
}

/** The segment holding `offset`, by binary search over segments in offset order. */
export function findSegment<T>(
  segments: readonly T[],
  offset: number,
  range: (segment: T) => { readonly baseOffset: number; readonly endOffset: number },
): T | undefined {
  let lo = 0;
  let hi = segments.length - 1;
  while (lo <= hi) {
    const mid = (lo + hi) >>> 1;
    const s = range(segments[mid]!);
    if (offset < s.baseOffset) hi = mid - 1;
    else if (offset >= s.endOffset) lo = mid + 1;
    else return segments[mid];
  }
  return undefined;
}
