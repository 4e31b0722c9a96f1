// A scripted scenario against a real gateway process: N records are published, a consumer group
// reads all of them and commits M, and /metrics must then show the group's lag on that partition
// as N − M records and, in seconds, the age of record M (bounded by this process's clock around
// the scrape and the records' own timestamps); the end-to-end histogram must count the N records
// delivered with a sum bounded by the read's start and end. Then the group catches up (lag 0 in
// both), and a long-poll shows in `strata_long_polls_in_flight` while it waits. The work of a
// scrape is bounded: past `metrics.maxLagReadsPerScrape` a partition waits for the next scrape.
import { afterAll, beforeAll, expect, test } from "bun:test";
import { removeDir, startGateway, tempDir, type GatewayProcess } from "../helpers/gateway.ts";
import { liveGateway, postJson } from "../helpers/in-process-gateway.ts";
import { waitFor } from "../edge/edge-fixtures.ts";
import { valueOf } from "./metrics-exposition.ts";

const STREAM = "scenario/lag";
const PATH = encodeURIComponent(STREAM);
const N = 25;
const M = 9;
const GROUP = "trainers";

let gateway: GatewayProcess;
let dataDir: string;

beforeAll(async () => {
  dataDir = tempDir("strata-metrics-lag-");
  gateway = await startGateway({ dataDir, timeoutMs: 60_000 });
}, 90_000);

afterAll(async () => {
  await gateway?.stop();
  removeDir(dataDir);
});

async function call<T>(path: string, method = "GET", body?: unknown): Promise<T> {
  const response = await fetch(`${gateway.url}${path}`, { method, ...(body === undefined ? {} : { headers: { "content-type": "application/json" }, body: JSON.stringify(body) }) });
  const text = await response.text();
  if (!response.ok) throw new Error(`${method} ${path}: ${response.status} ${text}`);
  return JSON.parse(text) as T;
}

async function scrape(): Promise<{ text: string; before: number; after: number }> {
  const before = Date.now();
  const response = await fetch(`${gateway.url}/metrics`);
  const text = await response.text();
  const after = Date.now();
  expect(response.status).toBe(200);
  return { text, before, after };
}

interface ReadRecord {
  readonly offset: number;
  readonly timestamp: number;
}

const lagLabels = { group: GROUP, stream: STREAM, partition: "0" };

test("lag in records and seconds, and end-to-end latency, match the scenario", async () => {
  await call("/v1/streams", "POST", { name: STREAM, partitions: 1 });
  // Three publishes, so the records carry more than one timestamp.
  for (const part of [8, 8, N - 16]) {
    await call(`/v1/streams/${PATH}/records`, "POST", { records: Array.from({ length: part }, (_, i) => ({ fields: { i } })) });
  }

  // The group's consumer reads everything (one delivery of N records) and commits M.
  const readStarted = Date.now();
  const read = await call<{ records: ReadRecord[] }>(`/v1/streams/${PATH}/partitions/0/records?offset=0&max_records=${N}`);
  const readEnded = Date.now();
  expect(read.records.map((r) => r.offset)).toEqual(Array.from({ length: N }, (_, i) => i));
  await call(`/v1/groups/${GROUP}/offsets`, "POST", { stream: STREAM, partition: 0, offset: M });

  const { text, before, after } = await scrape();
  expect(valueOf(text, "strata_group_lag_records", lagLabels)).toBe(N - M);
  // Lag in seconds is the age of the first uncommitted record (offset M) when the gateway scraped.
  const firstUncommitted = read.records[M]!.timestamp;
  const lagSeconds = valueOf(text, "strata_group_lag_seconds", lagLabels)!;
  expect(lagSeconds).toBeGreaterThanOrEqual((before - firstUncommitted) / 1000);
  expect(lagSeconds).toBeLessThanOrEqual((after - firstUncommitted) / 1000);
  expect(valueOf(text, "strata_partition_end_offset", { stream: STREAM, partition: "0" })).toBe(N);

  // End to end: the N records delivered, each observed at a moment within the read.
  expect(valueOf(text, "strata_end_to_end_latency_seconds_count", { stream: STREAM })).toBe(N);
  const sum = valueOf(text, "strata_end_to_end_latency_seconds_sum", { stream: STREAM })!;
  const ages = (at: number) => read.records.reduce((total, r) => total + Math.max(0, at - r.timestamp), 0) / 1000;
  const epsilon = 1e-9 * N;
  expect(sum).toBeGreaterThanOrEqual(ages(readStarted) - epsilon);
  expect(sum).toBeLessThanOrEqual(ages(readEnded) + epsilon);
  // Every observation is in the +Inf bucket; none below 0 s.
  expect(valueOf(text, "strata_end_to_end_latency_seconds_bucket", { stream: STREAM, le: "+Inf" })).toBe(N);

  // The group catches up: no lag in records or in seconds.
  await call(`/v1/groups/${GROUP}/offsets`, "POST", { stream: STREAM, partition: 0, offset: N });
  const caughtUp = (await scrape()).text;
  expect(valueOf(caughtUp, "strata_group_lag_records", lagLabels)).toBe(0);
  expect(valueOf(caughtUp, "strata_group_lag_seconds", lagLabels)).toBe(0);
  // Scrapes deliver nothing: the histogram still counts the one read.
  expect(valueOf(caughtUp, "strata_end_to_end_latency_seconds_count", { stream: STREAM })).toBe(N);
}, 60_000);

test("a long-poll is in flight while it waits, and not once a publish answered it", async () => {
  const longPollsNow = async () => valueOf((await scrape()).text, "strata_long_polls_in_flight", { transport: "http" });
  expect(await longPollsNow()).toBe(0);
  const poll = call<{ records: ReadRecord[] }>(`/v1/streams/${PATH}/partitions/0/records?offset=${N}&wait_ms=30000`);
  await waitFor(async () => (await longPollsNow()) === 1, 20_000, "the long-poll to be counted");
  await call(`/v1/streams/${PATH}/records`, "POST", { records: [{ fields: { late: true } }] });
  expect((await poll).records.map((r) => r.offset)).toEqual([N]);
  expect(await longPollsNow()).toBe(0);
}, 60_000);

test("a scrape dates at most maxLagReadsPerScrape partitions; an unmoved offset keeps its date", async () => {
  const live = await liveGateway({ metrics: { maxLagReadsPerScrape: 1 } });
  try {
    const post = (path: string, body: unknown) => postJson(`${live.url}${path}`, body);
    expect((await post("/v1/streams", { name: "bounded", partitions: 2 })).status).toBe(201);
    expect((await post("/v1/streams/bounded/records", { records: [{ fields: { p: 0 }, partition: 0 }, { fields: { p: 1 }, partition: 1 }] })).status).toBe(200);
    for (const partition of [0, 1]) expect((await post("/v1/groups/slow/offsets", { stream: "bounded", partition, offset: 0 })).status).toBe(200);
    const labels = (partition: number) => ({ group: "slow", stream: "bounded", partition: String(partition) });
    const dated = (text: string) => [0, 1].filter((p) => valueOf(text, "strata_group_lag_seconds", labels(p)) !== undefined);
    const first = await (await fetch(`${live.url}/metrics`)).text();
    expect([0, 1].map((p) => valueOf(first, "strata_group_lag_records", labels(p)))).toEqual([1, 1]);
    expect(dated(first)).toHaveLength(1);
    // The next scrape reads the other partition's record and reuses the first one's date.
    const second = await (await fetch(`${live.url}/metrics`)).text();
    expect(dated(second)).toEqual([0, 1]);
  } finally {
    await live.close();
  }
}, 60_000);
