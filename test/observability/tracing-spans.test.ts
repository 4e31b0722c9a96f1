// OpenTelemetry spans over OTLP/HTTP: a gateway process started with --otlp-endpoint pointing at a
// real receiver in this test (an HTTP server taking POST /v1/traces, OTLP JSON as the exporter
// sends it) exports server spans named publish, fetch and ack, children of the request's
// traceparent, with the stream, partition, offsets, record count and status; spans not yet
// exported when the gateway stops are flushed on close. Without an endpoint there is no tracing.
// Head sampling (observability.traceSampleRatio, --trace-sample-ratio): a sampled-out request
// exports nothing and builds no attributes, a sampled parent's child is kept even at ratio 0, a
// ratio outside 0..1 stops start-up naming the key.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { spawnSync } from "node:child_process";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { z } from "zod";
import { resolveObservability } from "../../gateway/observability/observability-config.ts";
import { openTracing } from "../../gateway/observability/tracing.ts";
import { removeDir, ROOT, startGateway, tempDir, type GatewayProcess } from "../helpers/gateway.ts";
import { postJson } from "../helpers/in-process-gateway.ts";

const TRACE = "4bf92f3577b34da6a3ce929d0e0e4736";
const PARENT = "00f067aa0ba902b7";
const TRACEPARENT = `00-${TRACE}-${PARENT}-01`;

const anyValue = z.object({ stringValue: z.string().optional(), intValue: z.union([z.number(), z.string()]).optional() });
const keyValues = z.array(z.object({ key: z.string(), value: anyValue })).optional();
const otlpBody = z.object({
  resourceSpans: z.array(
    z.object({
      resource: z.object({ attributes: keyValues }).optional(),
      scopeSpans: z.array(
        z.object({
          spans: z.array(
            z.object({
              traceId: z.string(),
              spanId: z.string(),
              parentSpanId: z.string().optional(),
              name: z.string(),
              kind: z.number(),
              attributes: keyValues,
              status: z.object({ code: z.number().optional() }).optional(),
            }),
          ),
        }),
      ),
    }),
  ),
});

interface ReceivedSpan {
  readonly service: string | undefined;
  readonly traceId: string;
  readonly spanId: string;
  readonly parentSpanId: string | undefined;
  readonly name: string;
  readonly kind: number;
  readonly attributes: Record<string, string | number>;
  readonly statusCode: number;
}

function flatten(attributes: z.output<typeof keyValues>): Record<string, string | number> {
  const out: Record<string, string | number> = {};
  for (const { key, value } of attributes ?? []) out[key] = value.stringValue ?? Number(value.intValue);
  return out;
}

/** A real OTLP/HTTP traces receiver: every span of every POST /v1/traces, decoded from the exporter's JSON. */
function startReceiver() {
  const spans: ReceivedSpan[] = [];
  const contentTypes = new Set<string>();
  const server = Bun.serve({
    hostname: "127.0.0.1",
    port: 0,
    async fetch(request) {
      const url = new URL(request.url);
      if (request.method !== "POST" || url.pathname !== "/v1/traces") return new Response("not found", { status: 404 });
      contentTypes.add(request.headers.get("content-type") ?? "");
      const body = otlpBody.parse(await request.json());
      for (const resourceSpans of body.resourceSpans) {
        const service = flatten(resourceSpans.resource?.attributes)["service.name"];
        for (const scope of resourceSpans.scopeSpans) {
          for (const s of scope.spans) {
            spans.push({ service: typeof service === "string" ? service : undefined, traceId: s.traceId, spanId: s.spanId, parentSpanId: s.parentSpanId || undefined, name: s.name, kind: s.kind, attributes: flatten(s.attributes), statusCode: s.status?.code ?? 0 });
          }
        }
      }
      return Response.json({});
    },
  });
  return { url: `http://127.0.0.1:${server.port}/v1/traces`, spans, contentTypes, stop: () => server.stop(true) };
}

async function until<T>(what: string, probe: () => T | undefined, timeoutMs = 15_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await Bun.sleep(25);
  }
}

/** A gateway exporting to the receiver, its spans waiting at most `exportDelayMs` before export. */
const configDirs: string[] = [];

function startTracedGateway(exportDelayMs: number, args: readonly string[] = []): Promise<GatewayProcess> {
  const dir = tempDir("strata-otlp-config-");
  configDirs.push(dir);
  const config = join(dir, "config.json");
  writeFileSync(config, JSON.stringify({ observability: { otlpExportDelayMs: exportDelayMs } }));
  return startGateway({ args: ["--otlp-endpoint", receiver.url, "--config", config, ...args] });
}

