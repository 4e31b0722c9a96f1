// One partition's log: appends with group-commit fsync, the in-memory tail, sealing, uploading
// and committing segments, reads from every tier, long-poll waiters and retention.
//
// Offsets live in four places, in order: committed segments (object store, maybe also the local
// cache) < pending segments (sealed local files being uploaded) < the active WAL file, whose most
// recent batches are also in the memory tail. Readers only ever see fsynced data: endOffset is
// the end of what is on disk, so a record once read cannot vanish in a crash.
//
// Appends are serialised by one flush loop: an append gets its offsets at once, joins the pending
// list, and the loop writes what is pending as one durable write (group commit: one O_DSYNC
// writev, wal.ts) of at most groupCommitMaxBytes. Up to walWritesInFlight groups are written at
// once, so the next group is written while the previous one syncs; groups are acknowledged strictly
// in order, each only once it and every group before it are on disk. Sealing (by size, age, or
// for acks=durable) happens inside that loop, with no write in flight.
import { encodeBatch, BATCH_HEADER_SIZE, decodeBatchRecords, type BatchHeader } from "../../core/log/batch.ts";
import { StrataError, invariant } from "../../core/errors.ts";
import type { Acks, LogRecord, ProducerRef } from "../../core/log/record.ts";
import type { GatewayMetrics } from "../metrics.ts";
import type { ReadBatch } from "./batch-reader.ts";
import { PartitionReader } from "./partition-reader.ts";
import type { ObjectStore } from "../objects/object-store.ts";
import { cachePath, recoverPartition, type PendingSegment } from "./partition-recovery.ts";
import { ProducerState, type ProducerBatch } from "./producer-state.ts";
import type { RemoteSegmentReader } from "./remote-segment-reader.ts";
import { planRetention, type RetentionPolicy } from "./retention.ts";
import type { FileCache } from "../objects/file-cache.ts";
import type { SegmentCatalog, SegmentRow } from "./segment-catalog.ts";
import { segmentObjectKey } from "./segment-format.ts";
import { uploadSegmentFile } from "./segment-upload.ts";
import type { StorageLimits } from "./storage-limits.ts";
import { TailBuffer } from "./tail-buffer.ts";
import { WalFile, type AppendedBatch } from "./wal.ts";
import { mkdir, rename } from "node:fs/promises";
import { dirname } from "node:path";

export interface PartitionContext {
  readonly stream: string;
  readonly partition: number;
  /** This partition's directory (WAL, sealed files, cache/). */
  readonly dir: string;
  readonly objectStore: ObjectStore;
  readonly catalog: SegmentCatalog;
  readonly cache: FileCache;
  readonly remote: RemoteSegmentReader;
  readonly metrics: GatewayMetrics;
  readonly limits: StorageLimits;
  /** Failures of background work (uploads, retention deletes) that no caller awaits. */
  readonly onBackgroundError: (error: unknown, what: string) => void;
}

export interface AppendMeta {
  readonly firstTimestamp: number;
  readonly maxTimestamp: number;
  readonly producer: ProducerRef | null;
}

export interface ReadOptions {
  readonly maxRecords: number;
  readonly maxBytes: number;
}

interface PendingAppend {
  readonly batch: AppendedBatch;
  readonly header: BatchHeader;
  readonly producer: ProducerRef | null;
  readonly enqueuedAt: number;
  readonly resolve: () => void;
  readonly reject: (e: unknown) => void;
}

interface OffsetWaiter {
  readonly end: number;
  readonly resolve: () => void;
  readonly reject: (e: unknown) => void;
}

interface DataWaiter {
  readonly offset: number;
  readonly done: () => void;
}

const MAX_UPLOAD_BACKOFF_MS = 30_000;

export class PartitionLog {
  readonly stream: string;
  readonly partition: number;
  private readonly limits: StorageLimits;
  private retention: RetentionPolicy = {};

