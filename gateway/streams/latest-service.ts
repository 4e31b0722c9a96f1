// The latest-per-key indexes of every compacted stream (docs/compaction.md): built from the log
// when the gateway opens, fed by the log service's appends (admit, then settle once the records
// are synced), read by `GET /v1/streams/{name}/latest` with its long-poll, and consulted by the
// compactor to tell superseded records from the newest ones.
//
// Cluster mode (docs/cluster.md): a gateway sees only the partitions it leads, so it keeps one
// index per partition it leads, built from the partition's start the first time it is needed in
// the partition's current tenure (lease epoch) and fed by the appends of that tenure; an index of
// an earlier tenure is never used (the records of another leader's tenure are not in it). A read
// of a key answers from the key's partition, a read of the whole map needs every partition of
// the stream led here; anything else is NOT_LEADER naming the leader.
import { getLogger } from "@logtape/logtape";
import { invariant, StrataError } from "../../core/errors.ts";
import { partitionForKey } from "../../core/log/partitioner.ts";
import type { RecordInput } from "../../core/log/record.ts";
import { SingleFlight } from "../../core/util/single-flight.ts";
import type { CompactionLimits } from "../log/compaction-limits.ts";
import type { LogStore } from "../log/log-store.ts";
import { LatestIndex, type LatestView } from "./latest-index.ts";
import type { PartitionRouter } from "./partition-route.ts";
import type { ServiceLimits } from "./service-limits.ts";
import type { StreamConfig, StreamService } from "./stream-service.ts";

const log = getLogger(["strata", "compaction"]);

/** Records per read while an index is built. */
const BUILD_READ_RECORDS = 10_000;
const BUILD_READ_BYTES = 16 << 20;

export interface LatestQuery {
  readonly stream: string;
  readonly key?: Uint8Array;
  /** A watermark of an earlier answer: with waitMs, wait until the map moved past it. */
  readonly after?: string;
  readonly waitMs?: number;
  readonly signal?: AbortSignal;
}

/** Where an append's records landed (undefined for those of a partition whose append failed). */
export type SettledPositions = readonly ({ readonly partition: number; readonly offset: number } | undefined)[];

/** An admitted append: settle it exactly once with the positions it got. */
export interface AppendTicket {
  settle(positions: SettledPositions, timestamp: number): void;
}

/** Cluster mode: the index of one partition led here, for the tenure (lease epoch) it was built in. */
interface Tenure {
  readonly epoch: number;
  readonly index: LatestIndex;
}

export class LatestService {
  private readonly indexes = new Map<string, LatestIndex>();
  /** Cluster mode: per `stream\0partition` led here, its index of the current tenure. */
  private readonly tenures = new Map<string, Tenure>();
  private readonly builds = new SingleFlight<string, Tenure>();
  private waiting = 0;

  private constructor(
    private readonly streams: StreamService,
    private readonly logs: LogStore,
    private readonly limits: CompactionLimits,
    private readonly serviceLimits: ServiceLimits,
  ) {}

  /**
   * Builds the index of every compacted stream by reading its partitions from their start. In
   * cluster mode nothing is led yet: each partition's index is built when first needed.
   */
  static async open(streams: StreamService, logs: LogStore, limits: CompactionLimits, serviceLimits: ServiceLimits): Promise<LatestService> {
    const service = new LatestService(streams, logs, limits, serviceLimits);
    if (streams.router) return service;
    for (const info of streams.list()) {
      const config = streams.require(info.name);
      if (config.cleanup !== "compact") continue;
      const index = new LatestIndex(config.name, limits.maxLatestKeys);
      for (let p = 0; p < config.partitions; p++) await service.build(index, config.name, p);
      index.finishBuild();
      log.info("latest-per-key index of {stream}: {keys} keys", { stream: config.name, keys: index.size });
      service.indexes.set(config.name, index);
    }
    return service;
  }