let receiver: ReturnType<typeof startReceiver>;
let gateway: GatewayProcess;

beforeAll(async () => {
  receiver = startReceiver();
  gateway = await startTracedGateway(100);
  expect((await postJson(`${gateway.url}/v1/streams`, { name: "traced/s1" })).status).toBe(201);
});

afterAll(async () => {
  await gateway?.stop();
  if (gateway) removeDir(gateway.dataDir);
  receiver?.stop();
  for (const dir of configDirs) removeDir(dir);
});

function spanWhere(predicate: (s: ReceivedSpan) => boolean): () => ReceivedSpan | undefined {
  return () => receiver.spans.find(predicate);
}

describe("spans exported over OTLP/HTTP", () => {
  test("publish: a server span, child of the request's traceparent, with stream, partition, offsets and count", async () => {
    const response = await fetch(`${gateway.url}/v1/streams/traced%2Fs1/records`, { method: "POST", headers: { "content-type": "application/json", traceparent: TRACEPARENT }, body: JSON.stringify({ records: [{ fields: { n: 1 } }, { fields: { n: 2 } }] }) });
    expect(response.status).toBe(200);
    const span = await until("the publish span", spanWhere((s) => s.name === "publish" && s.traceId === TRACE));
    expect(span.parentSpanId).toBe(PARENT);
    expect(span.kind).toBe(2); // SPAN_KIND_SERVER
    expect(span.service).toBe("strata-gateway");
    expect(span.attributes).toMatchObject({
      "messaging.system": "strata",
      "messaging.destination.name": "traced/s1",
      "messaging.destination.partition.id": "0",
      "messaging.batch.message_count": 2,
      "strata.offset.first": 0,
      "strata.offset.last": 1,
      "http.response.status_code": 200,
    });
    expect(span.statusCode).not.toBe(2);
    expect([...receiver.contentTypes]).toEqual(["application/json"]);
  });

  test("fetch: the read's partition, offsets and record count; a failed read carries its status and code", async () => {
    const traceparent = `00-${"a".repeat(32)}-${PARENT}-01`;
    expect((await fetch(`${gateway.url}/v1/streams/traced%2Fs1/partitions/0/records?offset=1`, { headers: { traceparent } })).status).toBe(200);
    const span = await until("the fetch span", spanWhere((s) => s.name === "fetch" && s.traceId === "a".repeat(32)));
    expect(span.parentSpanId).toBe(PARENT);
    expect(span.attributes).toMatchObject({ "messaging.destination.name": "traced/s1", "messaging.destination.partition.id": "0", "messaging.batch.message_count": 1, "strata.offset.first": 1, "strata.offset.next": 2, "http.response.status_code": 200 });

    expect((await fetch(`${gateway.url}/v1/streams/traced%2Fmissing/partitions/0/records`)).status).toBe(404);
    const failed = await until("the failed fetch span", spanWhere((s) => s.name === "fetch" && s.attributes["messaging.destination.name"] === "traced/missing"));
    expect(failed.parentSpanId).toBeUndefined();
    expect(failed.attributes).toMatchObject({ "http.response.status_code": 404, "strata.error.code": "STREAM_NOT_FOUND" });
    expect(failed.statusCode).toBe(2); // STATUS_CODE_ERROR
  });

  test("ack: a queue ack and a group's offset commit", async () => {
    const claim = await postJson(`${gateway.url}/v1/queues/traced-q/claim`, { streams: ["traced/s1"], max_records: 2, wait_ms: 2000 });
    expect(claim.status).toBe(200);
    const receipts = (claim.body as { records: { receipt: string }[] }).records.map((r) => r.receipt);
    expect(receipts).toHaveLength(2);
    const ack = await fetch(`${gateway.url}/v1/queues/traced-q/ack`, { method: "POST", headers: { "content-type": "application/json", traceparent: `00-${"b".repeat(32)}-${PARENT}-01` }, body: JSON.stringify({ receipts }) });
    expect(ack.status).toBe(200);
    const acked = await until("the queue ack span", spanWhere((s) => s.name === "ack" && s.traceId === "b".repeat(32)));
    expect(acked.attributes).toMatchObject({ "messaging.consumer.group.name": "traced-q", "messaging.batch.message_count": 2, "http.route": "/v1/queues/{group}/ack", "http.response.status_code": 200 });

    expect((await postJson(`${gateway.url}/v1/groups/traced-g/offsets`, { stream: "traced/s1", partition: 0, offset: 2 })).status).toBe(200);
    const committed = await until("the offset commit span", spanWhere((s) => s.name === "ack" && s.attributes["messaging.consumer.group.name"] === "traced-g"));
    expect(committed.attributes).toMatchObject({ "messaging.destination.name": "traced/s1", "messaging.destination.partition.id": "0", "strata.offset.committed": 2, "http.route": "/v1/groups/{group}/offsets" });
  });

  test("other routes get no span", async () => {
    expect((await fetch(`${gateway.url}/v1/streams/traced%2Fs1`)).status).toBe(200);
    await until("the exporter to run", spanWhere((s) => s.name === "ack"));
    expect(receiver.spans.every((s) => ["publish", "fetch", "ack"].includes(s.name))).toBe(true);
  });
});

