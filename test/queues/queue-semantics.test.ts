// Queue semantics against a real gateway (in process, real HTTP): claims, acks, visibility expiry,
// nacks with delay, stale receipts, strict priority, dead letters, configuration and bad input.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { liveGateway, type LiveGateway } from "../helpers/in-process-gateway.ts";
import { ack, call, claim, createStream, nack, publish, until } from "./queue-http.ts";

let gw: LiveGateway;

beforeAll(async () => {
  gw = await liveGateway();
});
afterAll(async () => {
  await gw.close();
});

describe("work queues", () => {
  test("a claimed record is claimed once; an ack settles it; a second ack of its receipt is stale", async () => {
    await createStream(gw.url, "q1/tasks", 2);
    await publish(gw.url, "q1/tasks", [{ fields: { n: 1 }, partition: 0 }, { fields: { n: 2 }, partition: 1 }, { fields: { n: 3 }, partition: 0 }]);
    const first = await claim(gw.url, "g1", { streams: ["q1/tasks"], max_records: 2, visibility_ms: 60_000 });
    const second = await claim(gw.url, "g1", { streams: ["q1/tasks"], max_records: 10, visibility_ms: 60_000 });
    const all = [...first, ...second];
    expect(first.length).toBe(2);
    expect(all.map((r) => r.fields.n).sort()).toEqual([1, 2, 3]);
    expect(all.every((r) => r.deliveries === 1)).toBe(true);
    expect(await claim(gw.url, "g1", { streams: ["q1/tasks"] })).toEqual([]);
    expect(await ack(gw.url, "g1", all.map((r) => r.receipt))).toEqual({ acked: 3, stale: [] });
    expect(await ack(gw.url, "g1", [all[0]!.receipt])).toEqual({ acked: 0, stale: [all[0]!.receipt] });
    const described = await call<{ totals: Record<string, number> }>(`${gw.url}/v1/queues/g1`, "GET");
    expect(described.body.totals).toEqual({ in_flight: 0, pending: 0, redelivered: 0, dead_lettered: 0, acked: 3 });
    const listed = await call<{ queues: { group: string; streams: string[] }[] }>(`${gw.url}/v1/queues`, "GET");
    expect(listed.body.queues).toContainEqual({ group: "g1", streams: ["q1/tasks"] });
  });

  test("a claim past its visibility is redelivered with deliveries + 1, and the old receipt is stale", async () => {
    await createStream(gw.url, "q2/tasks", 1);
    await call(`${gw.url}/v1/queues/g2`, "PUT", { backoff: { initial_ms: 0, max_ms: 0, multiplier: 1, jitter: "none" } });
    await publish(gw.url, "q2/tasks", [{ fields: { n: 1 } }]);
    const [first] = await claim(gw.url, "g2", { streams: ["q2/tasks"], visibility_ms: 200 });
    expect(first!.deliveries).toBe(1);
    const [again] = await until("the redelivery", async () => {
      const got = await claim(gw.url, "g2", { streams: ["q2/tasks"], visibility_ms: 60_000 });
      return got.length > 0 ? got : undefined;
    });
    expect(again!.offset).toBe(first!.offset);
    expect(again!.deliveries).toBe(2);
    expect(await ack(gw.url, "g2", [first!.receipt])).toEqual({ acked: 0, stale: [first!.receipt] });
    expect(await ack(gw.url, "g2", [again!.receipt])).toEqual({ acked: 1, stale: [] });
    const described = await call<{ totals: Record<string, number> }>(`${gw.url}/v1/queues/g2`, "GET");
    expect(described.body.totals.redelivered).toBe(1);
  });

  test("a nack with delay_ms hides the record until the delay has passed", async () => {
    await createStream(gw.url, "q3/tasks", 1);
    await publish(gw.url, "q3/tasks", [{ fields: { n: 1 } }]);
    const [first] = await claim(gw.url, "g3", { streams: ["q3/tasks"], visibility_ms: 60_000 });
    const nackedAt = Date.now();
    expect(await nack(gw.url, "g3", { receipts: [first!.receipt], delay_ms: 300, error: "busy" })).toEqual({ nacked: 1, dead_lettered: 0, stale: [] });
    // A long-poll claim wakes when the delay is over.
    const [again] = await claim(gw.url, "g3", { streams: ["q3/tasks"], visibility_ms: 60_000, wait_ms: 10_000 });
    expect(Date.now() - nackedAt).toBeGreaterThanOrEqual(300);
    expect(again!.deliveries).toBe(2);
    await ack(gw.url, "g3", [again!.receipt]);
  });

  test("streams listed first have strict priority", async () => {
    await createStream(gw.url, "q4/high", 2);
    await createStream(gw.url, "q4/low", 2);
    await publish(gw.url, "q4/low", Array.from({ length: 5 }, (_, n) => ({ fields: { n } })));
    await publish(gw.url, "q4/high", Array.from({ length: 3 }, (_, n) => ({ fields: { n } })));
    const got = await claim(gw.url, "g4", { streams: ["q4/high", "q4/low"], max_records: 4 });
    expect(got.map((r) => r.stream)).toEqual(["q4/high", "q4/high", "q4/high", "q4/low"]);
  });

  test("a long-polling claim returns a record published while it waits", async () => {
    await createStream(gw.url, "q5/tasks", 1);
    const waiting = claim(gw.url, "g5", { streams: ["q5/tasks"], wait_ms: 10_000 });
    await publish(gw.url, "q5/tasks", [{ fields: { late: true } }]);
    const got = await waiting;
    expect(got.map((r) => r.fields.late)).toEqual([true]);
  });

  test("after max_deliveries failures the record is in <stream>.dlq with its error, and settled", async () => {
    await createStream(gw.url, "q6/tasks", 2);
    const put = await call(`${gw.url}/v1/queues/g6`, "PUT", { max_deliveries: 3, backoff: { initial_ms: 0, max_ms: 0, multiplier: 1, jitter: "none" } });
    expect(put.status).toBe(200);
    await publish(gw.url, "q6/tasks", [{ fields: { poison: true }, partition: 1 }]);
    for (let i = 1; i <= 3; i++) {
      const [r] = await claim(gw.url, "g6", { streams: ["q6/tasks"], wait_ms: 5000 });
      expect(r!.deliveries).toBe(i);
      const answer = await nack(gw.url, "g6", { receipts: [r!.receipt], error: `attempt ${i} failed` });
      expect(answer.dead_lettered).toBe(i === 3 ? 1 : 0);
    }
    expect(await claim(gw.url, "g6", { streams: ["q6/tasks"] })).toEqual([]);
    const dlq = await call<{ records: { headers: Record<string, string>; fields: Record<string, unknown> }[] }>(`${gw.url}/v1/streams/q6%2Ftasks.dlq/partitions/1/records`, "GET");
    expect(dlq.status).toBe(200);
    expect(dlq.body.records.length).toBe(1);
    expect(dlq.body.records[0]!.fields).toEqual({ poison: true });
    expect(dlq.body.records[0]!.headers).toMatchObject({
      "strata-dlq-group": "g6",
      "strata-dlq-stream": "q6/tasks",
      "strata-dlq-partition": "1",
      "strata-dlq-offset": "0",
      "strata-dlq-deliveries": "3",
      "strata-dlq-error": "attempt 3 failed",
    });
    const described = await call<{ totals: Record<string, number> }>(`${gw.url}/v1/queues/g6`, "GET");
    expect(described.body.totals).toMatchObject({ dead_lettered: 1, in_flight: 0, pending: 0 });
    const metrics = await (await fetch(`${gw.url}/metrics`)).text();
    expect(metrics).toMatch(/^strata_queue_dead_lettered_total\{[^}]*group="g6"[^}]*\} 1$/m);
    expect(metrics).toMatch(/^strata_queue_nacked_total\{[^}]*group="g6"[^}]*\} 3$/m);
  });

  test("bad input is a 4xx", async () => {
    await createStream(gw.url, "q7/tasks", 1);
    const cases: [string, string, unknown, number][] = [
      ["/v1/queues/g7/claim", "POST", { streams: [] }, 400],
      ["/v1/queues/g7/claim", "POST", { streams: ["q7/tasks"], max_records: 0 }, 400],
      ["/v1/queues/g7/claim", "POST", { streams: ["q7/tasks"], visibility_ms: 10 ** 12 }, 400],
      ["/v1/queues/g7/claim", "POST", { streams: ["no/such"] }, 404],
      ["/v1/queues/g7/claim", "POST", { streams: ["q7/tasks"], filter: "fields.x >" }, 400],
      ["/v1/queues/bad%20name/claim", "POST", { streams: ["q7/tasks"] }, 400],
      ["/v1/queues/g7/ack", "POST", { receipts: [] }, 400],
      ["/v1/queues/g7/nack", "POST", { receipts: ["x"], delay_ms: -1 }, 400],
      ["/v1/queues/g7", "PUT", { max_deliveries: 0 }, 400],
      ["/v1/queues/never-used", "GET", undefined, 404],
    ];
    for (const [path, method, body, status] of cases) {
      const r = await call<{ error: { code: string } }>(`${gw.url}${path}`, method, body);
      expect({ path, body, status: r.status }).toEqual({ path, body, status });
    }
    // A receipt that names nothing is stale, not an error.
    await claim(gw.url, "g7", { streams: ["q7/tasks"] });
    expect(await ack(gw.url, "g7", ["0.0.1.ab.q7/tasks", "garbage"])).toEqual({ acked: 0, stale: ["0.0.1.ab.q7/tasks", "garbage"] });
  });

  test("a filter settles the records it rejects as filtered and claims the rest", async () => {
    await createStream(gw.url, "q8/tasks", 1);
    await publish(gw.url, "q8/tasks", Array.from({ length: 6 }, (_, n) => ({ fields: { n } })));
    const got = await claim(gw.url, "g8", { streams: ["q8/tasks"], max_records: 10, filter: "fields.n % 2 == 0" });
    expect(got.map((r) => r.fields.n)).toEqual([0, 2, 4]);
  });
});