  private start: number;
  private committed: SegmentRow[];
  private committedBytes: number;
  private pendingSegments: PendingSegment[];
  private pendingSegmentBytes: number;
  private wal: WalFile;
  /** Wall-clock time the active WAL got its first batch (for sealing by age). */
  private walSince: number | undefined;
  private readonly tail: TailBuffer;
  /** Next offset to assign: endOffset plus everything pending. */
  private next: number;
  /** Includes appends not yet synced: used to classify new batches. */
  private readonly liveProducers: ProducerState;
  /** Exactly what is on disk: snapshotted into the catalog with each segment. */
  private readonly durableProducers: ProducerState;

  private pending: PendingAppend[] = [];
  /** Bytes accepted and not yet synced (queued in `pending` or being written). */
  private pendingBytes = 0;
  /** Bytes in `pending`, not yet handed to a write. */
  private queuedBytes = 0;
  private flushing: Promise<void> | undefined;
  /** Wakes the flush loop from its wait (new appends, a write done, close). */
  private wakeLinger: (() => void) | undefined;
  /** Group writes in flight, oldest first. */
  private readonly writes = new Set<Promise<void>>();
  /** Settles once the newest group write is acknowledged (or failed): the next one waits for it. */
  private lastAck: Promise<void> = Promise.resolve();
  private rollRequested = false;
  private uploading: Promise<void> | undefined;
  private wakeUploader: (() => void) | undefined;
  private syncWaiters: OffsetWaiter[] = [];
  private durableWaiters: OffsetWaiter[] = [];
  private readonly dataWaiters = new Set<DataWaiter>();
  private retentionRunning: Promise<void> | undefined;
  /** Bumped whenever files move (roll, commit, retention): a read that failed on a moved file retries. */
  private layoutVersion = 0;
  private failure: StrataError | undefined;
  /** Set while segment uploads are failing: durable appends fail fast instead of queueing. */
  private uploadFailure: StrataError | undefined;
  private closed = false;
  private readonly reader: PartitionReader;

  private constructor(private readonly ctx: PartitionContext, recovered: Awaited<ReturnType<typeof recoverPartition>>) {
    this.stream = ctx.stream;
    this.partition = ctx.partition;
    this.limits = ctx.limits;
    this.start = recovered.startOffset;
    this.committed = recovered.committed;
    this.committedBytes = this.committed.reduce((n, s) => n + s.bytes, 0);
    this.pendingSegments = recovered.pending;
    this.pendingSegmentBytes = this.pendingSegments.reduce((n, s) => n + s.file.objectSize, 0);
    this.wal = recovered.wal;
    this.walSince = recovered.wal.isEmpty ? undefined : Date.now();
    this.tail = new TailBuffer(ctx.limits.memoryTailBytes);
    this.next = recovered.wal.endOffset;
    this.durableProducers = recovered.producers;
    this.liveProducers = recovered.producers.clone();
    for (const [path, bytes] of recovered.cached) ctx.cache.add(path, bytes);
    const self = this;
    this.reader = new PartitionReader(ctx, {
      get startOffset() {
        return self.start;
      },
      get tail() {
        return self.tail;
      },
      get wal() {
        return self.wal;
      },
      get pendingFiles() {
        return self.pendingSegments.map((s) => s.file);
      },
      get committed() {
        return self.committed;
      },
      get layoutVersion() {
        return self.layoutVersion;
      },
    });
  }

  /** Recovers the partition from its directory and the catalog, and resumes unfinished uploads. */
  static async open(ctx: PartitionContext): Promise<PartitionLog> {
    await ctx.catalog.ensurePartition(ctx.stream, ctx.partition);
    const catalog = await ctx.catalog.load(ctx.stream, ctx.partition);
    const recovered = await recoverPartition(ctx.dir, catalog, ctx.limits);
    const log = new PartitionLog(ctx, recovered);
    if (recovered.cutBytes > 0) ctx.metrics.walTornBytes.inc({}, recovered.cutBytes);
    log.reportUnuploaded();
    if (log.pendingSegments.length > 0) log.kickUploader();
    return log;
  }