test("the spans of the last requests are exported when the gateway stops", async () => {
  // A minute's delay: only the flush on close can export the span before the process exits.
  const own = await startTracedGateway(60_000);
  try {
    expect((await postJson(`${own.url}/v1/streams`, { name: "traced/last" })).status).toBe(201);
    const response = await fetch(`${own.url}/v1/streams/traced%2Flast/records`, { method: "POST", headers: { "content-type": "application/json", traceparent: `00-${"c".repeat(32)}-${PARENT}-01` }, body: JSON.stringify({ records: [{ fields: { n: 1 } }] }) });
    expect(response.status).toBe(200);
  } finally {
    await own.stop();
    removeDir(own.dataDir);
  }
  expect(receiver.spans.some((s) => s.traceId === "c".repeat(32) && s.name === "publish")).toBe(true);
});

test("without an OTLP endpoint there is no tracing at all", async () => {
  expect(await openTracing(resolveObservability(undefined))).toBeUndefined();
  const tracing = await openTracing(resolveObservability({ otlpEndpoint: "http://127.0.0.1:4318/v1/traces" }));
  expect(tracing).toBeDefined();
  await tracing?.shutdown();
});

describe("head sampling", () => {
  test("at ratio 0 a root request and an unsampled parent's child export nothing; a sampled parent's child is exported", async () => {
    const own = await startTracedGateway(100, ["--trace-sample-ratio", "0"]);
    try {
      expect((await postJson(`${own.url}/v1/streams`, { name: "traced/sampling" })).status).toBe(201);
      const publish = (headers: Record<string, string>) =>
        fetch(`${own.url}/v1/streams/traced%2Fsampling/records`, { method: "POST", headers: { "content-type": "application/json", ...headers }, body: JSON.stringify({ records: [{ fields: { n: 1 } }] }) });
      expect((await publish({})).status).toBe(200); // a root: sampled out by the ratio
      expect((await publish({ traceparent: `00-${"d".repeat(32)}-${PARENT}-00` })).status).toBe(200); // an unsampled parent
      expect((await publish({ traceparent: `00-${"e".repeat(32)}-${PARENT}-01` })).status).toBe(200); // a sampled parent
      const kept = await until("the sampled parent's child", spanWhere((s) => s.traceId === "e".repeat(32)));
      expect(kept.parentSpanId).toBe(PARENT);
      expect(kept.attributes).toMatchObject({ "messaging.destination.name": "traced/sampling", "http.response.status_code": 200 });
      // Spans are exported in the order they end: the two before it would have come first.
      expect(receiver.spans.filter((s) => s.attributes["messaging.destination.name"] === "traced/sampling")).toEqual([kept]);
    } finally {
      await own.stop();
      removeDir(own.dataDir);
    }
  });

  test("a sampled-out request builds no attributes and gets no span", async () => {
    const tracing = await openTracing(resolveObservability({ otlpEndpoint: receiver.url, traceSampleRatio: 0 }));
    let built = 0;
    const attributes = () => (built++, { "messaging.system": "strata" });
    expect(tracing?.start("publish", undefined, attributes)).toBeUndefined();
    expect(tracing?.start("publish", `00-${"f".repeat(32)}-${PARENT}-00`, attributes)).toBeUndefined();
    expect(built).toBe(0);
    const sampled = tracing?.start("publish", `00-${"f".repeat(32)}-${PARENT}-01`, attributes);
    expect(sampled).toBeDefined();
    expect(built).toBe(1);
    sampled?.end(200);
    await tracing?.shutdown();
  });

  test("a ratio outside 0..1 stops start-up naming observability.traceSampleRatio", () => {
    const parent = tempDir("strata-serve-ratio-");
    try {
      const result = spawnSync(process.execPath, [join(ROOT, "cli/main.ts"), "serve", "--data", join(parent, "data"), "--port", "0", "--otlp-endpoint", receiver.url, "--trace-sample-ratio", "2"], { cwd: ROOT, encoding: "utf8", timeout: 60_000 });
      expect(result.status).toBe(1);
      expect(result.stderr).toContain("observability.traceSampleRatio");
    } finally {
      removeDir(parent);
    }
  });
});
