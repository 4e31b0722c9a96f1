// Streams: create, list, describe. Stream rows live in libSQL; the partition logs in the LogStore.
import { eq } from "drizzle-orm";
import { z } from "zod";
import { StrataError } from "../../core/errors.ts";
import { assertStreamName } from "../../core/log/stream-name.ts";
import { parseInput } from "../../core/util/parse-input.ts";
import { diskFullAsInsufficientStorage, type MetadataDb } from "../db/database.ts";
import { partitions as partitionsTable, streams as streamsTable } from "../db/schema.ts";
import type { LogStore } from "../log/log-store.ts";
import type { ServiceLimits } from "./service-limits.ts";

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

  private constructor(db: MetadataDb, logs: LogStore, limits: ServiceLimits) {
    this.db = db;
    this.logs = logs;
    this.limits = limits;
  }

  /** Loads every stream and opens its partitions. */
  static async open(db: MetadataDb, logs: LogStore, limits: ServiceLimits): Promise<StreamService> {
    const service = new StreamService(db, logs, limits);
    for (const row of await db.select().from(streamsTable)) {
      const config: StreamConfig = {
        name: row.name,
        partitions: row.partitions,
        retention: { ms: row.retentionMs, bytes: row.retentionBytes },
        createdAt: row.createdAt,
        cleanup: row.cleanup,
        tombstoneMs: row.tombstoneMs,
      };
      await logs.openPartitions(config.name, config.partitions, config.retention);
      service.configs.set(config.name, config);
    }
    return service;
  }

  create(input: CreateStreamInput): Promise<StreamInfo> {
    // A full disk (the catalog's SQLITE_FULL, a partition directory's ENOSPC) is 507, not a 500.
    const run = this.creating.then(() => this.createNow(input)).catch((e: unknown) => {
      throw diskFullAsInsufficientStorage(e, "creating a stream");
    });
    this.creating = run.catch(() => undefined);
    return run;
  }

  private async createNow(input: CreateStreamInput): Promise<StreamInfo> {
    // Parsed here whatever the transport, so no path can skip a check.
    const request = parseInput(createStreamSchema, input, "stream");
    const name = assertStreamName(request.name);
    const partitions = request.partitions ?? 1;
    if (partitions > this.limits.maxPartitions) throw new StrataError("BAD_REQUEST", `partitions must be an integer in [1, ${this.limits.maxPartitions}]`);
    const retention: Retention = { ms: request.retention?.ms ?? null, bytes: request.retention?.bytes ?? null };
    const cleanup: Cleanup = request.cleanup ?? "delete";
    const tombstoneMs = request.tombstone_ms ?? null;
    if (cleanup === "delete" && tombstoneMs !== null) throw new StrataError("BAD_REQUEST", `tombstone_ms applies to compacted streams only ("cleanup": "compact")`);
    if (this.configs.has(name)) throw new StrataError("STREAM_EXISTS", `stream '${name}' already exists`);
    if (this.configs.size >= this.limits.maxStreams) throw new StrataError("BAD_REQUEST", `this gateway holds at most ${this.limits.maxStreams} streams`);
    const held = this.partitionCount();
    if (held + partitions > this.limits.maxGatewayPartitions) {
      throw new StrataError("BAD_REQUEST", `this gateway holds at most ${this.limits.maxGatewayPartitions} partitions (limits.maxGatewayPartitions); it holds ${held}, and '${name}' would add ${partitions}`);
    }
    const config: StreamConfig = { name, partitions, retention, createdAt: Date.now(), cleanup, tombstoneMs };
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

  /** Partitions of every stream this gateway holds. */
  private partitionCount(): number {
    let n = 0;
    for (const c of this.configs.values()) n += c.partitions;
    return n;
  }

  list(): StreamInfo[] {
    return [...this.configs.values()].sort((a, b) => (a.name < b.name ? -1 : 1)).map((c) => this.describe(c));
  }

  get(name: string): StreamInfo {
    return this.describe(this.require(name));
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
      partitions: Array.from({ length: config.partitions }, (_, partition) => {
        const log = this.logs.partition(config.name, partition);
        return { partition, start_offset: log.startOffset, end_offset: log.endOffset, bytes: log.bytes };
      }),
      retention: config.retention,
      created_at: config.createdAt,
      cleanup: config.cleanup,
      tombstone_ms: config.tombstoneMs,
    };
  }
}