  /** First offset still held (retention moves it forward). */
  get startOffset(): number {
    return this.start;
  }
  /** One past the last synced (readable, acknowledged) offset. */
  get endOffset(): number {
    return this.wal.endOffset;
  }
  /** Bytes held: committed segment objects, sealed files awaiting upload and the active WAL. */
  get bytes(): number {
    return this.committedBytes + this.pendingSegmentBytes + this.wal.size;
  }
  /** One past the last offset in the object store. */
  get durableEndOffset(): number {
    const last = this.committed[this.committed.length - 1];
    return last ? last.endOffset : this.start;
  }

  setRetention(policy: RetentionPolicy): void {
    this.retention = { ms: policy.ms ?? null, bytes: policy.bytes ?? null };
  }

  /** Idempotent-producer state for the service's cross-partition sequence checks. */
  producerState(id: number): { epoch: number; lastSeq: number } | undefined {
    return this.liveProducers.get(id);
  }

  /** Where batch `seq` of producer `id` (its current epoch) was written, if it is one of its last 5. */
  producerBatch(id: number, seq: number): ProducerBatch | undefined {
    return this.liveProducers.batch(id, seq);
  }

  /**
   * Appends one batch of encoded records (core/log/batch.ts encodeRecord). Resolves after fsync
   * (acks=local) or once the batch is in a committed segment object (acks=durable).
   */
  async append(encodedRecords: readonly Uint8Array[], meta: AppendMeta, acks: Acks = "local"): Promise<{ baseOffset: number; duplicate: boolean }> {
    this.assertWritable();
    const count = encodedRecords.length;
    if (count === 0) throw new StrataError("BAD_REQUEST", "a batch holds at least one record");
    let size = BATCH_HEADER_SIZE;
    for (const r of encodedRecords) size += r.length;
    if (size > this.limits.maxBatchBytes) {
      throw new StrataError("BATCH_TOO_LARGE", `batch of ${size} bytes exceeds the limit of ${this.limits.maxBatchBytes}`);
    }
    checkMeta(meta);
    if (meta.producer) {
      const seen = this.liveProducers.check(meta.producer);
      if (seen.kind === "duplicate") {
        const end = seen.baseOffset + seen.count;
        if (end > this.endOffset) await this.whenSynced(end);
        if (acks === "durable") await this.whenDurable(end);
        return { baseOffset: seen.baseOffset, duplicate: true };
      }
    }
    if (this.pendingBytes + size > this.limits.maxPendingBytes) {
      throw new StrataError("UNAVAILABLE", `partition ${this.partition} of ${this.stream}: too many bytes waiting for fsync; retry`);
    }
    if (this.pendingSegmentBytes > this.limits.maxUnuploadedBytes) {
      throw new StrataError("UNAVAILABLE", `partition ${this.partition} of ${this.stream}: object store is behind (${this.pendingSegmentBytes} bytes not uploaded); retry`);
    }
    const baseOffset = this.next;
    this.next += count;
    const bytes = encodeBatch(encodedRecords, { baseOffset, ...meta });
    if (meta.producer) this.liveProducers.apply(meta.producer, baseOffset, count);
    const header: BatchHeader = {
      length: bytes.length,
      baseOffset,
      crc: new DataView(bytes.buffer, bytes.byteOffset).getUint32(16, true),
      count,
      firstTimestamp: meta.firstTimestamp,
      maxTimestamp: meta.maxTimestamp,
      producer: meta.producer,
    };
    const synced = new Promise<void>((resolve, reject) => {
      this.pending.push({
        batch: { bytes, baseOffset, count, firstTimestamp: meta.firstTimestamp, maxTimestamp: meta.maxTimestamp },
        header,
        producer: meta.producer,
        enqueuedAt: performance.now(),
        resolve,
        reject,
      });
    });
    this.pendingBytes += size;
    this.queuedBytes += size;
    if (this.pending.length === 1 || this.queuedBytes >= this.limits.groupCommitBytes) this.wakeLinger?.();
    this.kickFlush();
    await synced;
    if (acks === "durable") await this.whenDurable(baseOffset + count);
    return { baseOffset, duplicate: false };
  }

