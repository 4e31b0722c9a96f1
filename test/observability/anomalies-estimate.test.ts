// The running estimate and the rule of docs/anomalies.md: exact mean and variance over the first
// `window` observations, warming until minSamples, the threshold mean + sigmas·max(stddev,
// floor·mean), a flagged observation folded in clipped to the threshold, and the detector's size,
// rate and processing flags with their bounds.
import { describe, expect, test } from "bun:test";
import fc from "fast-check";
import { MetricsRegistry } from "../../gateway/metrics.ts";
import { RunningEstimate } from "../../gateway/observability/anomaly-estimate.ts";
import { AnomalyDetector } from "../../gateway/observability/anomaly-detector.ts";
import { ANOMALY_LIMITS } from "../../gateway/observability/anomaly-limits.ts";
import { createAnomalyMetrics } from "../../gateway/observability/anomaly-metrics.ts";
import type { AnomalyFlag } from "../../gateway/observability/anomaly-record.ts";
import { ProcessingTracker } from "../../gateway/observability/anomaly-processing.ts";

const rule = { minSamples: 5, sigmas: 3, window: 1000, stddevFloor: 0.1 };

describe("RunningEstimate", () => {
  test("over the first `window` observations it is the exact mean and population variance", () => {
    fc.assert(
      fc.property(fc.array(fc.double({ min: 0, max: 1e6, noNaN: true }), { minLength: 1, maxLength: 200 }), (xs) => {
        const estimate = new RunningEstimate({ ...rule, minSamples: 1_000_000, window: 1000 });
        for (const x of xs) estimate.observe(x);
        const mean = xs.reduce((a, b) => a + b, 0) / xs.length;
        const variance = xs.reduce((a, b) => a + (b - mean) ** 2, 0) / xs.length;
        expect(estimate.state.mean).toBeCloseTo(mean, 3);
        expect(Math.abs(estimate.state.variance - variance)).toBeLessThanOrEqual(1e-6 * Math.max(1, variance));
      }),
    );
  });

  test("warming flags nothing; tracking starts at minSamples", () => {
    const estimate = new RunningEstimate(rule);
    for (let i = 0; i < rule.minSamples - 1; i++) {
      expect(estimate.observe(i === 0 ? 1e9 : 100).flagged).toBe(false);
      expect(estimate.state.phase).toBe("warming");
    }
    estimate.observe(100);
    expect(estimate.state.phase).toBe("tracking");
  });

  test("a constant series uses the stddev floor; an outlier is folded in clipped to the threshold", () => {
    const estimate = new RunningEstimate(rule);
    for (let i = 0; i < 20; i++) expect(estimate.observe(1000).flagged).toBe(false);
    // threshold = 1000 + 3 × max(0, 0.1 × 1000) = 1300
    expect(estimate.threshold()).toBeCloseTo(1300, 6);
    expect(estimate.observe(1299).flagged).toBe(false);
    const before = estimate.state.mean;
    const judged = estimate.observe(1_000_000);
    expect(judged).toMatchObject({ flagged: true });
    expect(judged.threshold).toBeGreaterThan(1300);
    // Folded in as the threshold, not as a million: the mean moved by at most (threshold − mean)/n.
    expect(estimate.state.mean - before).toBeLessThanOrEqual((judged.threshold - before) / estimate.state.n + 1e-9);
    // So the next outliers of the burst are flagged too.
    expect(estimate.observe(1_000_000).flagged).toBe(true);
  });

  test("a lasting change becomes the new normal", () => {
    const estimate = new RunningEstimate({ ...rule, window: 20 });
    for (let i = 0; i < 20; i++) estimate.observe(1000);
    let flagged = 0;
    for (let i = 0; i < 500; i++) if (estimate.observe(3000).flagged) flagged++;
    expect(flagged).toBeGreaterThan(0);
    expect(estimate.observe(3000).flagged).toBe(false);
  });
});

function setup(overrides: Partial<typeof ANOMALY_LIMITS.defaults> = {}, now: () => number = Date.now) {
  const limits = ANOMALY_LIMITS.resolve({ minSamples: 10, sigmas: 4, ...overrides });
  const flags: AnomalyFlag[] = [];
  const metrics = createAnomalyMetrics(new MetricsRegistry());
  return { flags, metrics, detector: new AnomalyDetector(limits, metrics, (f) => flags.push(f), now), limits };
}

