// The storage engine of one gateway: every partition log it leads, the local segment cache and
// object-store range cache they share, and the background timers that seal old segments and
// enforce retention.
//
// On disk: <dataDir>/log/<stream, URL-encoded>/<partition>/ (stream names contain '/', encoded as
// %2F so a stream is one directory; names are validated before they touch a path).
//
// Cluster mode (config.cluster, docs/cluster.md): open() opens no partition and discards whatever
// local log an earlier run left; the cluster layer calls lead() for each partition whose lease it
// was granted (the directory is rebuilt from shared state, partition-rebuild.ts) and resign() when
// it hands one over or lost it. Synced appends go through the store's one IntakeWriter.
import { readdir, rm, stat } from "node:fs/promises";
import { join } from "node:path";
import { getLogger } from "@logtape/logtape";
import { StrataError } from "../../core/errors.ts";
import { assertStoredStreamName } from "../../core/log/stream-name.ts";
import type { MetadataDb } from "../db/database.ts";
import type { GatewayMetrics } from "../metrics.ts";
import { mapLimit } from "../../core/util/concurrency.ts";
import type { ObjectStore } from "../objects/object-store.ts";
import type { PartitionContext } from "./partition-context.ts";
import { PartitionLog } from "./partition-log.ts";
import { RemoteSegmentReader } from "./remote-segment-reader.ts";
import type { RetentionPolicy } from "./retention.ts";
import { FileCache } from "../objects/file-cache.ts";
import { SegmentCatalog } from "./segment-catalog.ts";
import type { StorageLimits } from "./storage-limits.ts";
import { FdBudgetIo } from "./fd-budget.ts";
import { nodeWalIo, type WalIo } from "./wal-io.ts";
import { KeyedLock } from "../../core/util/keyed-lock.ts";
import type { IntakeLimits } from "./intake-limits.ts";
import { IntakeWriter } from "./intake-writer.ts";
import { rebuildPartition } from "./partition-rebuild.ts";

export { PartitionLog } from "./partition-log.ts";
export type { AppendMeta, ReadOptions } from "./partition-log.ts";
export type { StorageLimits } from "./storage-limits.ts";
export { DEFAULT_STORAGE_LIMITS, resolveLimits } from "./storage-limits.ts";

export interface LogStoreConfig {
  readonly dataDir: string;
  readonly objectStore: ObjectStore;
  readonly db: MetadataDb;
  readonly metrics: GatewayMetrics;
  /** From resolveLimits (storage-limits.ts). */
  readonly limits: StorageLimits;
  /** How often to look for segments older than segmentMs (default: min(1 s, segmentMs / 2)). */
  readonly sealCheckMs?: number;
  /** How often to enforce retention on every partition (default 30 s). */
  readonly retentionCheckMs?: number;
  /** Failures of background work nobody awaits (uploads, retention). Default: logged as errors under ["strata", "log"]. */
  readonly onError?: (error: unknown, what: string) => void;
  /** File operations of every WAL (default: node:fs); tests pass one that injects I/O errors. */
  readonly walIo?: WalIo;
  /**
   * The least offset of stream/partition something above storage pins (live dataset versions),
   * or undefined; retention never removes a segment holding it or a later offset. Injected by
   * the composition root: storage never imports the services that pin.
   */
  readonly pinnedFloor?: (stream: string, partition: number) => number | undefined;
  /** Cluster mode (docs/cluster.md): partitions are opened by lead() only, and acknowledged through the intake. */
  readonly cluster?: LogStoreCluster;
}

export interface LogStoreCluster {
  /** This gateway's node name (lease holder, intake object keys). */
  readonly node: string;
  /** Grows on every start of the node (intake object keys). */
  readonly incarnation: number;
  readonly intake: IntakeLimits;
  /** A commit of a partition led with `epoch` was fenced: the cluster layer resigns it. */
  onLeaseLost(stream: string, partition: number, epoch: number): void;
}

/** A partition this gateway leads, and the lease epoch it leads it under. */
export interface LedPartition {
  readonly stream: string;
  readonly partition: number;
  readonly epoch: number;
}

const log = getLogger(["strata", "log"]);

/** Partitions opened (recovered) in parallel at start. */
const OPEN_CONCURRENCY = 8;