  /**
   * Records from `offset`: at least one if any exists there (even if bigger than maxBytes), then
   * more while maxRecords and maxBytes allow. `offset === endOffset` gives [].
   */
  async read(offset: number, opts: ReadOptions): Promise<LogRecord[]> {
    const maxRecords = Math.max(1, Math.floor(opts.maxRecords));
    const maxBytes = Math.max(1, Math.min(Math.floor(opts.maxBytes), this.limits.maxFetchBytes));
    const batches = await this.readBatches(offset, { maxRecords, maxBytes });
    const out: LogRecord[] = [];
    let bytes = 0;
    for (const b of batches) {
      // Per-record size is estimated from its batch: records of one batch are usually alike.
      const perRecord = (b.header.length - BATCH_HEADER_SIZE) / b.header.count;
      for (const r of decodeBatchRecords(b.bytes, b.header)) {
        if (r.offset < offset) continue;
        if (out.length >= maxRecords || (out.length > 0 && bytes + perRecord > maxBytes)) return out;
        out.push(r);
        bytes += perRecord;
      }
    }
    return out;
  }

  /**
   * Whole, CRC-checked batches covering `offset` onwards (the first may start before it), for
   * callers that forward raw batches. Same bounds as read.
   */
  async readBatches(offset: number, opts: ReadOptions): Promise<ReadBatch[]> {
    if (!Number.isSafeInteger(offset) || offset < this.start || offset > this.endOffset) {
      throw new StrataError("OFFSET_OUT_OF_RANGE", `offset ${offset} is outside [${this.start}, ${this.endOffset}] of partition ${this.partition} of ${this.stream}`);
    }
    const maxBytes = Math.max(1, Math.min(Math.floor(opts.maxBytes), this.limits.maxFetchBytes));
    const maxRecords = Math.max(1, Math.floor(opts.maxRecords));
    const out: ReadBatch[] = [];
    let collected = 0;
    let records = 0;
    let cur = offset;
    const end = this.endOffset;
    while (cur < end && records < maxRecords && (out.length === 0 || collected < maxBytes)) {
      const got = await this.reader.read(cur, out.length === 0 ? maxBytes : maxBytes - collected);
      if (got.length === 0) break;
      for (const b of got) {
        out.push(b);
        collected += b.header.length;
        records += b.header.baseOffset + b.header.count - Math.max(cur, b.header.baseOffset);
        cur = b.header.baseOffset + b.header.count;
      }
    }
    return out;
  }

  /** Resolves once endOffset > offset, after `ms`, on abort, or at close. */
  waitForData(offset: number, ms: number, signal?: AbortSignal): Promise<void> {
    if (this.endOffset > offset || this.closed || ms <= 0 || signal?.aborted) return Promise.resolve();
    if (this.dataWaiters.size >= this.limits.maxWaiters) {
      return Promise.reject(new StrataError("UNAVAILABLE", `too many readers waiting on partition ${this.partition} of ${this.stream}`));
    }
    return new Promise<void>((resolve) => {
      const done = (): void => {
        clearTimeout(timer);
        signal?.removeEventListener("abort", done);
        this.dataWaiters.delete(waiter);
        resolve();
      };
      const waiter: DataWaiter = { offset, done };
      const timer = setTimeout(done, ms);
      signal?.addEventListener("abort", done, { once: true });
      this.dataWaiters.add(waiter);
    });
  }

