// `strata queue work|show|list` as processes against a real gateway process: a command that
// succeeds (each record's JSON on its stdin, its stdout passed through, every record acked once),
// one that fails (its stderr's last line in the dead letter's error header after max_deliveries),
// strict priority, SIGTERM draining, and the CLI's usage errors.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { type CliProcess, startCli } from "../helpers/cli-process.ts";
import { type GatewayProcess, removeDir, startGateway } from "../helpers/gateway.ts";
import { call, createStream, publish, until } from "./queue-http.ts";

let gw: GatewayProcess;

beforeAll(async () => {
  gw = await startGateway();
});
afterAll(async () => {
  await gw.stop();
  removeDir(gw.dataDir);
});

function strata(args: string[]): CliProcess {
  return startCli(gw.url, args);
}

interface Totals {
  in_flight: number;
  pending: number;
  redelivered: number;
  dead_lettered: number;
  acked: number;
}

/** The queue's totals; all zero while the queue does not exist yet (no claim has reached the gateway). */
async function totals(group: string): Promise<Totals> {
  const r = await call<{ totals: Totals }>(`${gw.url}/v1/queues/${group}`, "GET");
  return r.status === 200 ? r.body.totals : { in_flight: 0, pending: 0, redelivered: 0, dead_lettered: 0, acked: 0 };
}

