// The gateway's Prometheus metrics, through prom-client (runs under Bun, Deno and Node): counters,
// gauges and histograms with declared label names, rendered as text exposition format 0.0.4.
// This module keeps one small typed facade over prom-client so every subsystem declares its
// metrics the same way (name, help, label names) and cannot grow memory without bound: the
// series of each metric are capped (unknown streams are rejected before metrics are touched,
// but a device id or a group name still comes from outside).
import * as prom from "prom-client";

/** A label set: every key one of the metric's declared label names. */
export type Labels<L extends string = string> = Readonly<Partial<Record<L, string>>>;

/** Most label sets one metric keeps; past it new series are dropped (and counted). */
export const MAX_SERIES_PER_METRIC = 10_000;

function seriesKey(labels: Labels): string {
  const names = Object.keys(labels).sort();
  return names.map((n) => `${n}\u0000${labels[n as keyof typeof labels] ?? ""}`).join("\u0001");
}

/** Tracks the label sets a metric has, refusing new ones past the cap. */
class SeriesCap {
  private readonly keys = new Set<string>();
  admits(labels: Labels, onDrop: () => void): boolean {
    const key = seriesKey(labels);
    if (this.keys.has(key)) return true;
    if (this.keys.size >= MAX_SERIES_PER_METRIC) {
      onDrop();
      return false;
    }
    this.keys.add(key);
    return true;
  }
  forget(labels: Labels): void {
    this.keys.delete(seriesKey(labels));
  }
  clear(): void {
    this.keys.clear();
  }
}

/**
 * A counter (only goes up) or a gauge (set to a value), with its label sets capped. It mirrors
 * each series' value so get() answers synchronously (tests, the console, collect hooks).
 */
export class Counter<L extends string = string> {
  readonly name: string;
  private readonly values = new Map<string, number>();
  private readonly metric: prom.Counter<L> | prom.Gauge<L>;
  private readonly dropped: () => void;
  constructor(metric: prom.Counter<L> | prom.Gauge<L>, name: string, dropped: () => void) {
    this.metric = metric;
    this.name = name;
    this.dropped = dropped;
  }
  inc(labels: Labels<L> = {} as Labels<L>, by = 1): void {
    const key = this.admit(labels);
    if (key === undefined) return;
    this.values.set(key, (this.values.get(key) ?? 0) + by);
    this.metric.inc(labels as prom.LabelValues<L>, by);
  }
  /** Gauges only: the series' value now. */
  set(labels: Labels<L>, value: number): void {
    if (!(this.metric instanceof prom.Gauge)) throw new TypeError(`${this.name} is a counter: it cannot be set`);
    const key = this.admit(labels);
    if (key === undefined) return;
    this.values.set(key, value);
    this.metric.set(labels as prom.LabelValues<L>, value);
  }
  /** Drops one series (a partition no longer led, a device gone). */
  remove(labels: Labels<L>): void {
    this.values.delete(seriesKey(labels));
    this.metric.remove(labels as prom.LabelValues<L>);
  }
  /** Drops every series (before a collect hook sets the ones that exist now). */
  reset(): void {
    this.values.clear();
    this.metric.reset();
  }
  /** The series' current value (0 when it has none). */
  get(labels: Labels<L> = {} as Labels<L>): number {
    return this.values.get(seriesKey(labels)) ?? 0;
  }
  private admit(labels: Labels<L>): string | undefined {
    const key = seriesKey(labels);
    if (this.values.has(key)) return key;
    if (this.values.size >= MAX_SERIES_PER_METRIC) {
      this.dropped();
      return undefined;
    }
    return key;
  }
}

/** A histogram of observations, per label set (capped). */
export class Histogram<L extends string = string> {
  readonly name: string;
  private readonly cap = new SeriesCap();
  private readonly metric: prom.Histogram<L>;
  private readonly dropped: () => void;
  constructor(metric: prom.Histogram<L>, name: string, dropped: () => void) {
    this.metric = metric;
    this.name = name;
    this.dropped = dropped;
  }
  observe(value: number, labels: Labels<L> = {} as Labels<L>): void {
    if (!this.cap.admits(labels, this.dropped)) return;
    this.metric.observe(labels as prom.LabelValues<L>, value);
  }
  /** The histogram's count and sum for one label set; for tests and the console. */
  async summary(labels: Labels<L> = {} as Labels<L>): Promise<{ count: number; sum: number }> {
    const key = seriesKey(labels);
    const data = await this.metric.get();
    let count = 0;
    let sum = 0;
    for (const v of data.values) {
      const { le, ...rest } = v.labels as Record<string, string | number>;
      if (le !== undefined || seriesKey(rest as Labels) !== key) continue;
      if (v.metricName === `${this.name}_count`) count = v.value;
      if (v.metricName === `${this.name}_sum`) sum = v.value;
    }
    return { count, sum };
  }
}

/** A hook run before each scrape: it sets gauges computed from state (lag, end offsets, ...). */
export type CollectHook = () => void | Promise<void>;