  /** Removes whole committed segments past the retention policy: metadata, then objects, then cache files. */
  enforceRetention(now: number): Promise<void> {
    if (this.closed) return Promise.resolve();
    this.retentionRunning ??= this.runRetention(now).finally(() => (this.retentionRunning = undefined));
    return this.retentionRunning;
  }

  /** Seals the active segment if its first batch is older than segmentMs. */
  sealIfOld(now: number): void {
    if (this.walSince !== undefined && now - this.walSince >= this.limits.segmentMs && !this.closed) this.requestRoll();
  }

  /** Seals the active segment now (if it holds data); resolves once it is committed to the object store. */
  async flushToObjectStore(): Promise<void> {
    const end = this.endOffset;
    if (end > this.durableEndOffset) await this.whenDurable(end);
  }

  /** Writes everything pending, stops uploads and waiters. Does not seal. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.wakeLinger?.();
    while (this.flushing) await this.flushing;
    this.wakeUploader?.();
    await this.uploading;
    await this.retentionRunning?.catch(() => {}); // its failure was reported to its caller
    for (const w of [...this.dataWaiters]) w.done();
    const err = new StrataError("UNAVAILABLE", `partition ${this.partition} of ${this.stream} is closing`);
    for (const w of this.durableWaiters.splice(0)) w.reject(err);
    for (const w of this.syncWaiters.splice(0)) w.reject(err);
    await this.wal.close();
  }

  // ---- write path ----

  private assertWritable(): void {
    if (this.failure) throw this.failure;
    if (this.closed) throw new StrataError("UNAVAILABLE", `partition ${this.partition} of ${this.stream} is closed`);
  }

  private kickFlush(): void {
    if (this.flushing || this.failure) return;
    this.flushing = this.flushLoop()
      .catch((e: unknown) => {
        this.fail(e);
      })
      .finally(() => {
        this.flushing = undefined;
        // An append may have arrived after the loop's last check but before this ran.
        if (this.pending.length > 0 || this.rollRequested) this.kickFlush();
      });
  }

  private async flushLoop(): Promise<void> {
    for (;;) {
      if (this.failure) {
        await this.drainWrites();
        return;
      }
      if (this.pending.length > 0) {
        if (this.writes.size >= this.limits.walWritesInFlight) {
          await this.waitForWake(undefined);
          continue;
        }
        const waitMs = this.closed || this.queuedBytes >= this.limits.groupCommitBytes
          ? 0
          : this.limits.groupCommitMs - (performance.now() - this.pending[0]!.enqueuedAt);
        if (waitMs > 0) {
          await this.waitForWake(waitMs);
          continue;
        }
        const size = this.pending[0]!.batch.bytes.length;
        const walBytes = this.wal.issuedSize;
        if (walBytes > 0 && walBytes + size > this.limits.segmentBytes) {
          // The next batch does not fit the active segment: finish its writes, then roll.
          await this.drainWrites();
          if (this.failure) continue;
          if (!this.wal.isEmpty) await this.roll();
          continue;
        }
        this.startWrite(this.takeGroup(this.limits.segmentBytes - walBytes));
        continue;
      }
      if (this.writes.size > 0) {
        await this.waitForWake(undefined);
        continue;
      }
      if (this.rollRequested || this.wal.size >= this.limits.segmentBytes) {
        this.rollRequested = false;
        if (!this.wal.isEmpty) await this.roll();
        continue;
      }
      return;
    }
  }

  /** Waits until woken (an append, a finished write, close) or `ms` pass (undefined: no timeout). */
  private async waitForWake(ms: number | undefined): Promise<void> {
    await new Promise<void>((resolve) => {
      const t = ms === undefined ? undefined : setTimeout(resolve, ms);
      this.wakeLinger = () => {
        if (t !== undefined) clearTimeout(t);
        resolve();
      };
    });
    this.wakeLinger = undefined;
  }

  private async drainWrites(): Promise<void> {
    while (this.writes.size > 0) await Promise.allSettled([...this.writes]);
  }

