// A small Prometheus registry: counters, gauges and histograms with label sets, rendered as
// text exposition format 0.0.4. Label sets per metric are bounded so a hostile client cannot
// grow memory by inventing stream names (unknown streams are rejected before metrics are touched).

export type Labels = Readonly<Record<string, string>>;

const MAX_SERIES_PER_METRIC = 10_000;

function labelKey(labels: Labels): string {
  const names = Object.keys(labels).sort();
  if (names.length === 0) return "";
  return `{${names.map((n) => `${n}="${escapeLabel(labels[n]!)}"`).join(",")}}`;
}

function escapeLabel(value: string): string {
  return value.replace(/\\/g, "\\\\").replace(/\n/g, "\\n").replace(/"/g, '\\"');
}

abstract class Metric {
  readonly name: string;
  readonly help: string;
  readonly type: "counter" | "gauge" | "histogram";
  constructor(name: string, help: string, type: "counter" | "gauge" | "histogram") {
    this.name = name;
    this.help = help;
    this.type = type;
  }
  abstract lines(): string[];
}

export class Counter extends Metric {
  private readonly series = new Map<string, number>();
  constructor(name: string, help: string, type: "counter" | "gauge" = "counter") {
    super(name, help, type);
  }
  inc(labels: Labels = {}, by = 1): void {
    const key = labelKey(labels);
    const current = this.series.get(key);
    if (current === undefined && this.series.size >= MAX_SERIES_PER_METRIC) return;
    this.series.set(key, (current ?? 0) + by);
  }
  set(labels: Labels, value: number): void {
    const key = labelKey(labels);
    if (!this.series.has(key) && this.series.size >= MAX_SERIES_PER_METRIC) return;
    this.series.set(key, value);
  }
  get(labels: Labels = {}): number {
    return this.series.get(labelKey(labels)) ?? 0;
  }
  lines(): string[] {
    return [...this.series].map(([key, value]) => `${this.name}${key} ${value}`);
  }
}

export class Histogram extends Metric {
  private readonly buckets: readonly number[];
  private readonly counts: number[];
  private sum = 0;
  private count = 0;
  constructor(name: string, help: string, buckets: readonly number[]) {
    super(name, help, "histogram");
    this.buckets = buckets;
    this.counts = buckets.map(() => 0);
  }
  observe(value: number): void {
    this.sum += value;
    this.count++;
    for (let i = 0; i < this.buckets.length; i++) if (value <= this.buckets[i]!) this.counts[i]!++;
  }
  lines(): string[] {
    return [
      ...this.buckets.map((b, i) => `${this.name}_bucket{le="${b}"} ${this.counts[i]}`),
      `${this.name}_bucket{le="+Inf"} ${this.count}`,
      `${this.name}_sum ${this.sum}`,
      `${this.name}_count ${this.count}`,
    ];
  }
}

export class MetricsRegistry {
  private readonly metrics: Metric[] = [];
  counter(name: string, help: string): Counter {
    return this.add(new Counter(name, help));
  }
  gauge(name: string, help: string): Counter {
    return this.add(new Counter(name, help, "gauge"));
  }
  histogram(name: string, help: string, buckets: readonly number[]): Histogram {
    return this.add(new Histogram(name, help, buckets));
  }
  render(): string {
    const out: string[] = [];
    for (const m of this.metrics) out.push(`# HELP ${m.name} ${m.help}`, `# TYPE ${m.name} ${m.type}`, ...m.lines());
    return out.join("\n") + "\n";
  }
  private add<M extends Metric>(metric: M): M {
    this.metrics.push(metric);
    return metric;
  }
}

/** Every metric the gateway exports, created once per process. */
export function createGatewayMetrics(registry = new MetricsRegistry()) {
  return {
    registry,
    recordsIn: registry.counter("strata_records_in_total", "Records appended, per stream."),
    bytesIn: registry.counter("strata_bytes_in_total", "Encoded record bytes appended, per stream."),
    recordsOut: registry.counter("strata_records_out_total", "Records served to readers, per stream."),
    bytesOut: registry.counter("strata_bytes_out_total", "Encoded record bytes served to readers, per stream."),
    walFsyncSeconds: registry.histogram(
      "strata_wal_fsync_seconds",
      "Latency of WAL group-commit fsyncs.",
      [0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1],
    ),
    objectStoreOps: registry.counter("strata_object_store_operations_total", "Object-store operations, per op."),
    objectStoreErrors: registry.counter("strata_object_store_errors_total", "Failed object-store operations, per op."),
    objectStoreBytesRead: registry.counter("strata_object_store_read_bytes_total", "Bytes read from the object store."),
    objectStoreBytesWritten: registry.counter("strata_object_store_written_bytes_total", "Bytes written to the object store."),
    segmentsUploaded: registry.counter("strata_segments_uploaded_total", "Segments sealed and uploaded."),
    cacheHits: registry.counter("strata_segment_cache_hits_total", "Reads served by the local segment cache."),
    cacheMisses: registry.counter("strata_segment_cache_misses_total", "Reads that went to the object store."),
    // Read path (issue 11): how often batch CRCs are computed, per tier, and cache files refused.
    batchCrcChecks: registry.counter("strata_batch_crc_checks_total", "Stored batches whose CRC32C was computed, per tier (wal, pending, cache-entry, cache-first-read, object-store)."),
    cacheFilesRefused: registry.counter("strata_segment_cache_refused_total", "Segment cache files that failed their CRC check and were dropped (the object store serves them)."),
    segmentUploadSeconds: registry.histogram(
      "strata_segment_upload_seconds",
      "Time to upload and commit one sealed segment.",
      [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
    ),
    segmentCacheBytes: registry.gauge("strata_segment_cache_bytes", "Bytes of segment files in the local cache."),
    unuploadedBytes: registry.gauge("strata_unuploaded_bytes", "Sealed segment bytes on local disk not yet in the object store, per stream."),
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