  /** Applies every record of a partition, from its start to its end, to `index`. */
  private async build(index: LatestIndex, stream: string, p: number): Promise<void> {
    const partition = this.logs.partition(stream, p);
    let offset = partition.startOffset;
    while (offset < partition.endOffset) {
      const records = await partition.read(offset, { maxRecords: BUILD_READ_RECORDS, maxBytes: BUILD_READ_BYTES });
      invariant(records.length > 0, `a read of ${stream}/${p} at ${offset} below its end ${partition.endOffset} returns records`);
      for (const r of records) {
        // Keyless records cannot be on a compacted stream (KEY_REQUIRED), but skip rather than trust it.
        if (r.key) index.apply({ key: r.key, partition: p, offset: r.offset, timestamp: r.timestamp, headers: r.headers, fields: r.fields });
      }
      offset = records[records.length - 1]!.offset + 1;
    }
  }

  /**
   * Cluster mode: the index of partition `p` of a compacted stream for the tenure this gateway
   * leads it in, built on first use (concurrent callers share one build); NOT_LEADER naming the
   * leader when the partition is not led here.
   */
  async partitionIndex(config: StreamConfig, p: number): Promise<LatestIndex> {
    this.requireCompacted(config);
    const router = this.streams.router;
    invariant(router !== undefined, "per-partition latest indexes are for cluster mode");
    const id = `${config.name}\u0000${p}`;
    const epoch = this.logs.led().find((l) => l.stream === config.name && l.partition === p)?.epoch;
    if (epoch === undefined) {
      this.tenures.delete(id);
      const route = router.route(config.name, p);
      throw new StrataError("NOT_LEADER", `partition ${p} of '${config.name}' is led by ${route.kind === "remote" ? `${route.node} (${route.url})` : "this gateway, which is still opening it"}: ask that gateway for its latest records`);
    }
    const held = this.tenures.get(id);
    if (held?.epoch === epoch) return held.index;
    const tenure = await this.builds.run(id, async () => {
      const index = new LatestIndex(config.name, this.limits.maxLatestKeys);
      await this.build(index, config.name, p);
      index.finishBuild();
      return { epoch, index };
    });
    // A build that finished for a tenure that has ended since is not kept.
    if (this.logs.led().some((l) => l.stream === config.name && l.partition === p && l.epoch === tenure.epoch)) this.tenures.set(id, tenure);
    return tenure.index;
  }

  /** BAD_REQUEST unless the stream is compacted. */
  requireCompacted(config: StreamConfig): void {
    if (config.cleanup !== "compact") throw new StrataError("BAD_REQUEST", `stream '${config.name}' is not compacted (cleanup: ${config.cleanup}); latest-per-key reads need "cleanup": "compact"`);
  }

  /** The index of a compacted stream; BAD_REQUEST for a stream with cleanup "delete". */
  index(stream: string): LatestIndex {
    const config = this.streams.require(stream);
    this.requireCompacted(config);
    invariant(this.streams.router === undefined, "in cluster mode the latest indexes are per partition (partitionIndex)");
    let index = this.indexes.get(stream);
    // Every compacted stream that existed at open was built; one created since started empty.
    if (!index) this.indexes.set(stream, (index = new LatestIndex(stream, this.limits.maxLatestKeys)));
    return index;
  }

  /**
   * Called by the log service before an append is encoded: on a compacted stream every record
   * needs a key (KEY_REQUIRED) and the index room for the new ones (TOO_MANY_KEYS); nothing is
   * written when either fails. Other streams: no ticket.
   */
  admit(config: StreamConfig, records: readonly RecordInput[], partition?: number): AppendTicket | undefined | Promise<AppendTicket | undefined> {
    if (config.cleanup !== "compact") return undefined;
    if (this.streams.router) {
      invariant(partition !== undefined, "a cluster-mode append names its one partition");
      return this.admitPartition(config, partition, records);
    }
    return this.ticket(this.index(config.name), config, this.keysOf(config, records), records);
  }

