// Anomaly flags against a real `strata serve` process (docs/anomalies.md): a burst of records ten
// times the usual size is flagged (metric and a record in `_strata/anomalies` with its reason),
// the steady records before it are not; a queue task held far longer than the quick ones is
// flagged as queue_processing, a group's slow commit as group_processing; flags past
// anomalies.maxFlagsPerSecond are only counted; GET /v1/anomalies refuses a bad `after` or
// `limit` with 400 BAD_REQUEST; outside writes to `_strata/anomalies` are refused, and the
// stream reads through the normal read route.
import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { z } from "zod";
import { buildClientBatch, CLIENT_BATCH_MEDIA_TYPE } from "../../core/log/client-batch.ts";
import { type GatewayProcess, removeDir, startGateway, tempDir } from "../helpers/gateway.ts";
import { until } from "../queues/queue-http.ts";
import { consumeGroup } from "../../gateway/client.ts";

setDefaultTimeout(90_000);

const MIN_SAMPLES = 20;
const MAX_FLAGS_PER_SECOND = 3;
/** Processing times at or below this are never flagged: well above a quick ack on a loaded machine. */
const MIN_PROCESSING_MS = 300;
/** How long the slow task and the slow commit are held. */
const HELD_MS = 1_500;

const entrySchema = z.strictObject({
  offset: z.number(),
  timestamp: z.number(),
  kind: z.enum(["record_size", "publish_rate", "group_processing", "queue_processing"]),
  stream: z.string().optional(),
  group: z.string().optional(),
  partition: z.number().optional(),
  value: z.number(),
  mean: z.number(),
  stddev: z.number(),
  threshold: z.number(),
  reason: z.string(),
});
const pageSchema = z.strictObject({ anomalies: z.array(entrySchema), next: z.number() });
type Entry = z.infer<typeof entrySchema>;

let gw: GatewayProcess;
let dataDir = "";

beforeAll(async () => {
  dataDir = tempDir("strata-anomalies-");
  const config = join(dataDir, "config.json");
  writeFileSync(config, JSON.stringify({ anomalies: { minSamples: MIN_SAMPLES, maxFlagsPerSecond: MAX_FLAGS_PER_SECOND, minProcessingMs: MIN_PROCESSING_MS } }));
  gw = await startGateway({ dataDir: join(dataDir, "gw"), args: ["--config", config] });
});

afterAll(async () => {
  await gw?.stop();
  removeDir(dataDir);
});

async function post(path: string, body: unknown): Promise<Response> {
  return fetch(`${gw.url}${path}`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body) });
}

async function json(response: Response, status = 200): Promise<unknown> {
  const text = await response.text();
  expect({ status: response.status, text }).toMatchObject({ status });
  return JSON.parse(text);
}

async function createStream(name: string): Promise<void> {
  await json(await post("/v1/streams", { name, partitions: 1 }), 201);
}

/** Every flag in `_strata/anomalies`, paging with `after`. */
async function allFlags(): Promise<Entry[]> {
  const out: Entry[] = [];
  for (let after = 0; ; ) {
    const page = pageSchema.parse(await json(await fetch(`${gw.url}/v1/anomalies?after=${after}&limit=2`)));
    out.push(...page.anomalies);
    if (page.anomalies.length === 0) return out;
    expect(page.next).toBeGreaterThan(after);
    after = page.next;
  }
}

/** The value of a counter series whose labels include `labels`, 0 when absent. */
async function counter(name: string, labels: Record<string, string>): Promise<number> {
  const text = await (await fetch(`${gw.url}/metrics`)).text();
  let total = 0;
  for (const line of text.split("\n")) {
    if (!line.startsWith(`${name}{`)) continue;
    if (Object.entries(labels).every(([k, v]) => line.includes(`${k}="${v}"`))) total += Number(line.slice(line.lastIndexOf(" ") + 1));
  }
  return total;
}