  /** Takes the oldest pending appends: at least one, then up to groupCommitMaxBytes and `room` bytes. */
  private takeGroup(room: number): PendingAppend[] {
    const max = Math.min(this.limits.groupCommitMaxBytes, room);
    let n = 1;
    let bytes = this.pending[0]!.batch.bytes.length;
    while (n < this.pending.length && bytes + this.pending[n]!.batch.bytes.length <= max) {
      bytes += this.pending[n]!.batch.bytes.length;
      n++;
    }
    this.queuedBytes -= bytes;
    return this.pending.splice(0, n);
  }

  /** Writes one group durably; acknowledges it once it and every earlier group are on disk. */
  private startWrite(group: PendingAppend[]): void {
    const batches = group.map((p) => p.batch);
    const started = performance.now();
    const position = this.wal.issuedSize;
    const wal = this.wal;
    let written: Promise<void>;
    try {
      written = wal.write(batches);
    } catch (e) {
      written = Promise.reject(e); // failed before any byte was written: handled below like a failed write
    }
    const previous = this.lastAck;
    // Never rejects: every failure marks the partition failed and rejects this group's appends.
    const acked = (async () => {
      try {
        // Both settle before anything is decided: no rejection is left unobserved.
        const [own] = await Promise.allSettled([written, previous]);
        if (this.failure) throw this.failure;
        if (own.status === "rejected") throw own.reason;
        wal.commit(batches);
        this.acknowledge(group, position, started);
      } catch (e) {
        // Settled promises ignore the reject: only appends not yet acknowledged fail.
        const err = this.fail(e);
        for (const p of group) p.reject(err);
      }
    })();
    this.lastAck = acked;
    const tracked = acked.finally(() => {
      this.writes.delete(tracked);
      this.wakeLinger?.();
    });
    this.writes.add(tracked);
  }

  private acknowledge(group: PendingAppend[], position: number, started: number): void {
    this.ctx.metrics.walFsyncSeconds.observe((performance.now() - started) / 1000);
    this.walSince ??= Date.now();
    for (const p of group) {
      if (p.producer) this.durableProducers.apply(p.producer, p.batch.baseOffset, p.batch.count);
      this.tail.push({ header: p.header, bytes: p.batch.bytes, position });
      position += p.batch.bytes.length;
      this.pendingBytes -= p.batch.bytes.length;
      p.resolve();
    }
    const end = this.wal.endOffset;
    this.syncWaiters = settle(this.syncWaiters, end);
    for (const w of [...this.dataWaiters]) if (end > w.offset) w.done();
  }

  /** Seals the active WAL into a pending segment and starts a new WAL. Runs inside the flush loop. */
  private async roll(): Promise<void> {
    invariant(!this.wal.isEmpty, "roll a non-empty WAL");
    const file = await this.wal.seal();
    this.pendingSegments.push({ file, snapshot: this.durableProducers.toRows() });
    this.pendingSegmentBytes += file.objectSize;
    this.reportUnuploaded();
    this.layoutVersion++;
    this.wal = await WalFile.create(this.ctx.dir, file.endOffset, this.limits.indexIntervalBytes);
    this.walSince = undefined;
    this.layoutVersion++;
    this.kickUploader();
  }

  private reportUnuploaded(): void {
    this.ctx.metrics.unuploadedBytes.set({ stream: this.stream, partition: String(this.partition) }, this.pendingSegmentBytes);
  }

  private requestRoll(): void {
    if (this.failure) return;
    this.rollRequested = true;
    this.kickFlush();
  }