export class MetricsRegistry {
  readonly prom = new prom.Registry();
  private readonly hooks: CollectHook[] = [];
  private readonly droppedSeries: prom.Counter<"metric">;
  constructor() {
    this.droppedSeries = new prom.Counter({ name: "strata_metric_series_dropped_total", help: `Label sets not recorded because their metric already had ${MAX_SERIES_PER_METRIC}, per metric.`, labelNames: ["metric"], registers: [this.prom] });
  }
  counter<L extends string = never>(name: string, help: string, labelNames: readonly L[] = []): Counter<L> {
    const metric = new prom.Counter<L>({ name, help, labelNames, registers: [this.prom] });
    return new Counter(metric, name, this.dropper(name));
  }
  gauge<L extends string = never>(name: string, help: string, labelNames: readonly L[] = []): Counter<L> {
    const metric = new prom.Gauge<L>({ name, help, labelNames, registers: [this.prom] });
    return new Counter(metric, name, this.dropper(name));
  }
  histogram<L extends string = never>(name: string, help: string, buckets: readonly number[], labelNames: readonly L[] = []): Histogram<L> {
    const metric = new prom.Histogram<L>({ name, help, labelNames, buckets: [...buckets], registers: [this.prom] });
    return new Histogram(metric, name, this.dropper(name));
  }
  /** Runs `hook` before every render. */
  onCollect(hook: CollectHook): void {
    this.hooks.push(hook);
  }
  /** The text exposition (format 0.0.4) of every metric, after the collect hooks ran. */
  async render(): Promise<string> {
    for (const hook of this.hooks) await hook();
    return this.prom.metrics();
  }
  get contentType(): string {
    return this.prom.contentType;
  }
  private dropper(name: string): () => void {
    return () => this.droppedSeries.inc({ metric: name });
  }
}

/** Every metric the gateway exports, created once per process. */
export function createGatewayMetrics(registry = new MetricsRegistry()) {
  return {
    registry,
    recordsIn: registry.counter("strata_records_in_total", "Records appended, per stream.", ["stream"]),
    bytesIn: registry.counter("strata_bytes_in_total", "Encoded record bytes appended, per stream.", ["stream"]),
    recordsOut: registry.counter("strata_records_out_total", "Records served to readers, per stream.", ["stream"]),
    bytesOut: registry.counter("strata_bytes_out_total", "Encoded record bytes served to readers, per stream.", ["stream"]),
    walFsyncSeconds: registry.histogram(
      "strata_wal_fsync_seconds",
      "Latency of WAL group-commit fsyncs.",
      [0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1],
    ),
    objectStoreOps: registry.counter("strata_object_store_operations_total", "Object-store operations, per op.", ["op"]),
    objectStoreErrors: registry.counter("strata_object_store_errors_total", "Failed object-store operations, per op.", ["op", "code"]),
    objectStoreBytesRead: registry.counter("strata_object_store_read_bytes_total", "Bytes read from the object store.", ["op"]),
    objectStoreBytesWritten: registry.counter("strata_object_store_written_bytes_total", "Bytes written to the object store.", ["op"]),
    segmentsUploaded: registry.counter("strata_segments_uploaded_total", "Segments sealed and uploaded.", ["stream"]),
    cacheHits: registry.counter("strata_segment_cache_hits_total", "Reads served by the local segment cache."),
    cacheMisses: registry.counter("strata_segment_cache_misses_total", "Reads that went to the object store."),
    // Read path (issue 11): how often batch CRCs are computed, per tier, and cache files refused.
    batchCrcChecks: registry.counter("strata_batch_crc_checks_total", "Stored batches whose CRC32C was computed, per tier (wal, pending, cache-entry, cache-first-read, object-store).", ["tier"]),
    cacheFilesRefused: registry.counter("strata_segment_cache_refused_total", "Segment cache files that failed their CRC check and were dropped (the object store serves them)."),
    segmentUploadSeconds: registry.histogram(
      "strata_segment_upload_seconds",
      "Time to upload and commit one sealed segment.",
      [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
    ),
    segmentCacheBytes: registry.gauge("strata_segment_cache_bytes", "Bytes of segment files in the local cache."),
    unuploadedBytes: registry.gauge("strata_unuploaded_bytes", "Sealed segment bytes on local disk not yet in the object store, per stream.", ["stream", "partition"]),
    walTornBytes: registry.counter("strata_wal_torn_bytes_total", "Bytes cut from torn WAL tails at recovery."),
    // Cluster mode intake (docs/cluster.md): objects PUT, their bytes, the ack latency, fenced ranges.
    intakePuts: registry.counter("strata_intake_puts_total", "Intake objects written (cluster mode)."),
    intakeBytes: registry.counter("strata_intake_bytes_total", "Bytes of intake objects written (cluster mode)."),
    intakeCommitSeconds: registry.histogram(
      "strata_intake_commit_seconds",
      "From an intake object's creation to its ranges' commit: the acknowledgement latency the intake adds (cluster mode).",
      [0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 5],
    ),
    intakeFencedRanges: registry.counter("strata_intake_fenced_ranges_total", "Intake ranges refused because the partition's lease was gone (cluster mode)."),
  };
}

export type GatewayMetrics = ReturnType<typeof createGatewayMetrics>;
