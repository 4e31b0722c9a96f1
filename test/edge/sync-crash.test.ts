// `strata edge run` against a real gateway process: an outage (records published while the
// gateway is down, drained once it starts), the gateway killed with SIGKILL mid-drain and
// restarted, the edge killed with SIGKILL mid-drain and restarted. After each, every record is
// in the gateway exactly once, in per-producer order, and the outbox is empty.
import { afterEach, describe, expect, test } from "bun:test";
import { type GatewayProcess, removeDir, startGateway, tempDir } from "../helpers/gateway.ts";
import { cli, cliOk, edgeStatus, endOffset, exactlyOnceInOrder, freePort, readStream, recordLines, waitFor } from "./edge-fixtures.ts";

const cleanup: (() => Promise<void> | void)[] = [];

afterEach(async () => {
  while (cleanup.length > 0) await cleanup.pop()!();
});

function dir(prefix: string): string {
  const d = tempDir(prefix);
  cleanup.push(() => removeDir(d));
  return d;
}

async function gatewayAt(port: number, dataDir: string): Promise<GatewayProcess> {
  const gw = await startGateway({ dataDir, args: ["--port", String(port)] });
  cleanup.push(() => gw.kill());
  return gw;
}

/** Publishes `count` records {edge, i, pad} in batches of `batch` (one outbox row each). */
async function publish(dataDir: string, edge: string, stream: string, count: number, batch: number, padBytes: number): Promise<void> {
  await cliOk(["edge", "publish", "--data", dataDir, stream, "--batch", String(batch)], recordLines(edge, 0, count, padBytes));
}

function edgeRun(dataDir: string, port: number, extra: string[] = []) {
  const run = cli(["edge", "run", "--data", dataDir, "--gateway", `http://127.0.0.1:${port}`, "--once", ...extra]);
  cleanup.push(() => {
    if (run.child.exitCode === null && run.child.signalCode === null) run.child.kill("SIGKILL");
  });
  return run;
}

async function drained(run: ReturnType<typeof edgeRun>): Promise<void> {
  const r = await run.done;
  if (r.code !== 0) throw new Error(`edge run exited ${r.code} ${r.signal}:\n${r.stderr}`);
}

describe("edge sync", () => {
  test("an outage: two edges publish while the gateway is down; once it starts, both drain exactly once, in order", async () => {
    const port = await freePort();
    const gwDir = dir("strata-edge-gw-");
    const a = dir("strata-edge-a-");
    const b = dir("strata-edge-b-");
    await Promise.all([publish(a, "a", "fleet/samples", 400, 7, 100), publish(b, "b", "fleet/samples", 300, 11, 100)]);
    expect((await edgeStatus(a)).outbox_records).toBe(400);

    const runA = edgeRun(a, port);
    const runB = edgeRun(b, port);
    await Bun.sleep(1200); // both are retrying against nothing
    expect(runA.child.exitCode).toBeNull();
    expect(runB.child.exitCode).toBeNull();
    expect(runA.output()).toContain("retrying in");

    const gw = await gatewayAt(port, gwDir);
    await Promise.all([drained(runA), drained(runB)]);
    exactlyOnceInOrder(await readStream(gw.url, "fleet/samples"), { a: 400, b: 300 });
    for (const d of [a, b]) {
      const status = await edgeStatus(d);
      expect(status.outbox_records).toBe(0);
      expect(status.outbox_bytes).toBe(0);
      expect(status.last_sync).not.toBeNull();
    }
  }, 60_000);

  test("the gateway killed with SIGKILL mid-drain and restarted", async () => {
    const port = await freePort();
    const gwDir = dir("strata-edge-gw-");
    const a = dir("strata-edge-a-");
    const total = 1500;
    await publish(a, "a", "crash/gateway", total, 5, 400);
    let gw = await gatewayAt(port, gwDir);
    // ~0.7 MB at 256 KiB/s: a few seconds of drain, in 64 KiB requests.
    const run = edgeRun(a, port, ["--rate-limit", "256K"]);
    await waitFor(async () => (await endOffset(gw.url, "crash/gateway")) >= 300, 20_000, "part of the drain");
    await gw.kill();
    const atKill = (await edgeStatus(a)).outbox_records;
    expect(atKill).toBeGreaterThan(0);
    await Bun.sleep(700);
    gw = await gatewayAt(port, gwDir);
    await drained(run);
    expect(run.output()).toContain("retrying in");
    exactlyOnceInOrder(await readStream(gw.url, "crash/gateway"), { a: total });
    expect((await edgeStatus(a)).outbox_records).toBe(0);
  }, 60_000);

  test("the edge killed with SIGKILL mid-drain and restarted", async () => {
    const port = await freePort();
    const gw = await gatewayAt(port, dir("strata-edge-gw-"));
    const a = dir("strata-edge-a-");
    const total = 1500;
    await publish(a, "a", "crash/edge", total, 5, 400);
    const first = edgeRun(a, port, ["--rate-limit", "256K"]);
    await waitFor(async () => (await endOffset(gw.url, "crash/edge")) >= 300, 20_000, "part of the drain");
    first.child.kill("SIGKILL");
    await first.done;
    const left = (await edgeStatus(a)).outbox_records;
    expect(left).toBeGreaterThan(0);
    expect(left).toBeLessThan(total);
    // More records published while the edge is down join the same producer sequence.
    await cliOk(["edge", "publish", "--data", a, "crash/edge", "--batch", "3"], recordLines("a", total, total + 30, 400));
    await drained(edgeRun(a, port));
    exactlyOnceInOrder(await readStream(gw.url, "crash/edge"), { a: total + 30 });
    expect((await edgeStatus(a)).outbox_records).toBe(0);
  }, 60_000);
});