  /** Marks the partition failed: a WAL write or fsync error leaves the file in an unknown state. */
  private fail(e: unknown): StrataError {
    if (!this.failure) {
      this.failure = new StrataError(
        "STORAGE_ERROR",
        `partition ${this.partition} of ${this.stream}: WAL write failed, partition read-only until restart: ${(e as Error).message}`,
        { cause: e },
      );
      this.ctx.onBackgroundError(e, `WAL of ${this.stream}/${this.partition}`);
      for (const p of this.pending.splice(0)) p.reject(this.failure);
      this.queuedBytes = 0;
      for (const w of this.syncWaiters.splice(0)) w.reject(this.failure);
      for (const w of this.durableWaiters.splice(0)) w.reject(this.failure);
    }
    return this.failure;
  }

  private whenSynced(end: number): Promise<void> {
    if (this.endOffset >= end) return Promise.resolve();
    if (this.failure) return Promise.reject(this.failure);
    return new Promise((resolve, reject) => this.syncWaiters.push({ end, resolve, reject }));
  }

  /**
   * Resolves once a committed segment covers `end`. Durable appends that arrive while an upload
   * is running wait for it to finish and then share one early seal: under steady durable load
   * the partition makes one segment per upload round trip, not one per append.
   */
  private whenDurable(end: number): Promise<void> {
    if (this.durableEndOffset >= end) return Promise.resolve();
    if (this.failure) return Promise.reject(this.failure);
    if (this.closed) return Promise.reject(new StrataError("UNAVAILABLE", "partition is closing"));
    if (this.uploadFailure) return Promise.reject(this.uploadFailure);
    const p = new Promise<void>((resolve, reject) => this.durableWaiters.push({ end, resolve, reject }));
    if (!this.uploading) this.requestRollForDurable();
    return p;
  }

  private requestRollForDurable(): void {
    const lastPending = this.pendingSegments[this.pendingSegments.length - 1];
    const sealedEnd = lastPending ? lastPending.file.endOffset : this.durableEndOffset;
    if (this.durableWaiters.some((w) => w.end > sealedEnd)) this.requestRoll();
  }

  // ---- upload path ----

  private kickUploader(): void {
    if (this.uploading || this.closed) return;
    this.uploading = this.uploadLoop().finally(() => {
      this.uploading = undefined;
      if (this.closed) return;
      // A roll may have queued a segment after the loop's last check but before this ran.
      if (this.pendingSegments.length > 0) this.kickUploader();
      // Durable appends that came in during the last upload share the next early seal.
      else if (!this.failure) this.requestRollForDurable();
    });
  }

  private async uploadLoop(): Promise<void> {
    let backoff = 100;
    while (!this.closed && this.pendingSegments.length > 0) {
      const seg = this.pendingSegments[0]!;
      try {
        await this.uploadAndCommit(seg);
        backoff = 100;
        this.uploadFailure = undefined;
      } catch (e) {
        this.ctx.onBackgroundError(e, `upload of ${this.stream}/${this.partition} segment ${seg.file.baseOffset}`);
        const err = new StrataError(
          "STORAGE_ERROR",
          `partition ${this.partition} of ${this.stream}: segment upload failing (data is safe on local disk, retrying): ${(e as Error).message}`,
          { cause: e },
        );
        this.uploadFailure = err;
        // Durable appends fail now (their data stays safe locally and the upload is retried).
        for (const w of this.durableWaiters.splice(0)) w.reject(err);
        await new Promise<void>((resolve) => {
          const t = setTimeout(resolve, backoff);
          this.wakeUploader = () => {
            clearTimeout(t);
            resolve();
          };
        });
        this.wakeUploader = undefined;
        backoff = Math.min(backoff * 2, MAX_UPLOAD_BACKOFF_MS);
      }
    }
  }

