// Fencing: the leader of a partition frozen with SIGSTOP past its lease, while a publish to it
// waits in its socket. The other gateways take its partitions (new epochs) and keep acknowledging
// the load. Resumed, the old leader cannot commit under its old epoch: the waiting publish is
// refused (LEASE_LOST, fenced in the intake commit's own write; or NOT_LEADER) and then nothing of
// it is in the log, or, if the gateway had already stepped down, forwarded to the new leader and
// found where it was acknowledged. It steps down (a publish through it succeeds again), and the
// partitions' new leaders hold every record acknowledged before, once.
import { expect, test } from "bun:test";
import { expectIntact, startLoad } from "../helpers/cluster-load.ts";
import { clusterPerFile, FAST_CLUSTER, keyFor, publishTo, readPartition, waitUntil } from "../helpers/cluster.ts";

const STREAM = "fencing-sigstop";
const PARTITIONS = 3;
const REFUSALS = new Set(["LEASE_LOST", "NOT_LEADER", "UNAVAILABLE", "METADATA_UNAVAILABLE", "STORAGE_ERROR"]);

const clusterOf = clusterPerFile({ gateways: 3, stream: STREAM, partitions: PARTITIONS });

test("a leader paused past its lease is fenced when it resumes, steps down, and loses nothing acknowledged", async () => {
  const cluster = clusterOf();
  // Short attempts: a frozen gateway never answers, and the producers move on to the next one.
  const load = startLoad({ stream: STREAM, producers: 3, recordsPerRequest: 6, targets: () => cluster.running(), attemptTimeoutMs: 2_000 });
  let fenceProbe: Awaited<ReturnType<typeof publishTo>> | undefined;
  const probeRecords: Array<{ key: string; fields: Record<string, unknown> }> = [];
  try {
    await load.progressed(200, 60_000);
    const before = await cluster.waitForLeaders(STREAM, PARTITIONS);
    const victim = cluster.gateway(before.find((l) => l.partition === 0)!.holder!);
    const held = before.filter((l) => l.holder === victim.node);
    for (const lease of held) probeRecords.push({ key: keyFor(lease.partition, PARTITIONS, "fence"), fields: { fence: lease.partition } });

    victim.pause();
    // Sent to the frozen leader for its own partitions: read only once it runs again.
    const pending = publishTo(victim, STREAM, probeRecords, 60_000);
    const pausedAt = performance.now();
    const after = await cluster.waitForLeaders(STREAM, PARTITIONS, { exclude: [victim.node], timeoutMs: FAST_CLUSTER.leaseMs * 10 });
    for (const lease of held) expect(after.find((l) => l.partition === lease.partition)!.epoch).toBeGreaterThan(lease.epoch);
    await load.progressed(200, 60_000);
    console.log(`fencing: ${victim.node} (leading ${held.map((l) => `${l.partition}@${l.epoch}`).join(", ")}) paused; partitions taken over after ${(performance.now() - pausedAt).toFixed(0)} ms`);

    victim.resume();
    fenceProbe = await pending;
    console.log(`fencing: the publish waiting in the resumed leader: ${JSON.stringify(fenceProbe)}`);
    expect(fenceProbe.kind).not.toBe("no-answer");
    if (fenceProbe.kind === "refused") {
      expect(fenceProbe.status).toBe(503);
      expect(REFUSALS.has(fenceProbe.code)).toBe(true);
    }

    // It stepped down: publishes through it reach the partitions' current leaders again.
    const steppedDown = await waitUntil(
      `a publish through the resumed ${victim.node} to the partitions it led`,
      async () => {
        const outcome = await publishTo(victim, STREAM, held.map((l) => ({ key: keyFor(l.partition, PARTITIONS, "after"), fields: { after: l.partition } })), 10_000);
        return outcome.kind === "acknowledged" ? outcome : undefined;
      },
      30_000,
      250,
    );
    expect(steppedDown.positions.length).toBe(held.length);
    const status = await cluster.status(victim);
    for (const lease of held) {
      const now = status.leases.find((l) => l.stream === STREAM && l.partition === lease.partition)!;
      expect(now.epoch).toBeGreaterThan(lease.epoch);
    }
  } finally {
    const via = cluster.running()[0]!;
    await expectIntact("fencing", load, via, STREAM, PARTITIONS);
    // The probe's records exist exactly where an acknowledgement put them, and nowhere if it was fenced.
    if (fenceProbe !== undefined && fenceProbe.kind !== "no-answer") {
      const found: Array<{ partition: number; offset: number }> = [];
      for (let partition = 0; partition < PARTITIONS; partition++) {
        for (const r of await readPartition(via, STREAM, partition)) if (r.fields !== null && "fence" in r.fields) found.push({ partition, offset: r.offset });
      }
      if (fenceProbe.kind === "acknowledged") expect(found.sort((a, b) => a.partition - b.partition)).toEqual([...fenceProbe.positions].sort((a, b) => a.partition - b.partition));
      else if (fenceProbe.code === "LEASE_LOST") expect(found).toEqual([]);
    }
  }
}, 180_000);
