// Streams: create, list, describe. Stream rows live in libSQL; the partition logs in the LogStore.
import { getLogger } from "@logtape/logtape";
import { eq, sql } from "drizzle-orm";
import { z } from "zod";
import { StrataError } from "../../core/errors.ts";
import { assertInternalStreamName, assertStreamName } from "../../core/log/stream-name.ts";
import { parseInput } from "../../core/util/parse-input.ts";
import { diskFullAsInsufficientStorage, type MetadataDb } from "../db/database.ts";
import { partitions as partitionsTable, segments as segmentsTable, streams as streamsTable } from "../db/schema.ts";
import { intakeRanges } from "../db/cluster-schema.ts";
import type { LogStore } from "../log/log-store.ts";
import { SingleFlight } from "../../core/util/single-flight.ts";
import type { PartitionRouter } from "./partition-route.ts";
import type { ServiceLimits } from "./service-limits.ts";

const log = getLogger(["strata", "streams"]);

export interface Retention {
  readonly ms: number | null;
  readonly bytes: number | null;
}

/** "delete": records leave by retention only; "compact": also when a newer record of their key exists (docs/compaction.md). */
export type Cleanup = "delete" | "compact";

export interface StreamConfig {
  readonly name: string;
  readonly partitions: number;
  readonly retention: Retention;
  readonly createdAt: number;
  readonly cleanup: Cleanup;
  /** How long a tombstone outlives the records it removes; null: the compaction limits' default. Always null for "delete". */
  readonly tombstoneMs: number | null;
}

export interface PartitionInfo {
  readonly partition: number;
  readonly start_offset: number;
  readonly end_offset: number;
  readonly bytes: number;
  /**
   * Cluster mode only: the gateway leading the partition (url null when it is the answering
   * gateway), or null while no live gateway leads it.
   */
  readonly leader?: { readonly node: string; readonly url: string | null } | null;
}

/** What the stream service needs in cluster mode (docs/cluster.md). */
export interface StreamCluster {
  readonly router: PartitionRouter;
  /** How often the streams table is read again, so streams created on other gateways become known (cluster.rebalanceMs). */
  readonly reloadMs: number;
}

export interface StreamInfo {
  readonly name: string;
  readonly partitions: PartitionInfo[];
  readonly retention: Retention;
  readonly created_at: number;
  readonly cleanup: Cleanup;
  readonly tombstone_ms: number | null;
}

const positiveInteger = z.number().int().positive().max(Number.MAX_SAFE_INTEGER);

/** A create request, from any transport: the one source of its shape and of the typed client's input. */
export const createStreamSchema = z.object({
  name: z.string(),
  /** 1 by default; at most limits.maxPartitions (checked by the service). */
  partitions: z.number().int().min(1).nullish(),
  retention: z.object({ ms: positiveInteger.nullish(), bytes: positiveInteger.nullish() }).nullish(),
  /** "delete" by default; "compact" keeps the latest record per key (docs/compaction.md). */
  cleanup: z.enum(["delete", "compact"], { message: "cleanup must be delete or compact" }).nullish(),
  /** Compacted streams only: ms a tombstone is kept; the compaction limits' defaultTombstoneMs when absent. */
  tombstone_ms: z.number().int().min(0).max(Number.MAX_SAFE_INTEGER).nullish(),
});

export type CreateStreamInput = z.input<typeof createStreamSchema>;

export class StreamService {
  private readonly configs = new Map<string, StreamConfig>();
  /** Serialises creates so two racing creates of one name cannot both pass the existence check. */
  private creating: Promise<unknown> = Promise.resolve();

  private readonly db: MetadataDb;
  private readonly logs: LogStore;
  private readonly limits: ServiceLimits;
  private readonly cluster: StreamCluster | undefined;
  /** Cluster mode: one read of the streams table at a time, shared by every lookup that missed. */
  private readonly reloads = new SingleFlight<"streams", void>();
  /** Cluster mode: offsets of partitions led elsewhere as describe() last read them from the shared state. */
  private readonly remoteOffsets = new Map<string, Map<number, Omit<PartitionInfo, "partition" | "leader">>>();
  private reloadTimer: ReturnType<typeof setInterval> | undefined;

  private constructor(db: MetadataDb, logs: LogStore, limits: ServiceLimits, cluster: StreamCluster | undefined) {
    this.db = db;
    this.logs = logs;
    this.limits = limits;
    this.cluster = cluster;
  }

