// One partition's log: validates and numbers appends, and composes the parts that do the work.
//
//   group-commit.ts      appends → durable WAL writes, acknowledged in order; seals segments
//   segment-uploader.ts  sealed segments → object store, retried with backoff while failing
//   offset-waiters.ts    appends waiting for sync or durability; long-polling readers
//   partition-state.ts   where the records are (committed, pending, WAL, memory tail)
//   partition-reader.ts  reads from whichever tier holds an offset
//   retention.ts         what to remove, and removing it
//   compaction.ts        rewriting committed segments without superseded records (compacted streams)
//
// Readers only ever see fsynced data: endOffset is the end of what is on disk, so a record once
// read cannot vanish in a crash. Offsets only grow along the way to the object store:
// start <= durable end <= sealed end <= synced end <= written end <= next offset (asserted).
//
// Cluster mode (ctx.cluster, docs/cluster.md): each synced group goes on to the gateway's intake
// (intake-writer.ts) and is acknowledged, readable and long-poll-visible only once its intake range
// is committed: endOffset is then the intake-committed end (or a committed segment's end, if one
// got there first), never a WAL end that a failover could lose; intake end <= synced end
// (asserted). acks=durable resolves at the intake commit too: the intake object is in the object
// store already. A fenced commit (intake range or segment) fails the partition with LEASE_LOST
// for good and tells the store (onLeaseLost).
import { encodeBatch, setBaseOffset, BATCH_HEADER_SIZE, decodeBatchRecords, type BatchHeader } from "../../core/log/batch.ts";
import { StrataError, invariant } from "../../core/errors.ts";
import type { Acks, LogRecord, ProducerRef } from "../../core/log/record.ts";
import type { ReadBatch } from "./batch-reader.ts";
import { GroupCommit, type QueuedAppend } from "./group-commit.ts";
import { LongPollWaiters, OffsetWaiters } from "./offset-waiters.ts";
import type { PartitionContext } from "./partition-context.ts";
import { PartitionIntake } from "./partition-intake.ts";
import { PartitionReader } from "./partition-reader.ts";
import { recoverPartition, type PendingSegment, type RecoveredPartition } from "./partition-recovery.ts";
import { addPending, assertOffsets, durableEnd, heldBytes, replaceWal, sealedEnd, type PartitionState } from "./partition-state.ts";
import { ProducerState, type ProducerBatch } from "./producer-state.ts";
import { selectRecords, type SelectionBounds } from "./record-selection.ts";
import { applyRetention, type RetentionPolicy } from "./retention.ts";
import { compactPartition, type CompactionOutcome, type CompactionPolicy } from "./compaction.ts";
import type { CompactionJudge } from "./compaction-segment.ts";
import { uploadAndCommit } from "./segment-upload.ts";
import { SegmentUploader } from "./segment-uploader.ts";
import { TailBuffer } from "./tail-buffer.ts";
import { WalFile } from "./wal.ts";

export type { PartitionContext } from "./partition-context.ts";

export interface AppendMeta {
  readonly firstTimestamp: number;
  readonly maxTimestamp: number;
  readonly producer: ProducerRef | null;
}

export type ReadOptions = SelectionBounds;

/** open → closing (close() flushes and stops the background work) → closed. A WAL failure lives in the group commit. */
type Lifecycle = { readonly kind: "open" } | { readonly kind: "closing" } | { readonly kind: "closed" };

export class PartitionLog {
  readonly stream: string;
  readonly partition: number;
  #lifecycle: Lifecycle = { kind: "open" };
  #retention: RetentionPolicy = {};
  #retentionRun: Promise<void> | undefined;
  #compactionRun: Promise<CompactionOutcome> | undefined;
  readonly #state: PartitionState;
  /** Next offset to assign: endOffset plus everything queued or being written. */
  #next: number;
  /** Includes appends not yet synced: used to classify new batches. */
  #liveProducers: ProducerState;
  /** Exactly what is on disk: snapshotted into the catalog with each segment. */
  readonly #durableProducers: ProducerState;
  /** Wall-clock time the active WAL got its first batch (for sealing by age). */
  #walSince: number | undefined;
  readonly #commit: GroupCommit;
  readonly #uploader: SegmentUploader<PendingSegment>;
  /** Retried batches waiting for their first copy to be synced. */
  readonly #syncWaiters: OffsetWaiters;
  /** acks=durable appends waiting for a committed segment. */
  readonly #durableWaiters: OffsetWaiters;
  readonly #longPolls: LongPollWaiters;
  readonly #reader: PartitionReader;
  /** Cluster mode: the partition's side of the gateway's intake. */
  readonly #intake: PartitionIntake | undefined;
  /** Cluster mode: set once a commit was fenced (LEASE_LOST); every later append fails with it. */
  #fenced: StrataError | undefined;

