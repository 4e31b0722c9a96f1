// Tracing headers stored and carried on, against a real gateway: an HTTP traceparent on a JSON or
// MessagePack publish lands in every record lacking one (a bad one is ignored, a client-built
// batch is stored as sent); publishRecords' derivedFrom and derivedHeaders continue a group
// record's and a claimed record's trace; the Python client's derived_from does the same
// (python/tests/test_trace.py).
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { encode } from "@msgpack/msgpack";
import { claim, consumeGroup, derivedHeaders, publishRecords, type GroupRecord } from "../../gateway/client.ts";
import { parseTraceparent } from "../../core/trace/traceparent.ts";
import { removeDir, startGateway, type GatewayProcess } from "../helpers/gateway.ts";
import { postJson } from "../helpers/in-process-gateway.ts";
import { python } from "../helpers/python.ts";
import { expectPythonTests } from "../python/run-unittest.ts";

const TRACE = "4bf92f3577b34da6a3ce929d0e0e4736";
const VALID = `00-${TRACE}-00f067aa0ba902b7-01`;
const OTHER = "00-11111111111111111111111111111111-2222222222222222-00";

// A gateway process: the Python suite runs synchronously and would block an in-process one.
let live: GatewayProcess;

beforeAll(async () => {
  live = await startGateway();
});

afterAll(async () => {
  await live?.stop();
  if (live) removeDir(live.dataDir);
});

async function createStream(name: string): Promise<void> {
  expect((await postJson(`${live.url}/v1/streams`, { name })).status).toBe(201);
}

async function headersOf(stream: string): Promise<Record<string, unknown>[]> {
  const response = await fetch(`${live.url}/v1/streams/${encodeURIComponent(stream)}/partitions/0/records?offset=0`);
  expect(response.status).toBe(200);
  const page = (await response.json()) as { records: { headers: Record<string, unknown> }[] };
  return page.records.map((r) => r.headers);
}

function publish(stream: string, body: Uint8Array<ArrayBuffer> | string, contentType: string, traceparent?: string): Promise<Response> {
  return fetch(`${live.url}/v1/streams/${encodeURIComponent(stream)}/records`, {
    method: "POST",
    headers: { "content-type": contentType, ...(traceparent === undefined ? {} : { traceparent }) },
    body,
  });
}

describe("an HTTP traceparent on a publish", () => {
  test("is stored in each JSON record lacking one; a record's own is kept", async () => {
    await createStream("trace/json");
    const body = JSON.stringify({ records: [{ fields: { n: 1 } }, { headers: { traceparent: OTHER, x: "y" }, fields: { n: 2 } }, { headers: { x: "z" }, fields: { n: 3 } }] });
    expect((await publish("trace/json", body, "application/json", VALID)).status).toBe(200);
    expect(await headersOf("trace/json")).toEqual([{ traceparent: VALID }, { traceparent: OTHER, x: "y" }, { x: "z", traceparent: VALID }]);
  });

  test("is stored in MessagePack records too", async () => {
    await createStream("trace/msgpack");
    expect((await publish("trace/msgpack", new Uint8Array(encode({ records: [{ fields: { n: 1 } }] })), "application/msgpack", VALID)).status).toBe(200);
    expect(await headersOf("trace/msgpack")).toEqual([{ traceparent: VALID }]);
  });

  test("that is invalid changes nothing and does not fail the publish", async () => {
    await createStream("trace/bad");
    const response = await publish("trace/bad", JSON.stringify({ records: [{ fields: { n: 1 } }] }), "application/json", `01-${TRACE}-00f067aa0ba902b7-01`);
    expect(response.status).toBe(200);
    expect(await headersOf("trace/bad")).toEqual([{}]);
  });

  test("leaves a client-built batch as sent (the client writes the headers into its records)", async () => {
    await createStream("trace/batch");
    let sent = "";
    const withTraceparent = (input: RequestInfo | URL, init?: RequestInit): Promise<Response> => {
      const headers = new Headers(init?.headers);
      headers.set("traceparent", VALID);
      sent = headers.get("content-type") ?? "";
      return fetch(input, { ...init, headers });
    };
    await publishRecords({ gateway: live.url, fetch: Object.assign(withTraceparent, { preconnect: fetch.preconnect }) }, "trace/batch", [{ key: null, headers: {}, fields: { n: 1 } }]);
    expect(sent).toBe("application/vnd.strata.batch");
    expect(await headersOf("trace/batch")).toEqual([{}]);
  });
});

describe("carrying a trace on in the TS client", () => {
  test("a group consumer's record: publishRecords({derivedFrom}) continues its trace and names it", async () => {
    await createStream("trace/stage-1");
    await createStream("trace/stage-2");
    expect((await publish("trace/stage-1", JSON.stringify({ records: [{ fields: { n: 1 } }] }), "application/json", VALID)).status).toBe(200);
    const consumer = consumeGroup({ gateway: live.url, group: "trace-carry", streams: ["trace/stage-1"], waitMs: 200 });
    let source: GroupRecord | undefined;
    for await (const batch of consumer) {
      source = batch.records[0];
      if (source !== undefined) break;
    }
    await consumer.close();
    expect(source).toBeDefined();
    // Both forms: the batch path (one partition) and the MessagePack path.
    await publishRecords({ gateway: live.url }, "trace/stage-2", [{ key: null, headers: { own: "kept" }, fields: { n: 2 } }], { derivedFrom: source! });
    await publishRecords({ gateway: live.url }, "trace/stage-2", [{ key: null, headers: {}, fields: { n: 3 } }], { derivedFrom: source!, form: "msgpack" });
    const stored = await headersOf("trace/stage-2");
    expect(stored).toHaveLength(2);
    const spans = new Set<string>();
    for (const headers of stored) {
      expect(headers["strata-source"]).toBe("trace/stage-1/0/0");
      const context = parseTraceparent(headers["traceparent"]);
      expect(context?.traceId).toBe(TRACE);
      spans.add(context!.spanId);
    }
    expect(stored[0]!["own"]).toBe("kept");
    expect(spans.size).toBe(2);
    expect(spans.has("00f067aa0ba902b7")).toBe(false);
  });

  test("a claimed record: derivedHeaders gives a child traceparent and its position", async () => {
    await createStream("trace/tasks");
    expect((await publish("trace/tasks", JSON.stringify({ records: [{ fields: { n: 1 } }, { fields: { n: 2 } }] }), "application/json", VALID)).status).toBe(200);
    const claimed = await claim({ gateway: live.url }, "trace-tasks", { streams: ["trace/tasks"], maxRecords: 2, waitMs: 2000 });
    expect(claimed.map((r) => r.offset)).toEqual([0, 1]);
    const headers = derivedHeaders(claimed[1]!);
    expect(headers["strata-source"]).toBe("trace/tasks/0/1");
    expect(parseTraceparent(headers.traceparent)?.traceId).toBe(TRACE);
  });
});

test("python: tests.test_trace (strata.trace, Client.publish(derived_from=))", () => {
  python();
  expectPythonTests("tests.test_trace", { STRATA_URL: live.url });
}, 300_000);
