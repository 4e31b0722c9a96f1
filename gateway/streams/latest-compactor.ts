// Compaction of compacted streams (docs/compaction.md): every compaction.intervalMs in the
// background, and on demand (`POST /v1/admin/compact`). The storage engine rewrites segments
// (gateway/log/compaction.ts); this side tells it which records are superseded, from the stream's
// latest-per-key index, and drops a key from the index once compaction removed its tombstone.
// In cluster mode a gateway compacts only the partitions it leads, each judged by the index of
// its current tenure (LatestService.partitionIndex); the others are their leaders' to compact.
import { getLogger } from "@logtape/logtape";
import type { CompactionJudge } from "../log/compaction-segment.ts";
import type { CompactionLimits } from "../log/compaction-limits.ts";
import type { LogStore } from "../log/log-store.ts";
import type { Counter, MetricsRegistry } from "../metrics.ts";
import { supersedes, type LatestIndex } from "./latest-index.ts";
import type { LatestService } from "./latest-service.ts";
import type { StreamService } from "./stream-service.ts";

const log = getLogger(["strata", "compaction"]);

export interface StreamCompaction {
  readonly stream: string;
  readonly segmentsRewritten: number;
  readonly recordsRemoved: number;
}

function judgeOf(index: LatestIndex): CompactionJudge {
  return {
    superseded: (key, partition, offset, timestamp) => {
      const newest = index.entry(key);
      if (!newest || (newest.partition === partition && newest.offset === offset)) return false;
      return supersedes(newest, { partition, offset, timestamp });
    },
    tombstoneRemoved: (key, partition, offset) => index.forgetTombstone(key, partition, offset),
  };
}

interface CompactionMetrics {
  readonly passes: Counter;
  readonly segmentsRewritten: Counter;
  readonly recordsRemoved: Counter;
  readonly bytesRead: Counter;
}

function createCompactionMetrics(registry: MetricsRegistry): CompactionMetrics {
  return {
    passes: registry.counter("strata_compaction_passes_total", "Compaction passes over a compacted stream, per stream and outcome (ok, failed).", ["stream", "outcome"]),
    segmentsRewritten: registry.counter("strata_compaction_segments_rewritten_total", "Committed segments rewritten by compaction, per stream.", ["stream"]),
    recordsRemoved: registry.counter("strata_compaction_records_removed_total", "Records compaction removed (superseded, or tombstones past their delay), per stream.", ["stream"]),
    bytesRead: registry.counter("strata_compaction_bytes_read_total", "Bytes of segment objects compaction read, per stream.", ["stream"]),
  };
}

export class StreamCompactor {
  private timer: ReturnType<typeof setInterval> | undefined;
  private background: Promise<void> | undefined;
  private readonly metrics: CompactionMetrics;

  constructor(
    private readonly streams: StreamService,
    private readonly logs: LogStore,
    private readonly latest: LatestService,
    private readonly limits: CompactionLimits,
    registry: MetricsRegistry,
  ) {
    this.metrics = createCompactionMetrics(registry);
  }

  /** Starts the background passes. */
  start(): void {
    this.timer = setInterval(() => {
      this.background ??= this.compactAll().finally(() => (this.background = undefined));
    }, this.limits.intervalMs);
    (this.timer as { unref?: () => void }).unref?.();
  }

  /** One pass over every partition of `stream` (BAD_REQUEST when it is not compacted). */
  async compact(stream: string): Promise<StreamCompaction> {
    const config = await this.streams.lookup(stream);
    this.latest.requireCompacted(config);
    const cluster = this.streams.router !== undefined;
    const led = new Set(cluster ? this.logs.led().filter((l) => l.stream === stream).map((l) => l.partition) : []);
    const streamJudge = cluster ? undefined : judgeOf(this.latest.index(stream));
    const policy = {
      minRemovableRatio: this.limits.minRemovableRatio,
      maxBytesPerPass: this.limits.maxBytesPerPass,
      tombstoneBefore: Date.now() - (config.tombstoneMs ?? this.limits.defaultTombstoneMs),
    };
    let segmentsRewritten = 0;
    let recordsRemoved = 0;
    let bytesRead = 0;
    try {
      for (let p = 0; p < config.partitions; p++) {
        if (cluster && !led.has(p)) continue;
        const judge = streamJudge ?? judgeOf(await this.latest.partitionIndex(config, p));
        const outcome = await this.logs.partition(stream, p).compact(judge, policy);
        segmentsRewritten += outcome.segmentsRewritten;
        recordsRemoved += outcome.recordsRemoved;
        bytesRead += outcome.bytesRead;
      }
    } catch (e) {
      this.metrics.passes.inc({ stream, outcome: "failed" });
      throw e;
    } finally {
      this.metrics.segmentsRewritten.inc({ stream }, segmentsRewritten);
      this.metrics.recordsRemoved.inc({ stream }, recordsRemoved);
      this.metrics.bytesRead.inc({ stream }, bytesRead);
    }
    this.metrics.passes.inc({ stream, outcome: "ok" });
    if (segmentsRewritten > 0) log.info("compacted {stream}: {segments} segments rewritten, {records} records removed", { stream, segments: segmentsRewritten, records: recordsRemoved });
    return { stream, segmentsRewritten, recordsRemoved };
  }

  private async compactAll(): Promise<void> {
    for (const info of this.streams.list()) {
      if (info.cleanup !== "compact") continue;
      try {
        await this.compact(info.name);
      } catch (e) {
        log.error("compaction of {stream} failed (the next pass retries): {error}", { stream: info.name, error: e instanceof Error ? e.message : String(e) });
      }
    }
  }

  /** Stops the background passes; waits for the one running. */
  async close(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    await this.background;
  }
}
