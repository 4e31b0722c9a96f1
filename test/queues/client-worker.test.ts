// The TypeScript queue client against a real gateway (in process, real HTTP): claim/ack/nack,
// the work() loop with several workers over two priorities, a task that always fails ending in
// the dead-letter stream with its error, the concurrency bound, stopping on abort, and refusals.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { StrataError } from "../../core/errors.ts";
import { ack, claim, type ClaimedRecord, configureQueue, describeQueue, listQueues, nack, work } from "../../gateway/client.ts";
import { liveGateway, type LiveGateway } from "../helpers/in-process-gateway.ts";
import { call, createStream, publish, until } from "./queue-http.ts";

let gw: LiveGateway;

beforeAll(async () => {
  gw = await liveGateway();
});
afterAll(async () => {
  await gw.close();
});

interface DlqRecord {
  headers: Record<string, string>;
  fields: Record<string, unknown>;
}

/** Every record of `<stream>.dlq`, partition after partition. */
async function deadLetters(stream: string, partitions: number): Promise<DlqRecord[]> {
  const out: DlqRecord[] = [];
  for (let p = 0; p < partitions; p++) {
    const r = await call<{ records: DlqRecord[] }>(`${gw.url}/v1/streams/${encodeURIComponent(`${stream}.dlq`)}/partitions/${p}/records?offset=0`, "GET");
    if (r.status === 200) out.push(...r.body.records);
  }
  return out;
}

describe("queue client functions", () => {
  test("claim, nack with an error, claim again, ack; describe and list show the queue", async () => {
    const connection = { gateway: gw.url };
    await createStream(gw.url, "cw1/tasks", 1);
    await configureQueue(connection, "cw1", { backoff: { initial_ms: 0, max_ms: 0, multiplier: 1, jitter: "none" } });
    await publish(gw.url, "cw1/tasks", [{ fields: { n: 1 } }]);
    const [first] = await claim(connection, "cw1", { streams: ["cw1/tasks"], visibilityMs: 60_000 });
    expect(first).toMatchObject({ stream: "cw1/tasks", partition: 0, offset: 0, deliveries: 1, fields: { n: 1 } });
    expect(await nack(connection, "cw1", [first!.receipt], { error: "not yet" })).toEqual({ nacked: 1, dead_lettered: 0, stale: [] });
    const [again] = await claim(connection, "cw1", { streams: ["cw1/tasks"], visibilityMs: 60_000, waitMs: 10_000 });
    expect(again!.deliveries).toBe(2);
    expect(await ack(connection, "cw1", [again!.receipt, first!.receipt])).toEqual({ acked: 1, stale: [first!.receipt] });
    const info = await describeQueue(connection, "cw1");
    expect(info.totals).toEqual({ in_flight: 0, pending: 0, redelivered: 1, dead_lettered: 0, acked: 1 });
    expect(await listQueues(connection)).toContainEqual({ group: "cw1", streams: ["cw1/tasks"] });
  });

  test("a refusal is a StrataError with the gateway's code", async () => {
    const connection = { gateway: gw.url };
    await createStream(gw.url, "cw2/tasks", 1);
    const refused = await claim(connection, "cw2", { streams: ["cw2/tasks"], filter: "fields.n >" }).catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(StrataError);
    expect((refused as StrataError).code).toBe("BAD_FILTER");
    const missing = await claim(connection, "cw2", { streams: ["cw2/none"] }).catch((e: unknown) => e);
    expect((missing as StrataError).code).toBe("STREAM_NOT_FOUND");
  });
});