  private async uploadAndCommit(seg: PendingSegment): Promise<void> {
    const started = performance.now();
    const f = seg.file;
    const key = segmentObjectKey(this.stream, this.partition, f.baseOffset);
    await uploadSegmentFile(this.ctx.objectStore, key, f.path, f.objectSize, this.limits.uploadPartBytes);
    const row: SegmentRow = {
      baseOffset: f.baseOffset,
      endOffset: f.endOffset,
      bytes: f.objectSize,
      firstTimestamp: f.firstTimestamp,
      maxTimestamp: f.maxTimestamp,
      objectKey: key,
    };
    await this.ctx.catalog.commitSegment(this.stream, this.partition, row, seg.snapshot);
    // Committed: the local file is now only a cache entry.
    const cached = cachePath(this.ctx.dir, f.baseOffset);
    await mkdir(dirname(cached), { recursive: true }); // someone may have wiped the cache directory
    await rename(f.path, cached);
    invariant(this.pendingSegments[0] === seg, "segments commit in order");
    this.pendingSegments.shift();
    this.pendingSegmentBytes -= f.objectSize;
    this.committed.push(row);
    this.committedBytes += row.bytes;
    this.layoutVersion++;
    this.ctx.cache.add(cached, f.objectSize);
    this.ctx.remote.rememberIndex(key, {
      baseOffset: f.baseOffset,
      endOffset: f.endOffset,
      dataLength: f.dataLength,
      firstTimestamp: f.firstTimestamp,
      maxTimestamp: f.maxTimestamp,
      index: f.index,
      objectSize: f.objectSize,
    });
    this.ctx.metrics.segmentsUploaded.inc({ stream: this.stream });
    this.ctx.metrics.segmentUploadSeconds.observe((performance.now() - started) / 1000);
    this.reportUnuploaded();
    this.durableWaiters = settle(this.durableWaiters, row.endOffset);
  }

  // ---- retention ----

  private async runRetention(now: number): Promise<void> {
    const doomed = planRetention(this.committed, this.retention, this.bytes, now);
    if (doomed.length === 0) return;
    const newStart = doomed[doomed.length - 1]!.endOffset;
    // Metadata first: once the rows are gone nobody reads these objects; a crash before the
    // object deletes leaves only garbage, never a dangling row.
    await this.ctx.catalog.deleteSegments(this.stream, this.partition, doomed.map((s) => s.baseOffset), newStart);
    invariant(this.committed[0] === doomed[0], "retention removes the oldest segments");
    this.committed = this.committed.slice(doomed.length);
    this.committedBytes -= doomed.reduce((n, s) => n + s.bytes, 0);
    this.start = Math.max(this.start, newStart);
    this.layoutVersion++;
    try {
      await this.ctx.objectStore.deleteMany(doomed.map((s) => s.objectKey));
    } catch (e) {
      this.ctx.onBackgroundError(e, `retention delete of ${doomed.length} segment objects of ${this.stream}/${this.partition}`);
    }
    for (const s of doomed) {
      this.ctx.cache.remove(cachePath(this.ctx.dir, s.baseOffset), true);
      this.ctx.remote.forget(s.objectKey);
    }
  }
}

function checkMeta(meta: AppendMeta): void {
  const ts = (n: number): boolean => Number.isSafeInteger(n) && n >= 0;
  if (!ts(meta.firstTimestamp) || !ts(meta.maxTimestamp) || meta.maxTimestamp < meta.firstTimestamp) {
    throw new StrataError("BAD_REQUEST", "batch timestamps must be non-negative integers with max >= first");
  }
  const p = meta.producer;
  if (p && (!Number.isSafeInteger(p.id) || p.id < 0 || !Number.isInteger(p.epoch) || p.epoch < 0 || p.epoch > 0xffff
    || !Number.isInteger(p.seq) || p.seq < 0 || p.seq > 0xffff_ffff)) {
    throw new StrataError("BAD_REQUEST", "producer id must be a non-negative safe integer, epoch a u16 and seq a u32");
  }
}

/** Resolves waiters whose end is covered; returns the rest. */
function settle(waiters: OffsetWaiter[], end: number): OffsetWaiter[] {
  if (waiters.length === 0) return waiters;
  const rest: OffsetWaiter[] = [];
  for (const w of waiters) {
    if (w.end <= end) w.resolve();
    else rest.push(w);
  }
  return rest;
}
