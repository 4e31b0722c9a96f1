// /metrics of a real gateway process passes `promtool check metrics` (Prometheus's own checker of
// the text format and its naming rules) after it served a publish, a read, a group commit, a queue
// claim, an edge heartbeat with an outbox and QUIC requests; and the series those requests should
// leave are there, with labels from bounded sets (route patterns, request kinds), never raw paths.
// Under Deno too (HTTP only): prom-client's default process collectors run there as well.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { QuicClient } from "../../edge/transports/quic-client.ts";
import { removeDir, startGateway, tempDir, type GatewayProcess, type Runtime } from "../helpers/gateway.ts";
import { checkMetrics } from "../helpers/promtool.ts";
import { waitFor } from "../edge/edge-fixtures.ts";
import { samplesOf, valueOf } from "./metrics-exposition.ts";

const QUIC_LINE = /quic:\/\/\S+:(\d+) .*certificate (\S+?)(?:,|;)/;

async function call(url: string, method: string, body?: unknown): Promise<unknown> {
  const response = await fetch(url, { method, ...(body === undefined ? {} : { headers: { "content-type": "application/json" }, body: JSON.stringify(body) }) });
  const text = await response.text();
  if (!response.ok) throw new Error(`${method} ${url}: ${response.status} ${text}`);
  return JSON.parse(text);
}

/** The operations the test's series come from, over HTTP. */
const STREAM_PATH = encodeURIComponent("sensors/a");

async function exercise(url: string): Promise<void> {
  await call(`${url}/v1/streams`, "POST", { name: "sensors/a", partitions: 2 });
  await call(`${url}/v1/streams/${STREAM_PATH}/records`, "POST", { records: [{ fields: { v: 1 }, partition: 0 }, { fields: { v: 2 }, partition: 0 }, { fields: { v: 3 }, partition: 1 }] });
  await call(`${url}/v1/streams/${STREAM_PATH}/partitions/0/records?offset=0`, "GET");
  await call(`${url}/v1/groups/readers/offsets`, "POST", { stream: "sensors/a", partition: 0, offset: 1 });
  const claimed = await call(`${url}/v1/queues/workers/claim`, "POST", { streams: ["sensors/a"], max_records: 1 });
  expect(claimed).toMatchObject({ records: [expect.anything()] });
  await call(`${url}/v1/devices/edge-7/heartbeat`, "POST", { labels: { site: "lab" }, pins: {}, outbox_records: 42, transport: "quic", version: "1.0.0" });
  // A refused request and an unknown path: counted under their route pattern, not their path.
  expect((await fetch(`${url}/v1/streams/no-such-stream/partitions/0/records`)).status).toBe(404);
  expect((await fetch(`${url}/v1/no/such/route/at-all`)).status).toBe(404);
}

async function scrape(url: string): Promise<string> {
  const response = await fetch(`${url}/metrics`);
  expect(response.status).toBe(200);
  expect(response.headers.get("content-type")).toContain("text/plain");
  return response.text();
}

function expectPromtoolAccepts(exposition: string): void {
  const check = checkMetrics(exposition);
  // promtool's complaints, one per line, are the failure message.
  expect(check.output).toBe("");
  expect(check.code).toBe(0);
}