export class LogStore {
  private readonly logs = new Map<string, PartitionLog>();
  private readonly opening = new Map<string, Promise<PartitionLog>>();
  private readonly catalog: SegmentCatalog;
  private readonly cache: FileCache;
  private readonly remote: RemoteSegmentReader;
  private readonly onError: (error: unknown, what: string) => void;
  /** Every partition's WAL files, under one descriptor budget (limits.maxOpenWalFiles). */
  private readonly walIo: FdBudgetIo;
  private readonly timers: ReturnType<typeof setInterval>[] = [];
  private closed = false;
  /** Cluster mode: the intake every led partition acknowledges through. */
  private readonly intake: IntakeWriter | undefined;
  /** Cluster mode: the epoch each open partition is led under. */
  private readonly epochs = new Map<string, LedPartition>();
  /** Cluster mode: lead() and resign() of one partition, one at a time. */
  private readonly leadership = new KeyedLock();

  /** Largest batch one partition accepts (client-built batches are checked against it before anything is written). */
  get maxBatchBytes(): number {
    return this.config.limits.maxBatchBytes;
  }

  private constructor(private readonly config: LogStoreConfig) {
    this.onError = config.onError ?? ((error, what) => log.error("{what} failed: {error}", { what, error }));
    this.catalog = new SegmentCatalog(config.db);
    this.cache = new FileCache(
      config.limits.cacheBytes,
      (path, e) => this.onError(e, `evicting ${path}`),
      (bytes) => config.metrics.segmentCacheBytes.set({}, bytes),
    );
    this.remote = new RemoteSegmentReader(config.objectStore, config.limits.rangeCacheBytes, config.metrics);
    this.walIo = new FdBudgetIo(config.walIo ?? nodeWalIo, config.limits.maxOpenWalFiles);
    const cluster = config.cluster;
    this.intake = cluster
      ? new IntakeWriter({ db: config.db, store: config.objectStore, node: cluster.node, incarnation: cluster.incarnation, limits: cluster.intake, metrics: config.metrics })
      : undefined;
  }

  /** Intake counters (cluster mode), for metrics, tests and the bench. */
  intakeStats(): IntakeWriter["stats"] | undefined {
    return this.intake?.stats;
  }

  /** Recovers every partition of every stream in the catalog, then starts the background timers. */
  static async open(config: LogStoreConfig): Promise<LogStore> {
    const store = new LogStore(config);
    if (config.cluster) {
      // Nothing local survives a restart in cluster mode: lead() rebuilds from shared state.
      await rm(join(config.dataDir, "log"), { recursive: true, force: true });
      store.startTimers();
      return store;
    }
    const streams = await store.catalog.listStreams();
    const work = streams.flatMap((s) =>
      Array.from({ length: s.partitions }, (_, p) => ({ stream: s.name, partition: p, retention: { ms: s.retentionMs, bytes: s.retentionBytes } })),
    );
    try {
      await mapLimit(work, OPEN_CONCURRENCY, async (w) => (await store.openOne(w.stream, w.partition)).setRetention(w.retention));
    } catch (e) {
      await store.close();
      throw e;
    }
    await store.reportOrphans(new Set(streams.map((s) => encodeURIComponent(s.name))));
    store.startTimers();
    return store;
  }

  private startTimers(): void {
    const config = this.config;
    const segmentMs = config.limits.segmentMs;
    this.every(config.sealCheckMs ?? Math.max(1, Math.min(1000, Math.floor(segmentMs / 2))), () => {
      const now = Date.now();
      for (const log of this.logs.values()) log.sealIfOld(now);
    });
    this.every(config.retentionCheckMs ?? 30_000, () => {
      void mapLimit([...this.logs.values()], 4, (log) =>
        log.enforceRetention(Date.now()).catch((e: unknown) => this.onError(e, `retention of ${log.stream}/${log.partition}`)),
      );
    });
  }

