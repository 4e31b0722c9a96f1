// work() across a gateway SIGKILL: the loop waits the gateway out and carries on when it is back
// (same data directory, same port). Every task ends acked; a task is handled again only when its
// ack was not answered before the crash (it then comes back with deliveries > 1), never an acked one.
import { afterAll, expect, test } from "bun:test";
import { describeQueue, work, type ClaimedRecord } from "../../gateway/client.ts";
import { type GatewayProcess, removeDir, startGateway, tempDir } from "../helpers/gateway.ts";
import { createStream, publish, until } from "./queue-http.ts";
import { freePort } from "../edge/edge-fixtures.ts";

const dataDir = tempDir();
let gw: GatewayProcess | undefined;

afterAll(async () => {
  await gw?.stop();
  removeDir(dataDir);
});


test("work() outlives a gateway SIGKILL: every task acked, only unacknowledged ones handled again", async () => {
  const port = await freePort();
  const args = ["--port", String(port)];
  gw = await startGateway({ dataDir, args });
  const url = gw.url;
  const TASKS = 200;
  await createStream(url, "cr/tasks", 2);
  await publish(url, "cr/tasks", Array.from({ length: TASKS }, (_, n) => ({ fields: { n } })));

  const handled: { n: number; deliveries: number }[] = [];
  let killed: Promise<void> | undefined;
  const stop = new AbortController();
  const handler = async (record: ClaimedRecord): Promise<void> => {
    handled.push({ n: Number(record.fields?.n), deliveries: record.deliveries });
    if (handled.length === 50 && killed === undefined) killed = gw!.kill();
  };
  const done = work({ gateway: url, group: "crg", streams: ["cr/tasks"], handler, concurrency: 4, visibilityMs: 2_000, signal: stop.signal });
  let failed: unknown;
  done.catch((e: unknown) => (failed = e));
  await until("the crash", async () => {
    if (failed !== undefined) throw failed;
    return killed === undefined ? undefined : true;
  });
  await killed;
  gw = await startGateway({ dataDir, args });
  expect(gw.url).toBe(url);
  await until("every task acked", async () => {
    const t = (await describeQueue({ gateway: url }, "crg")).totals;
    return t.acked === TASKS && t.in_flight === 0 && t.pending === 0 ? t : undefined;
  }, 60_000);
  stop.abort();
  const summary = await done;

  const counts = new Map<number, number>();
  for (const h of handled) counts.set(h.n, (counts.get(h.n) ?? 0) + 1);
  expect(counts.size).toBe(TASKS);
  // Handled again: only records in hand at the crash (at most the 4 slots), each time as a redelivery.
  expect(handled.length - TASKS).toBeLessThanOrEqual(4);
  const seen = new Set<number>();
  for (const h of handled) {
    if (seen.has(h.n)) expect(h.deliveries).toBeGreaterThan(1);
    seen.add(h.n);
  }
  expect(summary.acked + summary.unsettled).toBe(handled.length);
}, 120_000);
