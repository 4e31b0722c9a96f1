// A prom-client histogram with one label that also takes an observation many times in one call.
// A read hands out up to thousands of records at once, and the records of one stored batch share
// their timestamp, so end-to-end latency is a few distinct values each seen many times: observing
// them one by one through prom-client cost about as much as the read itself. prom-client has no
// weighted observe, so this subclass keeps its own bucket counts and answers them where prom-client
// asks a histogram for its samples (`getForPromString`, which both the text exposition and
// `get()` read), in the same shape; prom-client's own observe() is not used on it (its counts
// would not be rendered). Series are capped like the facade's (gateway/metrics.ts).
import * as prom from "prom-client";
import { MAX_SERIES_PER_METRIC, type MetricsRegistry } from "../metrics.ts";

interface Series {
  /** Observations per bucket (not cumulative); the last slot is above every bound (+Inf only). */
  readonly counts: Float64Array;
  sum: number;
  count: number;
}

/** One sample as prom-client's exposition reads it. */
interface Sample {
  readonly labels: Record<string, string | number>;
  readonly sharedLabels: Record<string, string>;
  readonly value: number;
  readonly metricName: string;
}

export class WeightedHistogram<L extends string> extends prom.Histogram<L> {
  readonly #name: string;
  readonly #help: string;
  readonly #label: L;
  readonly #bounds: readonly number[];
  readonly #series = new Map<string, Series>();
  readonly #registry: MetricsRegistry;

  constructor(registry: MetricsRegistry, options: { readonly name: string; readonly help: string; readonly label: L; readonly buckets: readonly number[] }) {
    super({ name: options.name, help: options.help, labelNames: [options.label], buckets: [...options.buckets], registers: [registry.prom] });
    this.#name = options.name;
    this.#help = options.help;
    this.#label = options.label;
    this.#bounds = [...options.buckets].sort((a, b) => a - b);
    this.#registry = registry;
  }

  /** Observes `value` `times` times for the series whose label is `labelValue`. */
  observeMany(labelValue: string, value: number, times: number): void {
    if (times <= 0 || !Number.isFinite(value)) return;
    let series = this.#series.get(labelValue);
    if (series === undefined) {
      if (this.#series.size >= MAX_SERIES_PER_METRIC) return void this.#countDropped();
      series = { counts: new Float64Array(this.#bounds.length + 1), sum: 0, count: 0 };
      this.#series.set(labelValue, series);
    }
    let bucket = 0;
    while (bucket < this.#bounds.length && value > this.#bounds[bucket]!) bucket++;
    series.counts[bucket]! += times;
    series.sum += value * times;
    series.count += times;
  }

  /** The count and sum of one series (tests, the console). */
  summary(labelValue: string): { count: number; sum: number } {
    const series = this.#series.get(labelValue);
    return { count: series?.count ?? 0, sum: series?.sum ?? 0 };
  }

  override reset(): void {
    super.reset();
    // prom-client's constructor calls reset() before this class's fields exist.
    if (#series in this) this.#series.clear();
  }

  /** What prom-client's registry renders (and get() returns): cumulative buckets, +Inf, sum and count per series. */
  async getForPromString(): Promise<{ name: string; help: string; type: "histogram"; values: Sample[]; aggregator: prom.Aggregator }> {
    const values: Sample[] = [];
    const bucketName = `${this.#name}_bucket`;
    for (const [labelValue, series] of this.#series) {
      const sharedLabels = { [this.#label]: labelValue };
      let cumulative = 0;
      this.#bounds.forEach((bound, i) => {
        cumulative += series.counts[i]!;
        values.push({ labels: { le: bound }, sharedLabels, value: cumulative, metricName: bucketName });
      });
      values.push({ labels: { le: "+Inf" }, sharedLabels, value: series.count, metricName: bucketName });
      values.push({ labels: {}, sharedLabels, value: series.sum, metricName: `${this.#name}_sum` });
      values.push({ labels: {}, sharedLabels, value: series.count, metricName: `${this.#name}_count` });
    }
    return { name: this.#name, help: this.#help, type: "histogram", values, aggregator: "sum" };
  }

  #countDropped(): void {
    const dropped = this.#registry.prom.getSingleMetric("strata_metric_series_dropped_total");
    if (dropped instanceof prom.Counter) dropped.inc({ metric: this.#name });
  }
}
