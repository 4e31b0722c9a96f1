// Consumer-group lag per partition (docs/metrics.md), computed before every scrape from the group
// service's committed offsets: in records (end offset − committed, as `GET /v1/groups/{group}`
// reports it) and in seconds (now − the timestamp of the first record not yet committed, 0 when
// caught up), which says since when a group is behind. The work per scrape is bounded
// (METRICS_LIMITS): groups, and records read to date a partition's oldest uncommitted record; a
// partition whose first uncommitted offset has not moved reuses the timestamp read before.
import { getLogger } from "@logtape/logtape";
import { isStrataError } from "../../core/errors.ts";
import type { MetricsRegistry } from "../metrics.ts";
import type { MetricsLimits } from "./metrics-limits.ts";

const log = getLogger(["strata", "metrics"]);

/** One partition of a group as GroupService.describe answers it. */
export interface GroupPartitionLag {
  readonly stream: string;
  readonly partition: number;
  readonly committed: number | null;
  readonly end_offset: number;
  /** end_offset − (committed, or the partition's start when nothing is committed). */
  readonly lag: number;
}

/** What the lag gauges read (GroupService, structurally). */
export interface GroupLagSource {
  list(): Promise<readonly { readonly group: string }[]>;
  describe(group: string): Promise<{ readonly partitions: readonly GroupPartitionLag[] }>;
}

/** The gateway timestamp of the record at `offset`, or undefined when there is none to read. */
export type RecordTimestamp = (stream: string, partition: number, offset: number) => Promise<number | undefined>;

interface DatedOffset {
  readonly offset: number;
  readonly timestamp: number;
}

export class GroupLagMetrics {
  readonly #records;
  readonly #seconds;
  /** Per group partition: the first uncommitted offset last dated and its timestamp. */
  #dated = new Map<string, DatedOffset>();

  constructor(
    registry: MetricsRegistry,
    private readonly groups: GroupLagSource,
    private readonly timestampOf: RecordTimestamp,
    private readonly limits: Pick<MetricsLimits, "maxLagGroupsPerScrape" | "maxLagReadsPerScrape">,
    private readonly now: () => number = Date.now,
  ) {
    this.#records = registry.gauge("strata_group_lag_records", "Records of a partition a consumer group has not committed yet (end offset − committed offset).", ["group", "stream", "partition"]);
    this.#seconds = registry.gauge("strata_group_lag_seconds", "Seconds since the first record a consumer group has not committed was appended (0 when caught up): since when the group is behind.", ["group", "stream", "partition"]);
  }

  /**
   * Sets both gauges afresh (run before each scrape). Everything is gathered first and the gauges
   * are replaced in one synchronous step, so a scrape running meanwhile sees the old or the new
   * series, never half of them.
   */
  async collect(): Promise<void> {
    let groups: readonly { readonly group: string }[];
    try {
      groups = await this.groups.list();
    } catch (e) {
      // Cluster mode: only the coordinator serves groups; the others export no lag.
      if (!(isStrataError(e) && e.code === "NOT_LEADER")) throw e;
      groups = [];
    }
    const rows: { labels: Record<"group" | "stream" | "partition", string>; lag: number; dated: DatedOffset | undefined }[] = [];
    const dated = new Map<string, DatedOffset>();
    let reads = 0;
    for (const { group } of groups.slice(0, this.limits.maxLagGroupsPerScrape)) {
      let partitions: readonly GroupPartitionLag[];
      try {
        ({ partitions } = await this.groups.describe(group));
      } catch (e) {
        if (isStrataError(e)) continue; // gone since list(), or the coordinator moved
        throw e;
      }
      for (const p of partitions) {
        const labels = { group, stream: p.stream, partition: String(p.partition) };
        if (p.lag === 0) {
          rows.push({ labels, lag: 0, dated: undefined });
          continue;
        }
        const key = `${group}\u0000${p.stream}\u0000${p.partition}`;
        const first = p.end_offset - p.lag;
        let found = this.#dated.get(key);
        if (found?.offset !== first && reads < this.limits.maxLagReadsPerScrape) {
          reads++;
          const timestamp = await this.timestampOf(p.stream, p.partition, first).catch((e: unknown) => {
            log.debug("lag of group {group} on {stream}/{partition}: no record at {offset} ({error})", { group, stream: p.stream, partition: p.partition, offset: first, error: e });
            return undefined;
          });
          found = timestamp === undefined ? undefined : { offset: first, timestamp };
        }
        // Past the read limit, or with nothing to read: no lag-seconds series this time.
        if (found?.offset !== first) found = undefined;
        if (found !== undefined) dated.set(key, found);
        rows.push({ labels, lag: p.lag, dated: found });
      }
    }
    this.#dated = dated;
    const now = this.now();
    this.#records.reset();
    this.#seconds.reset();
    for (const { labels, lag, dated: at } of rows) {
      this.#records.set(labels, lag);
      if (lag === 0) this.#seconds.set(labels, 0);
      else if (at !== undefined) this.#seconds.set(labels, Math.max(0, now - at.timestamp) / 1000);
    }
  }
}