  /**
   * Cluster mode: starts leading stream/partition under lease `epoch`: the partition's directory is
   * rebuilt from shared state (committed segments + committed intake ranges) and the log opened.
   * Idempotent for the same epoch; a partition led under an older epoch is resigned ("lost") first.
   * CORRUPT_DATA (nothing opened) when the shared state cannot be read back whole.
   */
  lead(stream: string, partition: number, epoch: number, retention: RetentionPolicy): Promise<void> {
    const cluster = this.config.cluster;
    if (!cluster) return Promise.reject(new StrataError("BAD_REQUEST", "lead() is for cluster mode"));
    assertStoredStreamName(stream);
    if (!Number.isSafeInteger(partition) || partition < 0) return Promise.reject(new StrataError("BAD_REQUEST", `bad partition ${partition}`));
    if (!Number.isSafeInteger(epoch) || epoch < 1) return Promise.reject(new StrataError("BAD_REQUEST", `bad lease epoch ${epoch}`));
    const key = logKey(stream, partition);
    return this.leadership.run(key, async () => {
      if (this.closed) throw new StrataError("UNAVAILABLE", "log store is closed");
      const led = this.epochs.get(key);
      if (led?.epoch === epoch) {
        this.logs.get(key)?.setRetention(retention);
        return;
      }
      if (led) await this.closeLed(key, "lost");
      const dir = partitionDir(this.config.dataDir, stream, partition);
      await rebuildPartition({ db: this.config.db, store: this.config.objectStore, catalog: this.catalog, limits: this.config.limits, walIo: this.walIo }, dir, stream, partition);
      const log = await PartitionLog.open({
        ...this.context(stream, partition),
        cluster: {
          fence: { node: cluster.node, epoch },
          intake: this.intake!,
          ackTimeoutMs: cluster.intake.ackTimeoutMs,
          onLeaseLost: () => {
            if (this.epochs.get(key)?.epoch === epoch) cluster.onLeaseLost(stream, partition, epoch);
          },
        },
      });
      if (this.closed) {
        // close() ran meanwhile and did not see this partition: hand it back at once.
        await log.close("handoff");
        await rm(dir, { recursive: true, force: true });
        throw new StrataError("UNAVAILABLE", "log store is closed");
      }
      log.setRetention(retention);
      this.logs.set(key, log);
      this.epochs.set(key, { stream, partition, epoch });
    });
  }

  /**
   * Cluster mode: stops leading stream/partition. "handoff" waits for appends in flight to commit
   * (or fail), "lost" fails them with LEASE_LOST; both delete the partition's local files. A
   * partition not led here is a no-op.
   */
  resign(stream: string, partition: number, how: "handoff" | "lost"): Promise<void> {
    const key = logKey(stream, partition);
    return this.leadership.run(key, () => this.closeLed(key, how));
  }

  /** Cluster mode: the partitions led here, with their lease epochs. */
  led(): LedPartition[] {
    return [...this.epochs.values()];
  }

  /** Cluster mode: whether this gateway leads stream/partition now. */
  leads(stream: string, partition: number): boolean {
    return this.epochs.has(logKey(stream, partition));
  }

  private async closeLed(key: string, how: "handoff" | "lost"): Promise<void> {
    const led = this.epochs.get(key);
    const log = this.logs.get(key);
    this.epochs.delete(key);
    this.logs.delete(key);
    if (!led || !log) return;
    try {
      await log.close(how);
    } finally {
      await rm(partitionDir(this.config.dataDir, led.stream, led.partition), { recursive: true, force: true });
    }
  }

  /** Opens (recovering if needed) partitions 0..partitions-1 of a stream and sets their retention. Idempotent. */
  async openPartitions(stream: string, partitions: number, retention: RetentionPolicy): Promise<void> {
    if (!Number.isInteger(partitions) || partitions < 1) throw new StrataError("BAD_REQUEST", `bad partition count ${partitions}`);
    if (this.config.cluster) {
      // Cluster mode: only the rows; the partitions' leaders open them (lead()).
      assertStoredStreamName(stream);
      await mapLimit(Array.from({ length: partitions }, (_, p) => p), OPEN_CONCURRENCY, (p) => this.catalog.ensurePartition(stream, p));
      for (let p = 0; p < partitions; p++) this.logs.get(logKey(stream, p))?.setRetention(retention);
      return;
    }
    await mapLimit(Array.from({ length: partitions }, (_, p) => p), OPEN_CONCURRENCY, async (p) => {
      (await this.openOne(stream, p)).setRetention(retention);
    });
  }

  /**
   * Opens the partitions of a new stream, all or none: when one fails, every partition opened is
   * closed and forgotten, and the stream's directory is removed if this call created it (a
   * directory that was there before, say an orphan left by an older catalog, is left alone).
   */
  async createPartitions(stream: string, partitions: number, retention: RetentionPolicy): Promise<void> {
    if (this.config.cluster) return this.openPartitions(stream, partitions, retention);
    const dir = streamDir(this.config.dataDir, stream);
    const existed = await stat(dir).then(() => true, () => false);
    try {
      await this.openPartitions(stream, partitions, retention);
    } catch (e) {
      await Promise.allSettled([...this.opening.values()]);
      const opened = Array.from({ length: partitions }, (_, p) => logKey(stream, p)).filter((key) => this.logs.has(key));
      await Promise.allSettled(opened.map((key) => this.logs.get(key)!.close()));
      for (const key of opened) this.logs.delete(key);
      if (!existed) await rm(dir, { recursive: true, force: true }).catch((error: unknown) => this.onError(error, `removing ${dir} after a failed create`));
      throw e;
    }
  }