describe("AnomalyDetector", () => {
  test("record size: steady batches pass, a ten times larger batch is flagged with its offsets", () => {
    const { flags, detector, metrics } = setup();
    for (let i = 0; i < 30; i++) detector.appended("s", 0, 10, 10 * (1000 + (i % 5) * 10), i * 10);
    expect(flags).toEqual([]);
    detector.appended("s", 1, 4, 4 * 10_240, 300);
    expect(flags).toHaveLength(1);
    expect(flags[0]).toMatchObject({ kind: "record_size", stream: "s", partition: 1, value: 10_240 });
    expect(flags[0]!.reason).toContain("offsets 300..303");
    expect(metrics.flags.get({ kind: "record_size", stream: "s", group: "" })).toBe(1);
  });

  test("internal streams are not watched", () => {
    const { flags, detector } = setup();
    for (let i = 0; i < 30; i++) detector.appended("_strata/anomalies", 0, 1, 100, i);
    detector.appended("_strata/anomalies", 0, 1, 100_000, 30);
    expect(flags).toEqual([]);
  });

  test("publish rate: a burst is flagged while it lasts, once per interval", () => {
    let clock = 0;
    const { flags, detector } = setup({ rateIntervalMs: 1000 }, () => clock);
    // 20 intervals of 10 records each (one batch per 100 ms).
    for (let i = 0; i < 200; i++, clock += 100) detector.appended("r", 0, 1, 100, i);
    expect(flags.filter((f) => f.kind === "publish_rate")).toEqual([]);
    for (let i = 0; i < 50; i++) detector.appended("r", 0, 10, 1000, 200 + i * 10);
    const rate = flags.filter((f) => f.kind === "publish_rate");
    expect(rate).toHaveLength(1);
    expect(rate[0]!.reason).toContain("so far");
  });

  test("processing: below minProcessingMs never flags, above maxProcessingMs always does", () => {
    let clock = 0;
    const { flags, detector, metrics } = setup({ minProcessingMs: 50, maxProcessingMs: 10_000 }, () => clock);
    const tracker = new ProcessingTracker(detector, 100, metrics, () => clock);
    for (let i = 0; i < 20; i++) {
      tracker.claimed("q", [{ receipt: `r${i}`, stream: "t", partition: 0, raw: { offset: i } }]);
      clock += 2;
      tracker.acked("q", `r${i}`);
    }
    tracker.claimed("q", [{ receipt: "small", stream: "t", partition: 0, raw: { offset: 20 } }]);
    clock += 40; // far above a 2 ms mean, below minProcessingMs
    tracker.acked("q", "small");
    expect(flags).toEqual([]);
    tracker.claimed("q", [{ receipt: "slow", stream: "t", partition: 0, raw: { offset: 21 } }]);
    clock += 500;
    tracker.acked("q", "slow");
    expect(flags).toHaveLength(1);
    expect(flags[0]).toMatchObject({ kind: "queue_processing", group: "q", stream: "t", value: 500 });
    expect(flags[0]!.reason).toContain("offset 21");
    // Over the absolute bound: flagged even while a fresh group's estimate warms.
    tracker.delivered("fresh", "t", 0, 0, 5);
    clock += 20_000;
    tracker.committed("fresh", "t", 0, 5);
    expect(flags[1]).toMatchObject({ kind: "group_processing", group: "fresh", value: 20_000, threshold: 10_000 });
    expect(flags[1]!.reason).toContain("maxProcessingMs");
  });

  test("group reads: a commit measures from the earliest read it covers; the uncovered rest waits", () => {
    let clock = 0;
    const { flags, detector, metrics } = setup({ minSamples: 2, minProcessingMs: 0, maxProcessingMs: 1 }, () => clock);
    const tracker = new ProcessingTracker(detector, 100, metrics, () => clock);
    tracker.delivered("g", "t", 0, 0, 10);
    clock += 5;
    tracker.delivered("g", "t", 0, 10, 20);
    clock += 5;
    tracker.committed("g", "t", 0, 15); // covers 0..14: from the first read, 10 ms
    expect(flags.at(-1)).toMatchObject({ value: 10 });
    clock += 5;
    tracker.committed("g", "t", 0, 20); // 15..19 were read at 5: 10 ms
    expect(flags.at(-1)).toMatchObject({ value: 10 });
    const count = flags.length;
    tracker.committed("g", "t", 0, 20); // nothing left to measure
    expect(flags).toHaveLength(count);
  });

  test("memory bounds: estimates past maxEstimates and deliveries past maxTracked are counted, not kept", () => {
    const { detector, metrics } = setup({ maxEstimates: 2 });
    detector.appended("a", 0, 1, 10, 0); // size and rate of a: 2 estimates
    detector.appended("b", 0, 1, 10, 0);
    expect(metrics.untracked.get({ what: "estimate" })).toBe(2);
    const tracker = new ProcessingTracker(detector, 3, metrics);
    tracker.claimed("q", [1, 2, 3, 4, 5].map((i) => ({ receipt: `r${i}`, stream: "t", partition: 0, raw: { offset: i } })));
    expect(metrics.untracked.get({ what: "delivery" })).toBe(2);
  });
});