  /**
   * Loads every stream and opens its partitions. In cluster mode (`cluster`) the LogStore only
   * ensures the partitions' rows (the lease manager opens the ones this gateway leads), and the
   * streams table is read again every `cluster.reloadMs` until close().
   */
  static async open(db: MetadataDb, logs: LogStore, limits: ServiceLimits, cluster?: StreamCluster): Promise<StreamService> {
    const service = new StreamService(db, logs, limits, cluster);
    await service.reload();
    if (cluster) {
      service.reloadTimer = setInterval(() => {
        service.refresh().catch((e: unknown) => log.warn("reading the streams table failed: {error}", { error: e }));
      }, cluster.reloadMs);
      service.reloadTimer.unref?.();
    }
    return service;
  }

  /** Cluster mode's router (who leads which partition), else undefined. */
  get router(): PartitionRouter | undefined {
    return this.cluster?.router;
  }

  /** Stops the cluster-mode reloads. */
  close(): void {
    clearInterval(this.reloadTimer);
    this.reloadTimer = undefined;
  }

  /** Reads the streams table and opens the partitions of every stream not known yet. */
  private async reload(): Promise<void> {
    for (const row of await this.db.select().from(streamsTable)) {
      if (this.configs.has(row.name)) continue;
      const config: StreamConfig = {
        name: row.name,
        partitions: row.partitions,
        retention: { ms: row.retentionMs, bytes: row.retentionBytes },
        createdAt: row.createdAt,
        cleanup: row.cleanup,
        tombstoneMs: row.tombstoneMs,
      };
      await this.logs.openPartitions(config.name, config.partitions, config.retention);
      this.configs.set(config.name, config);
    }
  }

  /** Cluster mode: the streams other gateways created since the last read (one read at a time). */
  private refresh(): Promise<void> {
    return this.reloads.run("streams", () =>
      this.reload().catch((e: unknown) => {
        throw e instanceof StrataError ? e : new StrataError("METADATA_UNAVAILABLE", `reading the streams table failed: ${e instanceof Error ? e.message : String(e)}`);
      }),
    );
  }

  /**
   * The stream's configuration, like require(); in cluster mode a stream this gateway does not
   * know yet (created on another gateway) is looked up in the shared streams table first.
   */
  async lookup(name: string): Promise<StreamConfig> {
    const known = this.configs.get(name);
    if (known || !this.cluster) return this.require(name);
    await this.refresh();
    return this.require(name);
  }

  /** `internal`: the gateway's own `_strata/…` stream (core/log/stream-name.ts), a name no client may create. */
  create(input: CreateStreamInput, internal = false): Promise<StreamInfo> {
    // A full disk (the catalog's SQLITE_FULL, a partition directory's ENOSPC) is 507, not a 500.
    const run = this.creating.then(() => this.createNow(input, internal)).catch((e: unknown) => {
      throw diskFullAsInsufficientStorage(e, "creating a stream");
    });
    this.creating = run.catch(() => undefined);
    return run;
  }

  private async createNow(input: CreateStreamInput, internal: boolean): Promise<StreamInfo> {
    // Parsed here whatever the transport, so no path can skip a check.
    const request = parseInput(createStreamSchema, input, "stream");
    const name = internal ? assertInternalStreamName(request.name) : assertStreamName(request.name);
    const partitions = request.partitions ?? 1;
    if (partitions > this.limits.maxPartitions) throw new StrataError("BAD_REQUEST", `partitions must be an integer in [1, ${this.limits.maxPartitions}]`);
    const retention: Retention = { ms: request.retention?.ms ?? null, bytes: request.retention?.bytes ?? null };
    const cleanup: Cleanup = request.cleanup ?? "delete";
    const tombstoneMs = request.tombstone_ms ?? null;
    if (cleanup === "delete" && tombstoneMs !== null) throw new StrataError("BAD_REQUEST", `tombstone_ms applies to compacted streams only ("cleanup": "compact")`);
    if (this.cluster && !this.configs.has(name)) await this.refresh();
    if (this.configs.has(name)) throw new StrataError("STREAM_EXISTS", `stream '${name}' already exists`);
    if (this.configs.size >= this.limits.maxStreams) throw new StrataError("BAD_REQUEST", `this gateway holds at most ${this.limits.maxStreams} streams`);
    const held = this.partitionCount();
    if (held + partitions > this.limits.maxGatewayPartitions) {
      throw new StrataError("BAD_REQUEST", `this gateway holds at most ${this.limits.maxGatewayPartitions} partitions (limits.maxGatewayPartitions); it holds ${held}, and '${name}' would add ${partitions}`);
    }
    const config: StreamConfig = { name, partitions, retention, createdAt: Date.now(), cleanup, tombstoneMs };
    await this.insertRows(config);
    try {
      await this.logs.createPartitions(name, config.partitions, retention);
    } catch (e) {
      // All or nothing: a stream whose partitions could not all be opened leaves no row behind
      // (a row without its partitions would stop the next start).
      await this.db.transaction(async (tx) => {
        await tx.delete(partitionsTable).where(eq(partitionsTable.stream, name));
        await tx.delete(streamsTable).where(eq(streamsTable.name, name));
      });
      throw e;
    }
    this.configs.set(name, config);
    return this.describe(config);
  }