  /** The open log of a partition; PARTITION_NOT_FOUND if it is not open (NOT_LEADER in cluster mode: another gateway leads it, or nobody yet). */
  partition(stream: string, partition: number): PartitionLog {
    const log = this.logs.get(logKey(stream, partition));
    if (!log && this.config.cluster) throw new StrataError("NOT_LEADER", `partition ${partition} of stream ${stream} is not led by this gateway`);
    if (!log) throw new StrataError("PARTITION_NOT_FOUND", `partition ${partition} of stream ${stream} is not open`);
    return log;
  }

  /** Every open partition log (for metrics and tools). */
  partitions(): PartitionLog[] {
    return [...this.logs.values()];
  }

  /** Local segment cache usage, for metrics and tests. */
  cacheUsage(): { bytes: number; files: number; capacityBytes: number } {
    return { bytes: this.cache.bytes, files: this.cache.count, capacityBytes: this.cache.capacityBytes };
  }

  /** WAL descriptors open now, and how often an idle one closed for the budget was reopened (for metrics and tests). */
  walDescriptors(): { open: number; capacity: number; reopens: number } {
    return { open: this.walIo.descriptors, capacity: this.walIo.capacity, reopens: this.walIo.reopens };
  }

  /**
   * Writes everything pending to the WAL, stops timers and uploads. Does not seal. In cluster
   * mode: resign("handoff") of every led partition, then the intake closes.
   */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const t of this.timers) clearInterval(t);
    await Promise.allSettled([...this.opening.values()]);
    if (this.config.cluster) {
      const led = [...this.epochs.values()];
      await Promise.allSettled(led.map((l) => this.leadership.run(logKey(l.stream, l.partition), () => this.closeLed(logKey(l.stream, l.partition), "handoff"))));
      await this.intake?.close(this.config.cluster.intake.ackTimeoutMs);
      return;
    }
    await Promise.all([...this.logs.values()].map((log) => log.close()));
  }

  private openOne(stream: string, partition: number): Promise<PartitionLog> {
    if (this.closed) return Promise.reject(new StrataError("UNAVAILABLE", "log store is closed"));
    assertStoredStreamName(stream);
    if (!Number.isSafeInteger(partition) || partition < 0) throw new StrataError("BAD_REQUEST", `bad partition ${partition}`);
    const key = logKey(stream, partition);
    const open = this.logs.get(key);
    if (open) return Promise.resolve(open);
    let p = this.opening.get(key);
    if (!p) {
      p = PartitionLog.open(this.context(stream, partition))
        .then((log) => {
          this.logs.set(key, log);
          return log;
        })
        .finally(() => this.opening.delete(key));
      this.opening.set(key, p);
    }
    return p;
  }

  private context(stream: string, partition: number): PartitionContext {
    return {
      stream,
      partition,
      dir: partitionDir(this.config.dataDir, stream, partition),
      objectStore: this.config.objectStore,
      catalog: this.catalog,
      cache: this.cache,
      remote: this.remote,
      metrics: this.config.metrics,
      limits: this.config.limits,
      walIo: this.walIo,
      onBackgroundError: this.onError,
      pinnedFloor: () => this.config.pinnedFloor?.(stream, partition),
    };
  }

  /** Directories of streams the catalog no longer knows are left alone, but reported. */
  private async reportOrphans(known: Set<string>): Promise<void> {
    let names: string[];
    try {
      names = await readdir(join(this.config.dataDir, "log"));
    } catch {
      return;
    }
    for (const name of names) {
      if (!known.has(name)) this.onError(new Error("no such stream in the catalog"), `orphan log directory ${name}`);
    }
  }

  private every(ms: number, fn: () => void): void {
    const t = setInterval(fn, ms);
    (t as { unref?: () => void }).unref?.();
    this.timers.push(t);
  }
}

/** Directory of a stream's partitions. The stream name is validated, then URL-encoded. */
function streamDir(dataDir: string, stream: string): string {
  assertStoredStreamName(stream);
  return join(dataDir, "log", encodeURIComponent(stream));
}

/** Directory of a partition's WAL and cache. The stream name is validated, then URL-encoded. */
export function partitionDir(dataDir: string, stream: string, partition: number): string {
  return join(streamDir(dataDir, stream), String(partition));
}

function logKey(stream: string, partition: number): string {
  return `${stream}\0${partition}`;
}
