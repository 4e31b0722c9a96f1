// Failover: three `strata serve --cluster` processes, an idempotent publish load through all of
// them (producers sending keyed records over every partition, retrying a refused or unanswered
// request with the same sequence on the next gateway), and the leader of a partition SIGKILLed.
// Another gateway takes its leases once they expire (leaseMs 3 s here) and rebuilds the
// partitions from shared state: every acknowledged record is read back, once, at the position it
// was acknowledged with. The failover time goes to the test output.
import { expect, test } from "bun:test";
import { expectIntact, startLoad } from "../helpers/cluster-load.ts";
import { clusterPerFile, FAST_CLUSTER } from "../helpers/cluster.ts";

const STREAM = "failover-kill";
const PARTITIONS = 6;

const clusterOf = clusterPerFile({ gateways: 3, stream: STREAM, partitions: PARTITIONS });

test("a SIGKILLed leader's partitions move to the survivors: 0 acknowledged records lost, 0 duplicated", async () => {
  const cluster = clusterOf();
  const load = startLoad({ stream: STREAM, producers: 4, recordsPerRequest: 6, targets: () => cluster.running() });
  try {
    await load.progressed(300, 60_000);
    // Rebalancing done: the victim leads its own share, not what it took while the others started.
    const before = await cluster.waitForBalance(STREAM, PARTITIONS);
    const victim = cluster.gateway(before.find((l) => l.partition === 0)!.holder!);
    const moved = before.filter((l) => l.holder === victim.node);
    const killedAt = performance.now();
    await victim.kill();
    const after = await cluster.waitForLeaders(STREAM, PARTITIONS, { exclude: [victim.node], timeoutMs: FAST_CLUSTER.leaseMs * 10 });
    const failoverMs = performance.now() - killedAt;
    // Writes to the moved partitions go through again: the load keeps being acknowledged.
    await load.progressed(300, 60_000);
    const resumedMs = performance.now() - killedAt;
    console.log(`failover: ${victim.node} SIGKILLed leading ${moved.length} of ${PARTITIONS} partitions; new leaders after ${failoverMs.toFixed(0)} ms (lease ${FAST_CLUSTER.leaseMs} ms), 300 more records acknowledged after ${resumedMs.toFixed(0)} ms`);
    for (const lease of moved) {
      const now = after.find((l) => l.partition === lease.partition)!;
      expect(now.holder).not.toBe(victim.node);
      expect(now.epoch).toBeGreaterThan(lease.epoch);
    }
  } catch (e) {
    await load.stop(); // the original failure, not a verdict on a load cut short
    throw e;
  }
  await expectIntact("failover", load, cluster.running()[0]!, STREAM, PARTITIONS);
}, 180_000);
