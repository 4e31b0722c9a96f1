// The metadata database (the libSQL server) goes away under load and comes back: while it is down
// the gateways answer cleanly (publishes and GET /v1/cluster fail with 503 and a stable code,
// never a 500, a crash or a hang), and its leaders stop leading once they cannot renew; once it is
// back on the same port and data the gateways take the partitions again (new epochs, rebuilt from
// shared state) and the load goes on, with nothing acknowledged lost or duplicated.
import { expect, test } from "bun:test";
import { expectIntact, startLoad } from "../helpers/cluster-load.ts";
import { clusterPerFile, keyFor, publishTo, waitUntil } from "../helpers/cluster.ts";

const STREAM = "sqld-restart";
const PARTITIONS = 3;
const CLEAN_REFUSALS = new Set(["METADATA_UNAVAILABLE", "UNAVAILABLE", "NOT_LEADER", "LEASE_LOST", "STORAGE_ERROR"]);

const clusterOf = clusterPerFile({ gateways: 3, config: { intake: { ackTimeoutMs: 2_000 } }, stream: STREAM, partitions: PARTITIONS });

test("requests fail with 503 while the libSQL server is down and the cluster recovers when it is back", async () => {
  const cluster = clusterOf();
  const load = startLoad({ stream: STREAM, producers: 3, recordsPerRequest: 6, targets: () => cluster.running(), requestDeadlineMs: 120_000 });
  try {
    await load.progressed(200, 60_000);
    const before = await cluster.waitForLeaders(STREAM, PARTITIONS);
    const leaders = new Set(before.map((l) => l.holder!));
    const marks = new Map(cluster.gateways.map((g) => [g.node, g.mark()]));
    await cluster.dev.sqld.kill();
    const downAt = performance.now();
    // Every gateway refuses cleanly, publishes and the cluster status alike.
    for (const gateway of cluster.gateways) {
      const outcome = await waitUntil(
        `a clean refusal of a publish by ${gateway.node} while the metadata database is down`,
        async () => {
          const o = await publishTo(gateway, STREAM, [{ key: keyFor(0, PARTITIONS, "down"), fields: { down: true } }], 15_000);
          return o.kind === "refused" ? o : undefined;
        },
        30_000,
        200,
      );
      expect(outcome.status).toBe(503);
      expect(CLEAN_REFUSALS.has(outcome.code)).toBe(true);
      const status = await fetch(`${gateway.url}/v1/cluster`, { signal: AbortSignal.timeout(15_000) });
      expect(status.status).toBe(503);
    }
    // Down past the leases: every leader stops leading (it cannot renew) before the database is back.
    await waitUntil(
      `the leaders ${[...leaders].join(", ")} giving their partitions up`,
      async () => ([...leaders].every((node) => cluster.gateway(node).outputSince(marks.get(node)!).includes("lost the lease of")) ? true : undefined),
      30_000,
      200,
    );
    const downMs = performance.now() - downAt;
    await cluster.dev.sqld.start();
    const backAt = performance.now();
    // The rows of the old tenures may still look held for a moment (their expiry is the database's
    // clock): wait for every partition to be led again at a newer epoch.
    const epochBefore = new Map(before.map((l) => [l.partition, l.epoch]));
    await waitUntil(
      "every partition led again at a newer epoch",
      async () => {
        const after = await cluster.waitForLeaders(STREAM, PARTITIONS, { timeoutMs: 60_000 });
        return after.every((l) => l.epoch > epochBefore.get(l.partition)!) ? after : undefined;
      },
      60_000,
      200,
    );
    await load.progressed(200, 90_000);
    console.log(`sqld restart: down ${downMs.toFixed(0)} ms; every partition led and 200 more records acknowledged ${(performance.now() - backAt).toFixed(0)} ms after it was back`);
    // No gateway crashed.
    expect(cluster.running().map((g) => g.node)).toEqual(cluster.gateways.map((g) => g.node));
  } catch (e) {
    await load.stop(); // the original failure, not a verdict on a load cut short
    throw e;
  }
  await expectIntact("sqld restart", load, cluster.running()[0]!, STREAM, PARTITIONS);
}, 240_000);
