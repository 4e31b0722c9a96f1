// The latest-per-key indexes of every compacted stream (docs/compaction.md): built from the log
// when the gateway opens, fed by the log service's appends (admit, then settle once the records
// are synced), read by `GET /v1/streams/{name}/latest` with its long-poll, and consulted by the
// compactor to tell superseded records from the newest ones.
import { getLogger } from "@logtape/logtape";
import { invariant, StrataError } from "../../core/errors.ts";
import type { RecordInput } from "../../core/log/record.ts";
import type { CompactionLimits } from "../log/compaction-limits.ts";
import type { LogStore } from "../log/log-store.ts";
import { LatestIndex, type LatestView } from "./latest-index.ts";
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

export class LatestService {
  private readonly indexes = new Map<string, LatestIndex>();
  private waiting = 0;

  private constructor(
    private readonly streams: StreamService,
    private readonly limits: CompactionLimits,
    private readonly serviceLimits: ServiceLimits,
  ) {}

  /** Builds the index of every compacted stream by reading its partitions from their start. */
  static async open(streams: StreamService, logs: LogStore, limits: CompactionLimits, serviceLimits: ServiceLimits): Promise<LatestService> {
    const service = new LatestService(streams, limits, serviceLimits);
    for (const info of streams.list()) {
      const config = streams.require(info.name);
      if (config.cleanup !== "compact") continue;
      const index = new LatestIndex(config.name, limits.maxLatestKeys);
      for (let p = 0; p < config.partitions; p++) {
        const partition = logs.partition(config.name, p);
        let offset = partition.startOffset;
        while (offset < partition.endOffset) {
          const records = await partition.read(offset, { maxRecords: BUILD_READ_RECORDS, maxBytes: BUILD_READ_BYTES });
          invariant(records.length > 0, `a read of ${config.name}/${p} at ${offset} below its end ${partition.endOffset} returns records`);
          for (const r of records) {
            // Keyless records cannot be on a compacted stream (KEY_REQUIRED), but skip rather than trust it.
            if (r.key) index.apply({ key: r.key, partition: p, offset: r.offset, timestamp: r.timestamp, headers: r.headers, fields: r.fields });
          }
          offset = records[records.length - 1]!.offset + 1;
        }
      }
      index.finishBuild();
      log.info("latest-per-key index of {stream}: {keys} keys", { stream: config.name, keys: index.size });
      service.indexes.set(config.name, index);
    }
    return service;
  }

  /** The index of a compacted stream; BAD_REQUEST for a stream with cleanup "delete". */
  index(stream: string): LatestIndex {
    const config = this.streams.require(stream);
    if (config.cleanup !== "compact") throw new StrataError("BAD_REQUEST", `stream '${stream}' is not compacted (cleanup: ${config.cleanup}); latest-per-key reads need "cleanup": "compact"`);
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
  admit(config: StreamConfig, records: readonly RecordInput[]): AppendTicket | undefined {
    if (config.cleanup !== "compact") return undefined;
    const keys = records.map((r, i) => {
      if (r.key === null) throw new StrataError("KEY_REQUIRED", `records[${i}] has no key; stream '${config.name}' is compacted and keeps the latest record per key`);
      return r.key;
    });
    const index = this.index(config.name);
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
    const index = this.index(query.stream);
    const waitMs = query.waitMs ?? 0;
    if (!Number.isSafeInteger(waitMs) || waitMs < 0) throw new StrataError("BAD_REQUEST", "wait_ms must be an integer >= 0");
    if (query.after !== undefined && waitMs > 0) {
      if (this.waiting >= this.limits.maxLatestWaiters) throw new StrataError("UNAVAILABLE", "too many latest long-polls waiting");
      this.waiting++;
      try {
        await index.waitForChange(query.after, Math.min(waitMs, this.serviceLimits.maxWaitMs), query.signal);
      } finally {
        this.waiting--;
      }
    }
    return index.view(query.key);
  }
}
