// The end-to-end histogram takes one observation many times in one call (a read's records share a
// few timestamps): its exposition must be the one prom-client writes for a histogram (cumulative
// buckets, +Inf, sum, count; promtool accepts it), a value on a bound falls in that bound's
// bucket, and past the facade's series cap new series are dropped and counted.
import { expect, test } from "bun:test";
import { MAX_SERIES_PER_METRIC, MetricsRegistry } from "../../gateway/metrics.ts";
import { WeightedHistogram } from "../../gateway/observability/weighted-histogram.ts";
import { checkMetrics } from "../helpers/promtool.ts";
import { valueOf } from "./metrics-exposition.ts";

const NAME = "test_latency_seconds";

function histogram(registry = new MetricsRegistry()) {
  return { registry, histogram: new WeightedHistogram(registry, { name: NAME, help: "Test latencies.", label: "stream", buckets: [0.1, 1, 10] }) };
}

test("weighted observations render as a prom-client histogram", async () => {
  const { registry, histogram: h } = histogram();
  h.observeMany("a", 0.05, 3);
  h.observeMany("a", 1, 2); // on a bound: in that bucket
  h.observeMany("a", 99, 1);
  h.observeMany("b", 5, 4);
  h.observeMany("b", 5, 0); // nothing
  const text = await registry.render();
  const bucket = (stream: string, le: string) => valueOf(text, `${NAME}_bucket`, { stream, le });
  expect(["0.1", "1", "10", "+Inf"].map((le) => bucket("a", le))).toEqual([3, 5, 5, 6]);
  expect(["0.1", "1", "10", "+Inf"].map((le) => bucket("b", le))).toEqual([0, 0, 4, 4]);
  expect(valueOf(text, `${NAME}_count`, { stream: "a" })).toBe(6);
  expect(valueOf(text, `${NAME}_sum`, { stream: "a" })).toBeCloseTo(0.15 + 2 + 99, 9);
  expect(valueOf(text, `${NAME}_sum`, { stream: "b" })).toBe(20);
  expect(text).toContain(`# TYPE ${NAME} histogram`);
  expect(h.summary("a")).toEqual({ count: 6, sum: expect.closeTo(101.15, 9) });
  const check = checkMetrics(text);
  expect(check.output).toBe("");
  expect(check.code).toBe(0);
  // The JSON form prom-client derives from the same samples.
  const json = (await registry.prom.getMetricsAsJSON()).find((m) => m.name === NAME);
  expect(json?.values.find((v) => v.labels["stream"] === "b" && v.labels["le"] === "+Inf")?.value).toBe(4);
});

test("past the series cap, new label values are dropped and counted", async () => {
  const { registry, histogram: h } = histogram();
  for (let i = 0; i <= MAX_SERIES_PER_METRIC; i++) h.observeMany(`s${i}`, 1, 1);
  const text = await registry.render();
  expect(valueOf(text, `${NAME}_count`, { stream: "s0" })).toBe(1);
  expect(valueOf(text, `${NAME}_count`, { stream: `s${MAX_SERIES_PER_METRIC}` })).toBeUndefined();
  expect(valueOf(text, "strata_metric_series_dropped_total", { metric: NAME })).toBe(1);
});