describe("strata queue work", () => {
  test("runs the command once per record with the record's JSON line on stdin; its stdout is ours; exit 0 acks; SIGTERM stops with 0", async () => {
    await createStream(gw.url, "cli-q1/tasks", 2);
    await publish(gw.url, "cli-q1/tasks", Array.from({ length: 30 }, (_, n) => ({ fields: { n, text: `task ${n}` } })));
    // The record line read from stdin and the environment naming where the record is, in one
    // write (one line per run even with 3 runs at once).
    const worker = strata(["queue", "work", "cq1", "--streams", "cli-q1/tasks", "--concurrency", "3", "--visibility", "30s", "--", "sh", "-c", 'printf "%s %s\\n" "$(cat)" "$STRATA_STREAM $STRATA_PARTITION $STRATA_OFFSET $STRATA_DELIVERIES"']);
    await until("30 acked", async () => ((await totals("cq1")).acked === 30 ? true : undefined), 60_000);
    worker.child.kill("SIGTERM");
    expect(await worker.exited).toBe(0);

    const lines = worker.stdout().trim().split("\n");
    expect(lines).toHaveLength(30);
    const seen = lines.map((line) => {
      const [json, env] = line.split("} ").map((s, i) => (i === 0 ? `${s}}` : s));
      const record = JSON.parse(json!) as { partition: number; offset: number; timestamp: unknown; key: unknown; headers: unknown; fields: { n: number; text: string } };
      expect(Object.keys(record)).toEqual(["partition", "offset", "timestamp", "key", "headers", "fields"]);
      expect(typeof record.timestamp).toBe("number");
      expect(record.fields.text).toBe(`task ${record.fields.n}`);
      expect(env).toBe(`cli-q1/tasks ${record.partition} ${record.offset} 1`);
      return record.fields.n;
    });
    expect(seen.sort((a, b) => a - b)).toEqual(Array.from({ length: 30 }, (_, n) => n));
    expect(await totals("cq1")).toEqual({ in_flight: 0, pending: 0, redelivered: 0, dead_lettered: 0, acked: 30 });

    const show = strata(["queue", "show", "cq1", "--json"]);
    expect(await show.exited).toBe(0);
    expect(JSON.parse(show.stdout()).totals.acked).toBe(30);
    const human = strata(["queue", "show", "cq1"]);
    expect(await human.exited).toBe(0);
    expect(human.stdout()).toContain("cq1: in_flight 0, pending 0, redelivered 0, dead_lettered 0, acked 30");
    const list = strata(["queue", "list"]);
    expect(await list.exited).toBe(0);
    expect(list.stdout()).toContain("cq1\tcli-q1/tasks\n");
  }, 90_000);

  test("a failing command nacks with its stderr's last line; after max_deliveries the record is in <stream>.dlq with that error", async () => {
    await createStream(gw.url, "cli-q2/tasks", 1);
    await call(`${gw.url}/v1/queues/cq2`, "PUT", { max_deliveries: 3, backoff: { initial_ms: 0, max_ms: 0, multiplier: 1, jitter: "none" } });
    await publish(gw.url, "cli-q2/tasks", [{ fields: { ok: true } }, { fields: { ok: false } }, { fields: { ok: true } }]);
    const script = 'grep -q \'"ok":true\' && exit 0; echo "some progress" >&2; echo "render failed on delivery $STRATA_DELIVERIES" >&2; exit 3';
    const worker = strata(["queue", "work", "cq2", "--streams", "cli-q2/tasks", "--", "sh", "-c", script]);
    await until("2 acked and 1 dead-lettered", async () => {
      const t = await totals("cq2");
      return t.acked === 2 && t.dead_lettered === 1 ? true : undefined;
    }, 60_000);
    worker.child.kill("SIGTERM");
    expect(await worker.exited).toBe(0);
    // The command's stderr passes through to the worker's.
    expect(worker.stderr()).toContain("render failed on delivery 1");
    const dlq = await call<{ records: { headers: Record<string, string>; fields: Record<string, unknown> }[] }>(`${gw.url}/v1/streams/${encodeURIComponent("cli-q2/tasks.dlq")}/partitions/0/records?offset=0`, "GET");
    expect(dlq.body.records).toHaveLength(1);
    expect(dlq.body.records[0]!.fields).toEqual({ ok: false });
    expect(dlq.body.records[0]!.headers).toMatchObject({
      "strata-dlq-error": "render failed on delivery 3",
      "strata-dlq-deliveries": "3",
      "strata-dlq-stream": "cli-q2/tasks",
      "strata-dlq-partition": "0",
      "strata-dlq-offset": "1",
    });
  }, 90_000);

  test("streams listed first have strict priority: every high task runs before any low one", async () => {
    await createStream(gw.url, "cli-q3/high", 1);
    await createStream(gw.url, "cli-q3/low", 1);
    await publish(gw.url, "cli-q3/low", Array.from({ length: 5 }, (_, n) => ({ fields: { n } })));
    await publish(gw.url, "cli-q3/high", Array.from({ length: 5 }, (_, n) => ({ fields: { n } })));
    const worker = strata(["queue", "work", "cq3", "--streams", "cli-q3/high,cli-q3/low", "--", "sh", "-c", 'cat >/dev/null; echo "$STRATA_STREAM"']);
    await until("10 acked", async () => ((await totals("cq3")).acked === 10 ? true : undefined), 60_000);
    worker.child.kill("SIGTERM");
    expect(await worker.exited).toBe(0);
    expect(worker.stdout().trim().split("\n")).toEqual([...Array(5).fill("cli-q3/high"), ...Array(5).fill("cli-q3/low")]);
  }, 90_000);

  test("--filter: the command runs only for the records the expression keeps", async () => {
    await createStream(gw.url, "cli-q5/tasks", 1);
    await publish(gw.url, "cli-q5/tasks", Array.from({ length: 6 }, (_, n) => ({ fields: { n, keep: n % 3 === 0 } })));
    const worker = strata(["queue", "work", "cq5", "--streams", "cli-q5/tasks", "--filter", "fields.keep", "--", "sh", "-c", "cat"]);
    await until("the kept records acked and nothing left", async () => {
      const t = await totals("cq5");
      return t.acked >= 2 && t.pending === 0 && t.in_flight === 0 ? true : undefined;
    }, 60_000);
    worker.child.kill("SIGTERM");
    expect(await worker.exited).toBe(0);
    const ran = worker.stdout().trim().split("\n").map((line) => (JSON.parse(line) as { fields: { n: number } }).fields.n);
    expect(ran.sort()).toEqual([0, 3]);
  }, 90_000);

  test("a command that cannot be started ends the worker with 1 and names it", async () => {
    await createStream(gw.url, "cli-q4/tasks", 1);
    await publish(gw.url, "cli-q4/tasks", [{ fields: { n: 1 } }]);
    const worker = strata(["queue", "work", "cq4", "--streams", "cli-q4/tasks", "--", "/nonexistent/strata-test-command"]);
    expect(await worker.exited).toBe(1);
    expect(worker.stderr()).toContain("cannot run /nonexistent/strata-test-command");
  }, 60_000);

  test("usage errors exit 2: unknown flag, missing --streams, no command, bad durations", async () => {
    for (const args of [
      ["queue", "work", "g", "--streams", "s", "--bogus", "--", "true"],
      ["queue", "work", "g", "--", "true"],
      ["queue", "work", "g", "--streams", "s"],
      ["queue", "work", "g", "--streams", "s", "--visibility", "soon", "--", "true"],
      ["queue", "work", "g", "--streams", "a,,b", "--", "true"],
      ["queue", "work", "g", "--streams", "s", "--concurrency", "0", "--", "true"],
    ]) {
      const run = strata(args);
      expect({ args, code: await run.exited }).toEqual({ args, code: 2 });
    }
  }, 60_000);

  test("queue config sets the retry policy (a partial backoff keeps the rest), show prints it; bad values exit 2", async () => {
    const set = strata(["queue", "config", "cq-config", "--max-deliveries", "3", "--visibility", "45s", "--backoff-initial", "250ms", "--json"]);
    expect(await set.exited).toBe(0);
    const first = JSON.parse(set.stdout()) as { group: string; config: { max_deliveries: number; visibility_ms: number; backoff: { initial_ms: number; max_ms: number; multiplier: number; jitter: string } } };
    expect(first.group).toBe("cq-config");
    expect(first.config.max_deliveries).toBe(3);
    expect(first.config.visibility_ms).toBe(45_000);
    expect(first.config.backoff.initial_ms).toBe(250);
    const again = strata(["queue", "config", "cq-config", "--backoff-jitter", "none", "--json"]);
    expect(await again.exited).toBe(0);
    const second = JSON.parse(again.stdout()) as typeof first;
    expect(second.config).toEqual({ ...first.config, backoff: { ...first.config.backoff, jitter: "none" } });
    const show = strata(["queue", "show", "cq-config", "--json"]);
    expect(await show.exited).toBe(0);
    expect((JSON.parse(show.stdout()) as typeof first).config).toEqual(second.config);
    for (const args of [
      ["queue", "config", "cq-config", "--max-deliveries", "0"],
      ["queue", "config", "cq-config", "--backoff-jitter", "some"],
      ["queue", "config", "cq-config", "--backoff-multiplier", "1000"],
    ]) {
      const run = strata(args);
      expect({ args, code: await run.exited }).toEqual({ args, code: 2 });
    }
  }, 60_000);

  test("an unreachable gateway is named", async () => {
    const run = strata(["queue", "show", "g", "--gateway", "http://127.0.0.1:9"]);
    expect(await run.exited).not.toBe(0);
    expect(run.stderr()).toContain("http://127.0.0.1:9");
  }, 30_000);
});