/** The slow task or batch itself: the scenario is time passing between two requests (no condition to wait for). */
function holdFor(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** A record of about `bytes` bytes (the field's length varies a little, as real payloads do). */
function payload(bytes: number, i: number): { fields: { blob: string; i: number } } {
  return { fields: { blob: "x".repeat(bytes - 16 + (i % 7) * 4), i } };
}

describe("record size", () => {
  test("before the first flag there is no _strata/anomalies stream and the route answers an empty page", async () => {
    const listed = z.object({ streams: z.array(z.object({ name: z.string() })) }).parse(await json(await fetch(`${gw.url}/v1/streams`)));
    expect(listed.streams.map((s) => s.name)).toEqual([]);
    expect(await json(await fetch(`${gw.url}/v1/anomalies`))).toEqual({ anomalies: [], next: 0 });
  });

  test("a burst of records ten times the usual size is flagged; the steady records before it are not", async () => {
    const stream = "sensors/size";
    await createStream(stream);
    for (let i = 0; i < MIN_SAMPLES + 10; i++) await json(await post(`/v1/streams/${encodeURIComponent(stream)}/records`, { records: [payload(1024, i)] }));
    // Steady ~1 KiB records: nothing flagged for the stream.
    expect(await counter("strata_anomalies_total", { kind: "record_size", stream })).toBe(0);
    const burst = 6;
    const started = Date.now();
    await Promise.all(Array.from({ length: burst }, (_, i) => post(`/v1/streams/${encodeURIComponent(stream)}/records`, { records: [payload(10 * 1024, i)] }).then((r) => json(r))));
    const ended = Date.now();
    // Every large record was flagged and counted, published or not.
    await until("the burst counted", async () => ((await counter("strata_anomalies_total", { kind: "record_size", stream })) === burst ? true : undefined));
    const flags = await until("a record_size flag in _strata/anomalies", async () => {
      const found = (await allFlags()).filter((f) => f.kind === "record_size" && f.stream === stream);
      return found.length > 0 ? found : undefined;
    });
    // Each published flag is also one log line of strata.anomalies.
    await until("the flag's log line", async () => (gw.output().includes(`anomaly record_size: ${flags[0]!.reason}`) ? true : undefined));
    for (const flag of flags) {
      expect(flag.value).toBeGreaterThan(9 * 1024);
      expect(flag.mean).toBeLessThan(1200);
      expect(flag.threshold).toBeGreaterThan(flag.mean);
      expect(flag.threshold).toBeLessThan(flag.value);
      expect(flag.partition).toBe(0);
      expect(flag.reason).toContain("bytes on average");
      expect(flag.reason).toContain("= mean ");
    }
    // The rate limit: what was not published is counted as such, and at most
    // maxFlagsPerSecond were published in each second the burst spanned.
    await until("every flag published or counted", async () => {
      const published = (await allFlags()).filter((f) => f.kind === "record_size" && f.stream === stream).length;
      const limited = await counter("strata_anomalies_unpublished_total", { reason: "rate_limit" });
      return published + limited === burst ? { published, limited } : undefined;
    });
    const published = (await allFlags()).filter((f) => f.kind === "record_size" && f.stream === stream).length;
    const seconds = Math.floor(ended / 1000) - Math.floor(started / 1000) + 1;
    expect(published).toBeLessThanOrEqual(MAX_FLAGS_PER_SECOND * seconds);
    if (seconds === 1) expect(await counter("strata_anomalies_unpublished_total", { reason: "rate_limit" })).toBeGreaterThan(0);
  });
});

describe("processing time", () => {
  test("a queue task held far longer than the quick ones is flagged as queue_processing", async () => {
    const stream = "tasks/q";
    const group = "workers";
    await createStream(stream);
    await json(await post(`/v1/streams/${encodeURIComponent(stream)}/records`, { records: Array.from({ length: MIN_SAMPLES + 6 }, (_, i) => ({ fields: { i } })) }));
    const claimSchema = z.object({ records: z.array(z.object({ receipt: z.string(), offset: z.number() })) });
    const claimOne = async () => claimSchema.parse(await json(await post(`/v1/queues/${group}/claim`, { streams: [stream], max_records: 1 }))).records[0]!;
    for (let i = 0; i < MIN_SAMPLES + 5; i++) {
      const task = await claimOne();
      await json(await post(`/v1/queues/${group}/ack`, { receipts: [task.receipt] }));
    }
    expect(await counter("strata_anomalies_total", { kind: "queue_processing", group })).toBe(0);
    const slow = await claimOne();
    await holdFor(HELD_MS);
    await json(await post(`/v1/queues/${group}/ack`, { receipts: [slow.receipt] }));
    const flag = await until("a queue_processing flag", async () => (await allFlags()).find((f) => f.kind === "queue_processing" && f.group === group));
    expect(flag).toMatchObject({ stream, partition: 0 });
    expect(flag.value).toBeGreaterThanOrEqual(HELD_MS);
    expect(flag.threshold).toBeLessThan(flag.value);
    expect(flag.reason).toContain(`queue ${group}`);
    expect(flag.reason).toContain(`offset ${slow.offset}`);
    expect(await counter("strata_anomalies_total", { kind: "queue_processing", group })).toBe(1);
  });

  test("a group's commit long after its read is flagged as group_processing", async () => {
    const stream = "events/g";
    const group = "readers";
    await createStream(stream);
    const n = MIN_SAMPLES + 6;
    await json(await post(`/v1/streams/${encodeURIComponent(stream)}/records`, { records: Array.from({ length: n }, (_, i) => ({ fields: { i } })) }));
    const read = async (offset: number) => json(await fetch(`${gw.url}/v1/streams/${encodeURIComponent(stream)}/partitions/0/records?offset=${offset}&max_records=1&group=${group}`));
    const commit = async (offset: number) => json(await post(`/v1/groups/${group}/offsets`, { stream, partition: 0, offset }));
    for (let offset = 0; offset < n - 1; offset++) {
      await read(offset);
      await commit(offset + 1);
    }
    expect(await counter("strata_anomalies_total", { kind: "group_processing", group })).toBe(0);
    await read(n - 1);
    await holdFor(HELD_MS);
    await commit(n);
    const flag = await until("a group_processing flag", async () => (await allFlags()).find((f) => f.kind === "group_processing" && f.group === group));
    expect(flag).toMatchObject({ stream, partition: 0 });
    expect(flag.value).toBeGreaterThanOrEqual(HELD_MS);
    expect(flag.reason).toContain(`group ${group}`);
    expect(flag.reason).toContain(`commit of ${n}`);
  });
});

describe("the TypeScript group consumer", () => {
  test("its reads name the group: a batch held long before its commit is flagged as group_processing", async () => {
    const stream = "events/ts";
    const group = "ts-consumers";
    await createStream(stream);
    const n = MIN_SAMPLES + 6;
    await json(await post(`/v1/streams/${encodeURIComponent(stream)}/records`, { records: Array.from({ length: n }, (_, i) => ({ fields: { i } })) }));
    const consumer = consumeGroup({ gateway: gw.url, group, streams: [stream], pageRecords: 1, waitMs: 200 });
    let seen = 0;
    for await (const batch of consumer) {
      seen += batch.records.length;
      // The batch before the last is the slow one: it is committed when the next is asked for.
      if (seen === n - 1) await holdFor(HELD_MS);
      if (seen === n) break;
    }
    await consumer.close();
    const flag = await until("a group_processing flag of the consumer", async () => (await allFlags()).find((f) => f.kind === "group_processing" && f.group === group && f.value >= HELD_MS));
    expect(flag).toMatchObject({ stream, partition: 0 });
    expect(flag.reason).toContain(`commit of ${n - 1}`);
  });
});

describe("GET /v1/anomalies and the stream", () => {
  test("a bad after or limit is 400 BAD_REQUEST", async () => {
    const end = pageSchema.parse(await json(await fetch(`${gw.url}/v1/anomalies?limit=1`))).next;
    for (const query of ["after=-1", "after=x", "after=1.5", `after=${end + 1}`, "limit=0", "limit=1001", "limit=ten", "after=99999999999999999"]) {
      const body = z.object({ error: z.object({ code: z.string() }) }).parse(await json(await fetch(`${gw.url}/v1/anomalies?${query}`), 400));
      expect({ query, code: body.error.code }).toEqual({ query, code: "BAD_REQUEST" });
    }
  });

  test("without after, the newest flags; the normal read route serves the stream", async () => {
    const all = await allFlags();
    expect(all.length).toBeGreaterThan(1);
    const newest = pageSchema.parse(await json(await fetch(`${gw.url}/v1/anomalies?limit=1`)));
    expect(newest.anomalies).toEqual([all[all.length - 1]!]);
    expect(newest.next).toBe(all[all.length - 1]!.offset + 1);
    const read = z
      .object({ records: z.array(z.object({ offset: z.number(), fields: z.record(z.string(), z.unknown()) })) })
      .parse(await json(await fetch(`${gw.url}/v1/streams/_strata%2Fanomalies/partitions/0/records?offset=0&max_records=1000`)));
    expect(read.records.map((r) => r.fields.kind)).toEqual(all.map((f) => f.kind));
    // One partition, kept for anomalies.streamRetentionMs (a week by default).
    const described = z.object({ partitions: z.array(z.unknown()), retention: z.object({ ms: z.number() }) }).parse(await json(await fetch(`${gw.url}/v1/streams/_strata%2Fanomalies`)));
    expect({ partitions: described.partitions.length, retentionMs: described.retention.ms }).toEqual({ partitions: 1, retentionMs: 7 * 24 * 3_600_000 });
  });

  test("outside writes to _strata/anomalies are refused and change nothing", async () => {
    const before = pageSchema.parse(await json(await fetch(`${gw.url}/v1/anomalies?limit=1`))).next;
    const code = async (response: Response, status: number) => z.object({ error: z.object({ code: z.string() }) }).parse(await json(response, status)).error.code;
    expect(await code(await post("/v1/streams/_strata%2Fanomalies/records", { records: [{ fields: { kind: "record_size", value: 1, mean: 1, stddev: 0, threshold: 1, reason: "forged" } }] }), 403)).toBe("FORBIDDEN");
    const batch = buildClientBatch([{ key: null, headers: {}, fields: { kind: "forged" } }]);
    expect(await code(await fetch(`${gw.url}/v1/streams/_strata%2Fanomalies/records`, { method: "POST", headers: { "content-type": CLIENT_BATCH_MEDIA_TYPE, "strata-forwarded": "1" }, body: batch.slice() }), 403)).toBe("FORBIDDEN");
    expect(await code(await post("/v1/streams", { name: "_strata/mine", partitions: 1 }), 400)).toBe("INVALID_STREAM_NAME");
    expect(pageSchema.parse(await json(await fetch(`${gw.url}/v1/anomalies?limit=1`))).next).toBe(before);
  });
});
