// The estimates of one gateway and the flags they raise (docs/anomalies.md): per stream the bytes
// per record of each appended batch and the records per second of each rate interval; per
// consumer group and per queue the processing times the trackers report. A flag is counted in
// strata_anomalies_total and offered to the publisher of `_strata/anomalies`.
import { isInternalStreamName } from "../../core/log/stream-name.ts";
import type { AnomalyLimits } from "./anomaly-limits.ts";
import type { AnomalyMetrics } from "./anomaly-metrics.ts";
import type { AnomalyFlag, AnomalyKind } from "./anomaly-record.ts";
import { RunningEstimate, type Judgement } from "./anomaly-estimate.ts";

/** One rate interval of a stream: records appended since `start`; `flagged` once the interval was flagged early. */
interface RateInterval {
  start: number;
  records: number;
  flagged: boolean;
}

/** A stream's two estimates and its current rate interval. */
interface StreamWatch {
  readonly size: RunningEstimate;
  readonly rate: RunningEstimate;
  readonly interval: RateInterval;
}

export type ProcessingKind = Extract<AnomalyKind, "group_processing" | "queue_processing">;

/** Where a processing time was measured: the group or queue, and the record (or commit) it covers. */
export interface ProcessingSubject {
  readonly group: string;
  readonly stream: string;
  readonly partition: number;
  /** What the time covers, for the reason (`offset 17`, `offsets 10..19`); built only for a flag. */
  readonly what: () => string;
}

export class AnomalyDetector {
  /** By stream name (two estimates each). */
  readonly #streams = new Map<string, StreamWatch>();
  /** By kind, then group or queue. */
  readonly #processing: Readonly<Record<ProcessingKind, Map<string, RunningEstimate>>> = { group_processing: new Map(), queue_processing: new Map() };

  constructor(
    private readonly limits: AnomalyLimits,
    private readonly metrics: AnomalyMetrics,
    private readonly report: (flag: AnomalyFlag) => void,
    private readonly now: () => number = Date.now,
  ) {}

  /** A batch appended to a stream (internal streams are not watched: a flag's own record would be judged). */
  appended(stream: string, partition: number, records: number, bytes: number, baseOffset: number): void {
    if (records <= 0) return;
    let watch = this.#streams.get(stream);
    if (watch === undefined) {
      if (isInternalStreamName(stream) || !this.#room(2)) return;
      watch = { size: new RunningEstimate(this.limits), rate: new RunningEstimate(this.limits), interval: { start: this.now(), records: 0, flagged: false } };
      this.#streams.set(stream, watch);
    }
    this.#size(watch.size, stream, partition, records, bytes, baseOffset);
    this.#rate(watch, stream, partition, records);
  }

  /** A processing time in ms (fetch to commit for a group, claim to ack for a queue). */
  processing(kind: ProcessingKind, subject: ProcessingSubject, ms: number): void {
    const series = this.#processing[kind];
    let estimate = series.get(subject.group);
    if (estimate === undefined) {
      if (!this.#room(1)) return;
      series.set(subject.group, (estimate = new RunningEstimate(this.limits)));
    }
    const { minProcessingMs, maxProcessingMs } = this.limits;
    const overBound = maxProcessingMs > 0 && ms > maxProcessingMs;
    const judged = estimate.observe(ms);
    const unusual = judged.flagged && ms > minProcessingMs;
    if (!unusual && !overBound) return;
    const who = kind === "group_processing" ? `group ${subject.group}` : `queue ${subject.group}`;
    const threshold = unusual ? Math.max(judged.threshold, minProcessingMs) : maxProcessingMs;
    const why = unusual ? this.#rule(judged, "ms") : `the processing bound anomalies.maxProcessingMs ${maxProcessingMs} ms`;
    this.#flag({
      kind,
      stream: subject.stream,
      group: subject.group,
      partition: subject.partition,
      value: ms,
      mean: judged.mean,
      stddev: judged.stddev,
      threshold,
      reason: `${who} took ${fmt(ms)} ms over ${subject.stream}/${subject.partition} ${subject.what()}, above ${why}`,
    });
  }

  #size(estimate: RunningEstimate, stream: string, partition: number, records: number, bytes: number, baseOffset: number): void {
    const perRecord = bytes / records;
    const judged = estimate.observe(perRecord);
    if (!judged.flagged) return;
    const at = records === 1 ? `offset ${baseOffset}` : `offsets ${baseOffset}..${baseOffset + records - 1}`;
    this.#flag({
      kind: "record_size",
      stream,
      partition,
      value: perRecord,
      mean: judged.mean,
      stddev: judged.stddev,
      threshold: judged.threshold,
      reason: `records of ${fmt(perRecord)} bytes on average (${records} at partition ${partition}, ${at}), above ${this.#rule(judged, "bytes")}`,
    });
  }

  /**
   * Records per second over each interval of anomalies.rateIntervalMs that saw appends. An
   * interval is judged when it closes (the first append after it) and, so a burst is seen while
   * it lasts, as soon as its count alone passes the threshold (flagged once per interval).
   */
  #rate(watch: StreamWatch, stream: string, partition: number, records: number): void {
    const estimate = watch.rate;
    const current = watch.interval;
    const now = this.now();
    const interval = this.limits.rateIntervalMs;
    if (now - current.start >= interval) {
      const judged = estimate.observe((current.records * 1000) / interval);
      if (judged.flagged && !current.flagged) this.#flagRate(stream, partition, (current.records * 1000) / interval, judged, "");
      current.start = now;
      current.records = 0;
      current.flagged = false;
    }
    current.records += records;
    const soFar = (current.records * 1000) / interval;
    const threshold = estimate.threshold();
    if (!current.flagged && soFar > threshold) {
      current.flagged = true;
      const s = estimate.state;
      this.#flagRate(stream, partition, soFar, { flagged: true, mean: s.mean, stddev: Math.sqrt(s.variance), threshold }, " so far");
    }
  }

  #flagRate(stream: string, partition: number, rate: number, judged: Judgement, soFar: string): void {
    this.#flag({
      kind: "publish_rate",
      stream,
      partition,
      value: rate,
      mean: judged.mean,
      stddev: judged.stddev,
      threshold: judged.threshold,
      reason: `${fmt(rate)} records/s${soFar} over ${this.limits.rateIntervalMs} ms (last batch to partition ${partition}), above ${this.#rule(judged, "records/s")}`,
    });
  }

  /** The rule's numbers as a sentence: `1648 bytes = mean 1030 + 6 × max(stddev 12, 0.1 × mean)`. */
  #rule(judged: Judgement, unit: string): string {
    const { sigmas, stddevFloor } = this.limits;
    return `${fmt(judged.threshold)} ${unit} = mean ${fmt(judged.mean)} + ${sigmas} × max(stddev ${fmt(judged.stddev)}, ${stddevFloor} × mean)`;
  }

  #flag(flag: AnomalyFlag): void {
    this.metrics.flags.inc({ kind: flag.kind, stream: flag.stream ?? "", group: flag.group ?? "" });
    this.report(flag);
  }

  /** Whether `more` estimates fit under anomalies.maxEstimates; counted as untracked when not. */
  #room(more: number): boolean {
    const held = this.#streams.size * 2 + this.#processing.group_processing.size + this.#processing.queue_processing.size;
    if (held + more <= this.limits.maxEstimates) return true;
    this.metrics.untracked.inc({ what: "estimate" }, more);
    return false;
  }
}

/** A number for a reason: at most one decimal. */
function fmt(value: number): string {
  return Number.isInteger(value) ? String(value) : value.toFixed(1);
}