/** `partition1End`: records in partition 1 (the QUIC test publishes one more there). */
function expectCommonSeries(text: string, runtime: Runtime, partition1End: number): void {
  expect(valueOf(text, "strata_http_requests_total", { method: "POST", route: "/v1/streams/:name/records", status: "200" })).toBe(1);
  expect(valueOf(text, "strata_http_request_duration_seconds_count", { method: "GET", route: "/v1/streams/:name/partitions/:partition/records" })).toBe(2);
  expect(valueOf(text, "strata_http_requests_total", { method: "GET", route: "/v1/streams/:name/partitions/:partition/records", status: "404" })).toBe(1);
  // No label anywhere carries a raw path.
  expect(samplesOf(text, "strata_http_requests_total").some((s) => s.labels["route"]!.includes("no-such") || s.labels["route"]!.includes("sensors"))).toBe(false);
  expect(valueOf(text, "strata_partition_end_offset", { stream: "sensors/a", partition: "0" })).toBe(2);
  expect(valueOf(text, "strata_partition_end_offset", { stream: "sensors/a", partition: "1" })).toBe(partition1End);
  expect(valueOf(text, "strata_partition_bytes", { stream: "sensors/a", partition: "0" })).toBeGreaterThan(0);
  expect(valueOf(text, "strata_group_lag_records", { group: "readers", stream: "sensors/a", partition: "0" })).toBe(1);
  expect(valueOf(text, "strata_group_lag_records", { group: "readers", stream: "sensors/a", partition: "1" })).toBe(partition1End);
  expect(valueOf(text, "strata_group_lag_seconds", { group: "readers", stream: "sensors/a", partition: "0" })).toBeGreaterThanOrEqual(0);
  expect(valueOf(text, "strata_queue_in_flight", { group: "workers", stream: "sensors/a" })).toBe(1);
  expect(valueOf(text, "strata_edge_outbox_records", { device: "edge-7" })).toBe(42);
  // The HTTP read delivered 2 records, the claim 1.
  expect(valueOf(text, "strata_end_to_end_latency_seconds_count", { stream: "sensors/a" })).toBeGreaterThanOrEqual(3);
  expect(valueOf(text, "strata_long_polls_in_flight", { transport: "http" })).toBe(0);
  expect(valueOf(text, "strata_queue_deliveries_total", { group: "workers", stream: "sensors/a" })).toBe(1);
  const build = samplesOf(text, "strata_build_info");
  expect(build).toHaveLength(1);
  expect(build[0]!.labels).toMatchObject({ runtime, version: expect.stringMatching(/^\d+\.\d+\.\d+/), runtime_version: expect.stringMatching(/^\d+\.\d+/) });
  expect(build[0]!.value).toBe(1);
  expect(valueOf(text, "process_resident_memory_bytes")).toBeGreaterThan(0);
  expect(valueOf(text, "process_cpu_seconds_total")).toBeGreaterThan(0);
}

describe("under Bun, with QUIC", () => {
  let gateway: GatewayProcess;
  let dataDir: string;
  let quic: QuicClient;

  beforeAll(async () => {
    dataDir = tempDir("strata-metrics-");
    gateway = await startGateway({ dataDir, args: ["--quic-port", "0"], timeoutMs: 60_000 });
    let match: RegExpExecArray | null = null;
    await waitFor(() => (match = QUIC_LINE.exec(gateway.output())) !== null, 30_000, "the QUIC listening line");
    const [, port, caFile] = match!;
    quic = await QuicClient.connect({ host: "127.0.0.1", port: Number(port), ca: await Bun.file(caFile!).text() });
  }, 90_000);

  afterAll(async () => {
    await quic?.close();
    await gateway?.stop();
    removeDir(dataDir);
  });

  test("promtool accepts the exposition, and every kind of series is in it", async () => {
    await exercise(gateway.url);
    await quic.publish("sensors/a", { records: [{ fields: { v: 4 }, partition: 1 }] });
    const fetched = await quic.fetch({ stream: "sensors/a", partition: 1, offset: 0 });
    expect(fetched.records).toHaveLength(2);
    await expect(quic.fetch({ stream: "sensors/a", partition: 9, offset: 0 })).rejects.toThrow();
    const text = await scrape(gateway.url);
    expectPromtoolAccepts(text);
    expectCommonSeries(text, "bun", 2);
    expect(valueOf(text, "strata_quic_requests_total", { kind: "publish", code: "ok" })).toBe(1);
    expect(valueOf(text, "strata_quic_requests_total", { kind: "fetch", code: "ok" })).toBe(1);
    expect(valueOf(text, "strata_quic_requests_total", { kind: "fetch", code: "PARTITION_NOT_FOUND" })).toBe(1);
    expect(valueOf(text, "strata_quic_request_duration_seconds_count", { kind: "fetch" })).toBe(2);
    expect(valueOf(text, "strata_quic_requests_in_flight")).toBe(0);
    // 2 + 1 records read over HTTP and claimed, 2 fetched over QUIC.
    expect(valueOf(text, "strata_end_to_end_latency_seconds_count", { stream: "sensors/a" })).toBe(5);
  }, 60_000);
});

describe("under Deno", () => {
  let gateway: GatewayProcess;
  let dataDir: string;

  beforeAll(async () => {
    dataDir = tempDir("strata-metrics-deno-");
    gateway = await startGateway({ runtime: "deno", dataDir, timeoutMs: 90_000 });
  }, 120_000);

  afterAll(async () => {
    await gateway?.stop();
    removeDir(dataDir);
  });

  test("promtool accepts the exposition, process metrics included", async () => {
    await exercise(gateway.url);
    const text = await scrape(gateway.url);
    expectPromtoolAccepts(text);
    expectCommonSeries(text, "deno", 1);
  }, 60_000);
});
