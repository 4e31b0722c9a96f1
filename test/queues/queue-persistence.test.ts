// Queue state across a gateway restart (in process, same data directory), the idempotence of a
// dead letter's publish (what makes a crash between intent and settle safe), MessagePack claims,
// and the record state machine's asserted transitions.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { Decoder } from "@msgpack/msgpack";
import { StrataError } from "../../core/errors.ts";
import { extensionCodec } from "../../core/log/extensions.ts";
import { backoffDelay } from "../../gateway/queues/backoff.ts";
import { DeadLetters } from "../../gateway/queues/dead-letters.ts";
import * as transitions from "../../gateway/queues/queued-record.ts";
import { parseReceipt } from "../../gateway/queues/receipt.ts";
import { removeDir, tempDir } from "../helpers/gateway.ts";
import { liveGateway, type LiveGateway } from "../helpers/in-process-gateway.ts";
import { ack, call, claim, createStream, publish, until } from "./queue-http.ts";

let dir: string;
let gw: LiveGateway;

beforeAll(async () => {
  dir = tempDir("strata-queue-persist-");
  gw = await liveGateway({ dataDir: dir });
});
afterAll(async () => {
  await gw.close();
  removeDir(dir);
});

describe("queue persistence", () => {
  test("after a restart an acked record is never delivered again and an in-flight one is redelivered after its deadline", async () => {
    await createStream(gw.url, "p/tasks", 1);
    await call(`${gw.url}/v1/queues/pq`, "PUT", { backoff: { initial_ms: 0, max_ms: 0, multiplier: 1, jitter: "none" }, max_deliveries: 7 });
    await publish(gw.url, "p/tasks", [{ fields: { n: 0 } }, { fields: { n: 1 } }, { fields: { n: 2 } }]);
    const [a, b] = await claim(gw.url, "pq", { streams: ["p/tasks"], max_records: 2, visibility_ms: 400 });
    expect(await ack(gw.url, "pq", [a!.receipt])).toEqual({ acked: 1, stale: [] });
    await gw.close();
    gw = await liveGateway({ dataDir: dir });
    const described = await call<{ config: { max_deliveries: number }; totals: Record<string, number> }>(`${gw.url}/v1/queues/pq`, "GET");
    expect(described.body.config.max_deliveries).toBe(7);
    expect(described.body.totals.acked).toBe(1);
    // The never-delivered record once, the expired one again (which comes first depends on how
    // long the restart took: a due redelivery is claimed before new records).
    const seen: { n: unknown; deliveries: number }[] = [];
    await until("the in-flight record's redelivery", async () => {
      for (const r of await claim(gw.url, "pq", { streams: ["p/tasks"], visibility_ms: 60_000, wait_ms: 1000 })) {
        seen.push({ n: r.fields.n, deliveries: r.deliveries });
        await ack(gw.url, "pq", [r.receipt]);
      }
      return seen.some((s) => s.n === b!.fields.n) ? true : undefined;
    });
    expect(seen.sort((x, y) => Number(x.n) - Number(y.n))).toEqual([
      { n: 1, deliveries: 2 },
      { n: 2, deliveries: 1 },
    ]);
    expect(await claim(gw.url, "pq", { streams: ["p/tasks"] })).toEqual([]);
  });

  test("publishing the same dead letter twice (a crash before it was settled) writes it once", async () => {
    await createStream(gw.url, "p/dl", 2);
    await publish(gw.url, "p/dl", [{ fields: { n: 9 }, partition: 1 }]);
    const { streams, log } = gw.gateway.services;
    const letters = new DeadLetters(streams, log);
    const record: transitions.QueuedRecord = { stream: "p/dl", partition: 1, offset: 0, deliveries: 5, lastError: "oom", state: { kind: "dead_lettering", dlqSeq: 0 } };
    await letters.publish("g", record, 0);
    await letters.publish("g", record, 0);
    const page = await call<{ records: { fields: Record<string, unknown>; headers: Record<string, string> }[] }>(`${gw.url}/v1/streams/p%2Fdl.dlq/partitions/1/records`, "GET");
    expect(page.body.records.length).toBe(1);
    expect(page.body.records[0]!.headers["strata-dlq-error"]).toBe("oom");
  });

  test("a claim answers MessagePack when asked", async () => {
    await createStream(gw.url, "p/mp", 1);
    await publish(gw.url, "p/mp", [{ fields: { n: 1 } }]);
    const response = await fetch(`${gw.url}/v1/queues/mp/claim`, { method: "POST", headers: { "content-type": "application/json", accept: "application/msgpack" }, body: JSON.stringify({ streams: ["p/mp"] }) });
    expect(response.headers.get("content-type")).toBe("application/msgpack");
    const body = new Decoder({ extensionCodec }).decode(new Uint8Array(await response.arrayBuffer())) as { records: { receipt: string; fields: Record<string, unknown>; deliveries: number; offset: number }[] };
    expect(body.records.map((r) => [r.fields.n, r.deliveries, r.offset])).toEqual([[1, 1, 0]]);
    expect(parseReceipt(body.records[0]!.receipt)).toEqual({ stream: "p/mp", partition: 0, offset: 0, delivery: 1 });
  });
});

describe("queued record transitions", () => {
  test("each transition asserts its source state", () => {
    const r = transitions.firstDelivery("s", 0, 0, "r1", 100);
    expect(() => transitions.redeliver(r, "r2", 200, 50)).toThrow(StrataError);
    transitions.retryLater(r, 150, "e");
    expect(() => transitions.redeliver(r, "r2", 300, 100)).toThrow(StrataError); // not due yet
    transitions.redeliver(r, "r2", 300, 150);
    expect(r.deliveries).toBe(2);
    transitions.startDeadLetter(r, 0, "final");
    expect(() => transitions.ack(r)).toThrow(StrataError);
    transitions.finishDeadLetter(r);
    expect(r).toMatchObject({ lastError: "final", state: { kind: "dead_lettered" } });
  });

  test("backoff grows exponentially to its cap, with full and equal jitter inside it", () => {
    const base = { initial_ms: 100, max_ms: 1000, multiplier: 2 };
    expect([1, 2, 3, 4, 5].map((d) => backoffDelay({ ...base, jitter: "none" }, d))).toEqual([100, 200, 400, 800, 1000]);
    expect(backoffDelay({ ...base, jitter: "full" }, 3, () => 0.5)).toBe(200);
    expect(backoffDelay({ ...base, jitter: "equal" }, 3, () => 0)).toBe(200);
    expect(backoffDelay({ ...base, jitter: "equal" }, 3, () => 1)).toBe(400);
  });
});