  private constructor(private readonly ctx: PartitionContext, recovered: RecoveredPartition) {
    this.stream = ctx.stream;
    this.partition = ctx.partition;
    const { limits } = ctx;
    const label = `partition ${ctx.partition} of ${ctx.stream}`;
    this.#state = {
      startOffset: recovered.startOffset,
      committed: recovered.committed,
      committedBytes: recovered.committed.reduce((n, s) => n + s.bytes, 0),
      pending: recovered.pending,
      pendingBytes: recovered.pending.reduce((n, s) => n + s.file.objectSize, 0),
      wal: recovered.wal,
      tail: new TailBuffer(limits.memoryTailBytes),
      layoutVersion: 0,
      layoutWaiters: new Set(),
    };
    this.#next = recovered.wal.endOffset;
    // What recovery found in the WAL was rebuilt from committed intake ranges (partition-rebuild.ts).
    this.#intake = ctx.cluster
      ? new PartitionIntake(ctx.cluster, ctx.stream, ctx.partition, recovered.wal.endOffset, limits.maxOffsetWaiters, {
          committed: () => this.#readableMoved(),
          fenced: (error) => this.#fence(error, true),
        })
      : undefined;
    this.#walSince = recovered.wal.isEmpty ? undefined : Date.now();
    this.#durableProducers = recovered.producers;
    this.#liveProducers = recovered.producers.clone();
    this.#syncWaiters = new OffsetWaiters(limits.maxOffsetWaiters, `their first copy on ${label}`);
    this.#durableWaiters = new OffsetWaiters(limits.maxOffsetWaiters, `the object store on ${label}`);
    this.#longPolls = new LongPollWaiters(limits.maxWaiters, label);
    this.#commit = new GroupCommit(limits, label, {
      wal: () => this.#state.wal,
      roll: () => this.#roll(),
      synced: (group, position, seconds) => this.#synced(group, position, seconds),
      failed: (error, cause) => {
        ctx.onBackgroundError(cause, `WAL of ${this.stream}/${this.partition}`);
        this.#syncWaiters.rejectAll(error);
        this.#durableWaiters.rejectAll(error);
        this.#intake?.rejectAll(error);
      },
      reset: (error, cause) => this.#resetAfterFullDisk(error, cause),
    });
    this.#uploader = new SegmentUploader(label, {
      next: () => this.#state.pending[0],
      upload: (segment) => this.#upload(segment),
      failing: (error, cause, segment) => {
        ctx.onBackgroundError(cause, `upload of ${this.stream}/${this.partition} segment ${segment.file.baseOffset}`);
        // Durable appends fail now (their data stays safe locally and the upload is retried).
        this.#durableWaiters.rejectAll(error);
      },
      drained: () => this.#sealForDurable(),
    });
    for (const [path, bytes] of recovered.cached) ctx.cache.add(path, bytes);
    this.#reader = new PartitionReader(ctx, this.#state);
    this.#checkOffsets();
  }

  /** Recovers the partition from its directory and the catalog, and resumes unfinished uploads. */
  static async open(ctx: PartitionContext): Promise<PartitionLog> {
    await ctx.catalog.ensurePartition(ctx.stream, ctx.partition);
    const catalog = await ctx.catalog.load(ctx.stream, ctx.partition);
    const recovered = await recoverPartition(ctx.dir, catalog, ctx.limits, ctx.walIo);
    const log = new PartitionLog(ctx, recovered);
    if (recovered.cutBytes > 0) ctx.metrics.walTornBytes.inc({}, recovered.cutBytes);
    log.#reportUnuploaded();
    log.#uploader.kick();
    return log;
  }

  /** First offset still held (retention moves it forward). */
  get startOffset(): number {
    return this.#state.startOffset;
  }
  /** One past the last readable, acknowledged offset: synced, and in cluster mode intake-committed. */
  get endOffset(): number {
    if (!this.#intake) return this.#state.wal.endOffset;
    return Math.max(this.#intake.end, durableEnd(this.#state));
  }
  /** Bytes held: committed segment objects, sealed files awaiting upload and the active WAL. */
  get bytes(): number {
    return heldBytes(this.#state);
  }
  /** One past the last offset in the object store. */
  get durableEndOffset(): number {
    return durableEnd(this.#state);
  }

  setRetention(policy: RetentionPolicy): void {
    this.#retention = { ms: policy.ms ?? null, bytes: policy.bytes ?? null };
  }

  /** Idempotent-producer state for the service's cross-partition sequence checks. */
  producerState(id: number): { epoch: number; lastSeq: number } | undefined {
    return this.#liveProducers.get(id);
  }

  /** Where batch `seq` of producer `id` (its current epoch) was written, if it is one of its last 5. */
  producerBatch(id: number, seq: number): ProducerBatch | undefined {
    return this.#liveProducers.batch(id, seq);
  }

  /**
   * Appends one batch of encoded records (core/log/batch.ts encodeRecord). Resolves after fsync
   * (acks=local) or once the batch is in a committed segment object (acks=durable).
   */
  async append(encodedRecords: readonly Uint8Array[], meta: AppendMeta, acks: Acks = "local"): Promise<{ baseOffset: number; duplicate: boolean }> {
    let size = BATCH_HEADER_SIZE;
    for (const r of encodedRecords) size += r.length;
    return this.#appendSized(size, encodedRecords.length, meta, acks, (baseOffset) => encodeBatch(encodedRecords, { baseOffset, ...meta }));
  }

  /**
   * Appends a whole batch as it is (a client-built batch the service validated, its timestamps
   * stamped): only its base offset is written, outside the CRC. The batch's bytes become the
   * log's, so the caller must not change them afterwards.
   */
  async appendBatch(batch: Uint8Array, count: number, meta: AppendMeta, acks: Acks = "local"): Promise<{ baseOffset: number; duplicate: boolean }> {
    return this.#appendSized(batch.length, count, meta, acks, (baseOffset) => {
      setBaseOffset(batch, baseOffset);
      return batch;
    });
  }

  async #appendSized(size: number, count: number, meta: AppendMeta, acks: Acks, layOut: (baseOffset: number) => Uint8Array): Promise<{ baseOffset: number; duplicate: boolean }> {
    this.#assertWritable();
    const { limits } = this.ctx;
    const intake = this.#intake;
    if (count === 0) throw new StrataError("BAD_REQUEST", "a batch holds at least one record");
    if (size > limits.maxBatchBytes) {
      throw new StrataError("BATCH_TOO_LARGE", `batch of ${size} bytes exceeds the limit of ${limits.maxBatchBytes}`);
    }
    checkMeta(meta);
    if (meta.producer) {
      const seen = this.#liveProducers.check(meta.producer);
      if (seen.kind === "duplicate") {
        const end = seen.baseOffset + seen.count;
        await (intake ? intake.within(this.#whenSynced(end), seen.baseOffset) : this.#whenSynced(end));
        if (acks === "durable" && !intake) {
          const durable = this.#whenDurable(end);
          this.#sealForDurable();
          await durable;
        }
        return { baseOffset: seen.baseOffset, duplicate: true };
      }
    }
    if (this.#commit.unsyncedBytes + size > limits.maxPendingBytes) {
      throw new StrataError("UNAVAILABLE", `partition ${this.partition} of ${this.stream}: too many bytes waiting for fsync; retry`);
    }
    if (this.#state.pendingBytes > limits.maxUnuploadedBytes) {
      throw new StrataError("UNAVAILABLE", `partition ${this.partition} of ${this.stream}: object store is behind (${this.#state.pendingBytes} bytes not uploaded); retry`);
    }
    if (acks === "durable" && !intake && this.#durableWaiters.full) {
      throw new StrataError("UNAVAILABLE", `partition ${this.partition} of ${this.stream}: too many appends waiting for the object store; retry`);
    }
    if (intake) {
      intake.admit(size);
      return this.#appendClustered(intake, size, count, meta, layOut);
    }
    const baseOffset = this.#next;
    this.#next += count;
    const bytes = layOut(baseOffset);
    if (meta.producer) this.#liveProducers.apply(meta.producer, baseOffset, count);
    const header = headerOf(bytes, baseOffset, count, meta);
    // Registered before the write, so the waiter bound holds exactly; observed after the sync.
    const durable = acks === "durable" ? this.#whenDurable(baseOffset + count) : undefined;
    durable?.catch(() => {});
    await this.#commit.enqueue({
      batch: { bytes, baseOffset, count, firstTimestamp: meta.firstTimestamp, maxTimestamp: meta.maxTimestamp },
      header,
      producer: meta.producer,
    });
    if (durable) {
      this.#sealForDurable();
      await durable;
    }
    return { baseOffset, duplicate: false };
  }

  /** Cluster mode: the append is acknowledged once its intake range is committed (or a segment covers it). */
  async #appendClustered(intake: PartitionIntake, size: number, count: number, meta: AppendMeta, layOut: (baseOffset: number) => Uint8Array): Promise<{ baseOffset: number; duplicate: boolean }> {
    const baseOffset = this.#next;
    this.#next += count;
    const bytes = layOut(baseOffset);
    if (meta.producer) this.#liveProducers.apply(meta.producer, baseOffset, count);
    const header = headerOf(bytes, baseOffset, count, meta);
    // Registered before the write, so the waiter bound holds exactly.
    const committed = intake.wait(baseOffset + count, this.endOffset);
    committed.catch(() => {});
    try {
      await this.#commit.enqueue({
        batch: { bytes, baseOffset, count, firstTimestamp: meta.firstTimestamp, maxTimestamp: meta.maxTimestamp },
        header,
        producer: meta.producer,
      });
    } catch (e) {
      intake.release(size); // refused before it was synced: never handed to the intake
      throw e;
    }
    await intake.within(committed, baseOffset);
    return { baseOffset, duplicate: false };
  }

  /**
   * Records from `offset`: at least one if any exists there (even if bigger than maxBytes), then
   * more while maxRecords and maxBytes allow. `offset === endOffset` gives [].
   */
  async read(offset: number, opts: ReadOptions): Promise<LogRecord[]> {
    const bounds = this.#bounds(opts);
    return selectRecords(await this.readBatches(offset, bounds), offset, bounds, decodeBatchRecords);
  }

  /**
   * Whole, CRC-checked batches covering `offset` onwards (the first may start before it), for
   * callers that forward raw batches. Same bounds as read.
   */
  async readBatches(offset: number, opts: ReadOptions): Promise<ReadBatch[]> {
    const start = this.#state.startOffset;
    if (!Number.isSafeInteger(offset) || offset < start || offset > this.endOffset) {
      throw new StrataError("OFFSET_OUT_OF_RANGE", `offset ${offset} is outside [${start}, ${this.endOffset}] of partition ${this.partition} of ${this.stream}`);
    }
    const { maxRecords, maxBytes } = this.#bounds(opts);
    const out: ReadBatch[] = [];
    let collected = 0;
    let records = 0;
    let cur = offset;
    const end = this.endOffset;
    while (cur < end && records < maxRecords && (out.length === 0 || collected < maxBytes)) {
      const got = await this.#reader.read(cur, out.length === 0 ? maxBytes : maxBytes - collected);
      if (got.length === 0) break;
      for (const b of got) {
        if (b.header.baseOffset >= end) break; // synced, not yet intake-committed (cluster mode)
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
    if (this.endOffset > offset || this.#lifecycle.kind !== "open") return Promise.resolve();
    return this.#longPolls.wait(offset, ms, signal);
  }

  /** Removes whole committed segments past the retention policy: metadata, then objects, then cache files. */
  enforceRetention(now: number): Promise<void> {
    if (this.#lifecycle.kind !== "open") return Promise.resolve();
    // Never alongside a compaction pass: both replace committed segments.
    const compacting = this.#compactionRun?.catch(() => undefined);
    this.#retentionRun ??= Promise.resolve(compacting)
      .then(() => applyRetention(this.ctx, this.#state, this.#retention, now))
      .then(() => this.#checkOffsets())
      .finally(() => (this.#retentionRun = undefined));
    return this.#retentionRun;
  }

  /**
   * One compaction pass over the committed segments (docs/compaction.md); a pass already running
   * is joined. Runs after any retention run in progress, and retention waits for it.
   */
  compact(judge: CompactionJudge, policy: CompactionPolicy): Promise<CompactionOutcome> {
    if (this.#lifecycle.kind !== "open") return Promise.resolve({ segmentsRewritten: 0, recordsRemoved: 0, bytesRead: 0 });
    const retaining = this.#retentionRun?.catch(() => undefined);
    this.#compactionRun ??= Promise.resolve(retaining)
      .then(() => compactPartition(this.ctx, this.#state, judge, policy))
      .then((outcome) => {
        this.#checkOffsets();
        return outcome;
      })
      .finally(() => (this.#compactionRun = undefined));
    return this.#compactionRun;
  }

  /** Seals the active segment if its first batch is older than segmentMs. */
  sealIfOld(now: number): void {
    if (this.#lifecycle.kind !== "open" || this.#walSince === undefined) return;
    if (now - this.#walSince >= this.ctx.limits.segmentMs) this.#commit.requestRoll();
  }

  /** Seals the active segment now (if it holds data); resolves once it is committed to the object store. */
  async flushToObjectStore(): Promise<void> {
    const end = this.endOffset;
    if (end <= this.durableEndOffset) return;
    const durable = this.#whenDurable(end);
    this.#sealForDurable();
    await durable;
  }

  /**
   * Writes everything queued, stops uploads and waiters. Does not seal. In cluster mode,
   * "handoff" (the default) also waits until what was synced is intake-committed (or failed);
   * "lost" fails every append still waiting with LEASE_LOST first.
   */
  async close(how: "handoff" | "lost" = "handoff"): Promise<void> {
    if (this.#lifecycle.kind !== "open") return;
    if (how === "lost") this.#fence(new StrataError("LEASE_LOST", `partition ${this.partition} of ${this.stream}: lease lost`), false);
    this.#lifecycle = { kind: "closing" };
    await this.#commit.close();
    // Bounded: an intake that cannot commit (object store or database down) fails them at the deadline.
    if (this.#intake && !this.#fenced) await this.#intake.drain(this.#state.wal.endOffset, this.endOffset);
    await this.#uploader.stop();
    await this.#retentionRun?.catch(() => {}); // its failure was reported to its caller
    await this.#compactionRun?.catch(() => {});
    this.#longPolls.wakeAll();
    const closing = new StrataError("UNAVAILABLE", `partition ${this.partition} of ${this.stream} is closing`);
    this.#durableWaiters.rejectAll(closing);
    this.#syncWaiters.rejectAll(closing);
    this.#intake?.rejectAll(closing);
    await this.#state.wal.close();
    this.#lifecycle = { kind: "closed" };
  }

  #assertWritable(): void {
    if (this.#fenced) throw this.#fenced;
    const refused = this.#commit.refusal();
    if (refused) throw refused;
    if (this.#lifecycle.kind !== "open") throw new StrataError("UNAVAILABLE", `partition ${this.partition} of ${this.stream} is closed`);
  }

  #bounds(opts: ReadOptions): SelectionBounds {
    return {
      maxRecords: Math.max(1, Math.floor(opts.maxRecords)),
      maxBytes: Math.max(1, Math.min(Math.floor(opts.maxBytes), this.ctx.limits.maxFetchBytes)),
    };
  }

  /** A group commit is on disk (with everything before it): it becomes readable. */
  #synced(group: readonly QueuedAppend[], position: number, seconds: number): void {
    this.ctx.metrics.walFsyncSeconds.observe(seconds);
    this.#walSince ??= Date.now();
    for (const q of group) {
      if (q.producer) this.#durableProducers.apply(q.producer, q.batch.baseOffset, q.batch.count);
      this.#state.tail.push({ header: q.header, bytes: q.batch.bytes, position });
      position += q.batch.bytes.length;
    }
    if (this.#intake) {
      this.#intake.submit(group);
      this.#checkOffsets();
      return;
    }
    const end = this.endOffset;
    this.#syncWaiters.settle(end);
    this.#longPolls.wake(end);
    this.#checkOffsets();
  }

  /** Cluster mode: the readable end moved (intake commit or segment commit). */
  #readableMoved(): void {
    const end = this.endOffset;
    this.#intake?.settle(end);
    this.#syncWaiters.settle(end);
    this.#longPolls.wake(end);
    this.#checkOffsets();
  }

  /** A commit was fenced: this gateway no longer leads the partition. Every waiting append fails; the store is told once. */
  #fence(error: StrataError, tell: boolean): void {
    if (this.#fenced) return;
    this.#fenced = error;
    this.#intake?.rejectAll(error);
    this.#syncWaiters.rejectAll(error);
    this.#durableWaiters.rejectAll(error);
    if (tell) this.ctx.cluster?.onLeaseLost();
  }

  /**
   * The disk was full: every append past the synced end was refused. The WAL loses their bytes,
   * and their offsets and producer sequences are handed out again, so the log stays dense and a
   * producer's retry is new, not a duplicate of something never written.
   */
  async #resetAfterFullDisk(error: StrataError, cause: unknown): Promise<void> {
    this.ctx.onBackgroundError(cause, `WAL of ${this.stream}/${this.partition} (disk full; appends are refused for a moment, then retried)`);
    await this.#state.wal.truncateToSynced();
    this.#next = this.#state.wal.endOffset;
    this.#liveProducers = this.#durableProducers.clone();
    // Retries waiting for a refused first copy were refused; durable appends are too, since a full
    // disk may not take the seal they wait for (their records, if synced, are safe and readable).
    this.#syncWaiters.rejectAll(error);
    this.#durableWaiters.rejectAll(error);
    this.#checkOffsets();
  }

  /** Seals the active WAL into a pending segment and starts a new WAL (called by the group commit, with no write in flight). */
  async #roll(): Promise<void> {
    const s = this.#state;
    const file = await s.wal.seal();
    addPending(s, { file, snapshot: this.#durableProducers.toRows() });
    this.#reportUnuploaded();
    replaceWal(s, await WalFile.create(this.ctx.walIo, this.ctx.dir, file.endOffset, this.ctx.limits.indexIntervalBytes));
    this.#walSince = undefined;
    this.#checkOffsets();
    if (this.#lifecycle.kind === "open") this.#uploader.kick();
  }

  async #upload(segment: PendingSegment): Promise<void> {
    // A fenced leader uploads nothing more (its retries would only PUT and delete again).
    if (this.#fenced) throw this.#fenced;
    let row;
    try {
      row = await uploadAndCommit(this.ctx, this.#state, segment);
    } catch (e) {
      if (e instanceof StrataError && e.code === "LEASE_LOST") {
        this.#fence(e, true);
        this.#durableWaiters.rejectAll(e);
      }
      throw e;
    }
    this.#reportUnuploaded();
    this.#checkOffsets();
    this.#durableWaiters.settle(row.endOffset);
    if (this.#intake) this.#readableMoved();
  }

  #whenSynced(end: number): Promise<void> {
    if (end <= this.endOffset) return Promise.resolve();
    const failure = this.#commit.failure;
    if (failure) return Promise.reject(failure);
    return this.#syncWaiters.wait(end, this.endOffset);
  }

  /** Resolves once a committed segment covers `end`; fails fast while the WAL failed, the partition closes, or uploads fail. */
  #whenDurable(end: number): Promise<void> {
    const reached = this.durableEndOffset;
    if (end <= reached) return Promise.resolve();
    const refused = this.#fenced
      ?? this.#commit.failure
      ?? (this.#lifecycle.kind !== "open" ? new StrataError("UNAVAILABLE", "partition is closing") : undefined)
      ?? this.#uploader.failure;
    // A failing upload is retried now rather than at the end of its backoff: the store may be back.
    if (refused) {
      this.#uploader.retrySoon();
      return Promise.reject(refused);
    }
    return this.#durableWaiters.wait(end, reached);
  }

  /**
   * Durable appends wait for their records to be in a committed segment. Unless an upload is
   * running (when it finishes, this runs again), seal what they wait for now: durable appends
   * that arrive during an upload share one early seal, so under steady durable load the partition
   * makes one segment per upload round trip, not one per append.
   */
  #sealForDurable(): void {
    if (this.#lifecycle.kind !== "open" || this.#uploader.busy) return;
    if (this.#durableWaiters.waitsWithin(sealedEnd(this.#state), this.endOffset)) this.#commit.requestRoll();
  }

  #reportUnuploaded(): void {
    this.ctx.metrics.unuploadedBytes.set({ stream: this.stream, partition: String(this.partition) }, this.#state.pendingBytes);
  }

  #checkOffsets(): void {
    assertOffsets(this.#state, this.#next);
    const intakeEnd = this.#intake?.end ?? 0;
    invariant(intakeEnd <= this.#state.wal.endOffset, `intake-committed end ${intakeEnd} <= synced end ${this.#state.wal.endOffset}`);
  }
}

function headerOf(bytes: Uint8Array, baseOffset: number, count: number, meta: AppendMeta): BatchHeader {
  return {
    length: bytes.length,
    baseOffset,
    crc: new DataView(bytes.buffer, bytes.byteOffset).getUint32(16, true),
    count,
    firstTimestamp: meta.firstTimestamp,
    maxTimestamp: meta.maxTimestamp,
    producer: meta.producer,
  };
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
