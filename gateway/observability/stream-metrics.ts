// The read side of streams (docs/metrics.md): end-to-end latency (a record's gateway timestamp to
// its delivery to a reader), long-polls waiting now, and each partition's end offset and bytes
// held. The log service calls the ReadObserver on reads a transport asked for; the partition
// gauges are set from the log store before every scrape.
import type { MetricsRegistry } from "../metrics.ts";
import { WeightedHistogram } from "./weighted-histogram.ts";

/** The transport a read was asked on: its records count as delivered, its waits as long-polls. */
export type ReadTransport = "http" | "quic";

/** What the log service (and the queue service, for claims) tells the metrics about reads. */
export interface ReadObserver {
  /** A long-poll on `transport` starts waiting; the returned function is called when it stops. */
  longPollStarted(transport: ReadTransport): () => void;
  /** Records of `stream` handed to a reader now; each one's latency is now − its timestamp. */
  delivered(stream: string, records: readonly { readonly timestamp: number }[]): void;
}

/** What the partition gauges read: every partition open on this gateway (LogStore.partitions()). */
export interface PartitionSource {
  partitions(): readonly { readonly stream: string; readonly partition: number; readonly endOffset: number; readonly bytes: number }[];
}

/** Seconds from append to delivery: a live tail is read within milliseconds, a replay hours later. */
export const END_TO_END_SECONDS_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900, 3600, 21_600, 86_400] as const;

export class StreamMetrics implements ReadObserver {
  readonly #endToEnd: WeightedHistogram<"stream">;
  readonly #longPolls;
  readonly #endOffset;
  readonly #bytes;

  constructor(registry: MetricsRegistry, partitions: PartitionSource) {
    this.#endToEnd = new WeightedHistogram(registry, { name: "strata_end_to_end_latency_seconds", help: "From a record's timestamp (stamped by the gateway at append) to its delivery to a reader (HTTP and QUIC reads, queue claims), per stream.", label: "stream", buckets: END_TO_END_SECONDS_BUCKETS });
    this.#longPolls = registry.gauge("strata_long_polls_in_flight", "Reads waiting at the end of a partition for records (wait_ms), per transport.", ["transport"]);
    this.#endOffset = registry.gauge("strata_partition_end_offset", "One past the last readable record of a partition open on this gateway.", ["stream", "partition"]);
    this.#bytes = registry.gauge("strata_partition_bytes", "Bytes a partition holds: committed segments, sealed files awaiting upload and the active WAL.", ["stream", "partition"]);
    for (const transport of ["http", "quic"] as const) this.#longPolls.set({ transport }, 0);
    registry.onCollect(() => {
      // Set afresh each scrape: a deleted stream's or a handed-over partition's series go away.
      this.#endOffset.reset();
      this.#bytes.reset();
      for (const p of partitions.partitions()) {
        const labels = { stream: p.stream, partition: String(p.partition) };
        this.#endOffset.set(labels, p.endOffset);
        this.#bytes.set(labels, p.bytes);
      }
    });
  }

  longPollStarted(transport: ReadTransport): () => void {
    const labels = { transport };
    this.#longPolls.inc(labels, 1);
    let done = false;
    return () => {
      if (done) return;
      done = true;
      this.#longPolls.inc(labels, -1);
    };
  }

  delivered(stream: string, records: readonly { readonly timestamp: number }[]): void {
    if (records.length === 0) return;
    const now = Date.now();
    // Records of one stored batch share their timestamp: each run is one weighted observation.
    // In cluster mode another gateway may have stamped a record with a clock a little ahead.
    let runTimestamp = records[0]!.timestamp;
    let runLength = 0;
    for (const r of records) {
      if (r.timestamp === runTimestamp) {
        runLength++;
        continue;
      }
      this.#endToEnd.observeMany(stream, Math.max(0, now - runTimestamp) / 1000, runLength);
      runTimestamp = r.timestamp;
      runLength = 1;
    }
    this.#endToEnd.observeMany(stream, Math.max(0, now - runTimestamp) / 1000, runLength);
  }
}