  /** Cluster mode's admit: the records all go to partition `p`, led here; its index of this tenure takes them. */
  private async admitPartition(config: StreamConfig, p: number, records: readonly RecordInput[]): Promise<AppendTicket> {
    const keys = this.keysOf(config, records);
    return this.ticket(await this.partitionIndex(config, p), config, keys, records);
  }

  private keysOf(config: StreamConfig, records: readonly RecordInput[]): Uint8Array[] {
    return records.map((r, i) => {
      if (r.key === null) throw new StrataError("KEY_REQUIRED", `records[${i}] has no key; stream '${config.name}' is compacted and keeps the latest record per key`);
      return r.key;
    });
  }

  private ticket(index: LatestIndex, config: StreamConfig, keys: readonly Uint8Array[], records: readonly RecordInput[]): AppendTicket {
    const reserved = index.reserve(keys);
    let settled = false;
    return {
      settle: (positions, timestamp) => {
        invariant(!settled, "an append ticket is settled once");
        settled = true;
        index.release(reserved);
        positions.forEach((at, i) => {
          if (at) index.apply({ key: keys[i]!, partition: at.partition, offset: at.offset, timestamp, headers: records[i]!.headers, fields: records[i]!.fields });
        });
      },
    };
  }

  /** The latest map (or one key's record), after waiting for a change past `after` when asked. */
  async latest(query: LatestQuery): Promise<LatestView> {
    if (this.streams.router) return this.latestRouted(query);
    const index = this.index(query.stream);
    await this.waitIfAsked(query, (after, ms, signal) => index.waitForChange(after, ms, signal));
    return index.view(query.key);
  }

  /**
   * Cluster mode: a key's record from the index of the partition the key hashes to, the whole map
   * from the indexes of every partition (all led here); one index's watermark is as on a single
   * gateway, several are joined with "+".
   */
  private async latestRouted(query: LatestQuery): Promise<LatestView> {
    const config = await this.streams.lookup(query.stream);
    this.requireCompacted(config);
    const partitions = query.key !== undefined ? [partitionForKey(query.key, config.partitions)] : Array.from({ length: config.partitions }, (_, p) => p);
    const indexes = await Promise.all(partitions.map((p) => this.partitionIndex(config, p)));
    await this.waitIfAsked(query, (after, ms, signal) => waitForAnyChange(indexes, after, ms, signal));
    const views = indexes.map((index) => index.view(query.key));
    return { watermark: views.map((v) => v.watermark).join(WATERMARK_SEPARATOR), records: views.flatMap((v) => v.records) };
  }

  /** Waits for a change past `query.after` when the query asks to (wait_ms), within the waiter bound. */
  private async waitIfAsked(query: LatestQuery, wait: (after: string, ms: number, signal?: AbortSignal) => Promise<void>): Promise<void> {
    const waitMs = query.waitMs ?? 0;
    if (!Number.isSafeInteger(waitMs) || waitMs < 0) throw new StrataError("BAD_REQUEST", "wait_ms must be an integer >= 0");
    if (query.after === undefined || waitMs === 0) return;
    if (this.waiting >= this.limits.maxLatestWaiters) throw new StrataError("UNAVAILABLE", "too many latest long-polls waiting");
    this.waiting++;
    try {
      await wait(query.after, Math.min(waitMs, this.serviceLimits.maxWaitMs), query.signal);
    } finally {
      this.waiting--;
    }
  }
}

const WATERMARK_SEPARATOR = "+";

/** Resolves when any index moved past its part of a joined watermark (at once when the parts do not match the indexes). */
async function waitForAnyChange(indexes: readonly LatestIndex[], watermark: string, ms: number, signal?: AbortSignal): Promise<void> {
  const parts = watermark.split(WATERMARK_SEPARATOR);
  if (parts.length !== indexes.length) return;
  const done = new AbortController();
  const stop = signal ? AbortSignal.any([signal, done.signal]) : done.signal;
  try {
    await Promise.race(indexes.map((index, i) => index.waitForChange(parts[i]!, ms, stop)));
  } finally {
    done.abort(); // the other waits end with it
  }
}