  /** The stream's rows; in cluster mode another gateway may have inserted them first (STREAM_EXISTS). */
  private async insertRows(config: StreamConfig): Promise<void> {
    try {
      await this.insertRowsNow(config);
    } catch (e) {
      if (!this.cluster) throw e;
      await this.refresh();
      if (this.configs.has(config.name)) throw new StrataError("STREAM_EXISTS", `stream '${config.name}' already exists`);
      throw e;
    }
  }

  private async insertRowsNow(config: StreamConfig): Promise<void> {
    const { name, retention, cleanup, tombstoneMs } = config;
    await this.db.transaction(async (tx) => {
      await tx.insert(streamsTable).values({
        name,
        partitions: config.partitions,
        retentionMs: retention.ms,
        retentionBytes: retention.bytes,
        createdAt: config.createdAt,
        cleanup,
        tombstoneMs,
      });
      await tx.insert(partitionsTable).values(
        Array.from({ length: config.partitions }, (_, partition) => ({ stream: name, partition, startOffset: 0 })),
      );
    });
  }

  /** Partitions of every stream this gateway holds. */
  private partitionCount(): number {
    let n = 0;
    for (const c of this.configs.values()) n += c.partitions;
    return n;
  }

  list(): StreamInfo[] {
    return [...this.configs.values()].sort((a, b) => (a.name < b.name ? -1 : 1)).map((c) => this.describe(c));
  }

  /** The stream's description from this gateway's memory (in cluster mode, partitions led elsewhere as info() last read them). */
  get(name: string): StreamInfo {
    return this.describe(this.require(name));
  }

  /**
   * The stream's description for the API (GET /v1/streams/{name}). In cluster mode each partition
   * names its leader, and the offsets of partitions led elsewhere are read from the shared state
   * (lookUpRemoteOffsets), so the answer never waits on another gateway.
   */
  async info(name: string): Promise<StreamInfo> {
    const config = await this.lookup(name);
    if (this.cluster) await this.lookUpRemoteOffsets(name);
    return this.describe(config);
  }

  /** Every stream, as info() describes them (one read of the shared state for all of them in cluster mode). */
  async listInfo(): Promise<StreamInfo[]> {
    if (this.cluster) {
      await this.refresh();
      await this.lookUpRemoteOffsets();
    }
    return this.list();
  }