describe("work()", () => {
  test("3 workers, 300 tasks over two priorities, one always failing: every other task acked exactly once, high first, the failing one dead-lettered with its error", async () => {
    const connection = { gateway: gw.url };
    await createStream(gw.url, "cw3/high", 2);
    await createStream(gw.url, "cw3/low", 2);
    await configureQueue(connection, "cw3", { max_deliveries: 3, backoff: { initial_ms: 0, max_ms: 0, multiplier: 1, jitter: "none" } });
    await publish(gw.url, "cw3/low", Array.from({ length: 150 }, (_, n) => ({ fields: { n: 1000 + n } })));
    await publish(gw.url, "cw3/high", Array.from({ length: 150 }, (_, n) => ({ fields: { n, fail: n === 7 } })));

    const handled: { stream: string; n: number }[] = [];
    const succeeded = new Map<number, number>();
    const stop = new AbortController();
    const handler = async (record: ClaimedRecord): Promise<void> => {
      const n = Number(record.fields?.n);
      handled.push({ stream: record.stream, n });
      if (record.fields?.fail === true) throw new Error(`task ${n} cannot be done (delivery ${record.deliveries})`);
      succeeded.set(n, (succeeded.get(n) ?? 0) + 1);
    };
    const workers = Array.from({ length: 3 }, () => work({ ...connection, group: "cw3", streams: ["cw3/high", "cw3/low"], handler, concurrency: 2, visibilityMs: 30_000, signal: stop.signal }));
    await until("every task settled", async () => {
      const t = (await describeQueue(connection, "cw3")).totals;
      return t.acked === 299 && t.dead_lettered === 1 && t.in_flight === 0 ? t : undefined;
    });
    stop.abort();
    const summaries = await Promise.all(workers);

    expect(succeeded.size).toBe(299);
    expect([...succeeded.values()].every((count) => count === 1)).toBe(true);
    expect(summaries.reduce((n, s) => n + s.acked, 0)).toBe(299);
    expect(summaries.reduce((n, s) => n + s.nacked, 0)).toBe(3);
    expect(summaries.reduce((n, s) => n + s.unsettled, 0)).toBe(0);
    // Strict priority: no low task starts before every high task has been started once
    // (6 slots may hold high tasks while the first low ones start).
    const firstLow = handled.findIndex((h) => h.stream === "cw3/low");
    const highStarted = new Set(handled.slice(0, firstLow).filter((h) => h.stream === "cw3/high").map((h) => h.n));
    expect(highStarted.size).toBe(150);

    const all = await deadLetters("cw3/high", 2);
    expect(all).toHaveLength(1);
    expect(all[0]!.fields).toEqual({ n: 7, fail: true });
    expect(all[0]!.headers["strata-dlq-error"]).toBe("task 7 cannot be done (delivery 3)");
    expect(all[0]!.headers["strata-dlq-deliveries"]).toBe("3");
    expect(all[0]!.headers["strata-dlq-stream"]).toBe("cw3/high");
  });

  test("concurrency bounds the handlers running at once; abort lets the running ones finish and acks them", async () => {
    const connection = { gateway: gw.url };
    await createStream(gw.url, "cw4/tasks", 1);
    await publish(gw.url, "cw4/tasks", Array.from({ length: 20 }, (_, n) => ({ fields: { n } })));
    const stop = new AbortController();
    let running = 0;
    let most = 0;
    let started = 0;
    const gates: (() => void)[] = [];
    const done = work({
      ...connection,
      group: "cw4",
      streams: ["cw4/tasks"],
      concurrency: 4,
      signal: stop.signal,
      handler: async () => {
        running++;
        started++;
        most = Math.max(most, running);
        await new Promise<void>((resolve) => gates.push(resolve));
        running--;
      },
    });
    await until("4 handlers running", async () => (running === 4 ? true : undefined));
    stop.abort();
    // The loop is stopping: the 4 handlers still run, and finishing them acks their records.
    for (const open of gates.splice(0)) open();
    const summary = await done;
    expect(most).toBe(4);
    expect(started).toBe(4);
    expect(summary).toEqual({ acked: 4, nacked: 0, unsettled: 0 });
    expect((await describeQueue(connection, "cw4")).totals).toMatchObject({ acked: 4, in_flight: 0 });
  });

  test("a claim refused for good (a bad filter) rejects work()", async () => {
    await createStream(gw.url, "cw5/tasks", 1);
    const failed = await work({ gateway: gw.url, group: "cw5", streams: ["cw5/tasks"], filter: "fields.x ==", handler: async () => undefined }).catch((e: unknown) => e);
    expect(failed).toBeInstanceOf(StrataError);
    expect((failed as StrataError).code).toBe("BAD_FILTER");
  });
});