  /**
   * Cluster mode: the offsets of partitions (of `stream`, or of every stream) as the shared state
   * holds them: the start is the partitions row's (retention raises it), the end the highest
   * committed end of a segment or intake range. That is exactly what the leader answers (in
   * cluster mode a leader's end offset is its intake-committed end), costs three reads of the
   * metadata database instead of a call to every leader, and still answers when a leader is dead.
   */
  private async lookUpRemoteOffsets(stream?: string): Promise<void> {
    try {
      const [starts, segs, intake] = await Promise.all([
        this.db.select({ stream: partitionsTable.stream, partition: partitionsTable.partition, start: partitionsTable.startOffset }).from(partitionsTable).where(stream === undefined ? undefined : eq(partitionsTable.stream, stream)),
        this.db
          .select({ stream: segmentsTable.stream, partition: segmentsTable.partition, end: sql<number>`max(${segmentsTable.endOffset})`, bytes: sql<number>`sum(${segmentsTable.bytes})` })
          .from(segmentsTable)
          .where(stream === undefined ? undefined : eq(segmentsTable.stream, stream))
          .groupBy(segmentsTable.stream, segmentsTable.partition),
        this.db
          .select({ stream: intakeRanges.stream, partition: intakeRanges.partition, base: intakeRanges.baseOffset, end: intakeRanges.endOffset, length: intakeRanges.length })
          .from(intakeRanges)
          .where(stream === undefined ? undefined : eq(intakeRanges.stream, stream)),
      ]);
      const offsets = new Map<string, { start_offset: number; end_offset: number; bytes: number }>();
      const at = (s: string, p: number) => {
        const key = `${s}\u0000${p}`;
        let entry = offsets.get(key);
        if (!entry) offsets.set(key, (entry = { start_offset: 0, end_offset: 0, bytes: 0 }));
        return entry;
      };
      for (const r of starts) at(r.stream, r.partition).start_offset = r.start;
      for (const r of segs) Object.assign(at(r.stream, r.partition), { end_offset: Number(r.end), bytes: Number(r.bytes) });
      // Intake ranges below the last segment's end wait for the sweeper: counted once, in the segment.
      const segmentEnds = new Map(segs.map((r) => [`${r.stream}\u0000${r.partition}`, Number(r.end)]));
      for (const r of intake) {
        if (r.base < (segmentEnds.get(`${r.stream}\u0000${r.partition}`) ?? 0)) continue;
        const entry = at(r.stream, r.partition);
        entry.end_offset = Math.max(entry.end_offset, r.end);
        entry.bytes += r.length;
      }
      for (const [key, entry] of offsets) {
        const [s, p] = key.split("\u0000") as [string, string];
        let partitions = this.remoteOffsets.get(s);
        if (!partitions) this.remoteOffsets.set(s, (partitions = new Map()));
        partitions.set(Number(p), { ...entry, end_offset: Math.max(entry.end_offset, entry.start_offset) });
      }
    } catch (e) {
      throw e instanceof StrataError ? e : new StrataError("METADATA_UNAVAILABLE", `reading partition offsets failed: ${e instanceof Error ? e.message : String(e)}`);
    }
  }

  /**
   * Creates `name` with one partition and default retention unless it exists (a service that
   * publishes to a stream of its own: checkpoint completions, gradients); racing creators agree.
   */
  async ensure(name: string): Promise<void> {
    if (this.configs.has(name)) return;
    try {
      await this.create({ name, partitions: 1 });
    } catch (e) {
      if (!(e instanceof StrataError) || e.code !== "STREAM_EXISTS") throw e;
    }
  }

  /** The stream's configuration; STREAM_NOT_FOUND if there is none. */
  require(name: string): StreamConfig {
    const config = this.configs.get(name);
    if (!config) throw new StrataError("STREAM_NOT_FOUND", `no stream '${name}'`);
    return config;
  }

  /** PARTITION_NOT_FOUND unless `partition` is one of the stream's. */
  requirePartition(config: StreamConfig, partition: number): void {
    if (!Number.isInteger(partition) || partition < 0 || partition >= config.partitions) {
      throw new StrataError("PARTITION_NOT_FOUND", `stream '${config.name}' has partitions 0..${config.partitions - 1}`);
    }
  }

  private describe(config: StreamConfig): StreamInfo {
    return {
      name: config.name,
      partitions: Array.from({ length: config.partitions }, (_, partition) => (this.cluster ? this.describeRouted(this.cluster.router, config.name, partition) : this.describeLocal(config.name, partition))),
      retention: config.retention,
      created_at: config.createdAt,
      cleanup: config.cleanup,
      tombstone_ms: config.tombstoneMs,
    };
  }

  private describeLocal(stream: string, partition: number): PartitionInfo {
    const log = this.logs.partition(stream, partition);
    return { partition, start_offset: log.startOffset, end_offset: log.endOffset, bytes: log.bytes };
  }

  /** A partition in cluster mode: its leader, and its offsets from the log when led here, else from the shared state. */
  private describeRouted(router: PartitionRouter, stream: string, partition: number): PartitionInfo {
    let leader: PartitionInfo["leader"] = null;
    try {
      const route = router.route(stream, partition);
      // A partition the lease map gives this gateway may still be opening (logs.partition: NOT_LEADER).
      if (route.kind === "local") leader = { node: router.node, url: null };
      else leader = { node: route.node, url: route.url };
      if (route.kind === "local") return { ...this.describeLocal(stream, partition), leader };
    } catch (e) {
      if (!(e instanceof StrataError) || e.code !== "NOT_LEADER") throw e;
    }
    const shared = this.remoteOffsets.get(stream)?.get(partition) ?? { start_offset: 0, end_offset: 0, bytes: 0 };
    return { partition, ...shared, leader };
  }
}

