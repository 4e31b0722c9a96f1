// The client library against three `strata serve --cluster` gateways, given nothing but their
// URLs (gatewayConnection): idempotent producers publish to every partition while the leader of
// partition 0 is SIGKILLed. Requests to the dead gateway fail to connect and move on; requests a
// survivor cannot place yet are answered 503 NOT_LEADER (or LEASE_LOST) and are sent again, with
// the same sequence, until the partition's new leader takes them. Every acknowledged record is read
// back once, at the position it was acknowledged with.
import { expect, test } from "bun:test";
import { failoverFetch } from "../../core/client/failover-fetch.ts";
import type { RecordInput } from "../../core/log/record.ts";
import { publishRecords } from "../../gateway/client.ts";
import { connectionOver } from "../../gateway/client/gateway-urls.ts";
import { clusterPerFile, FAST_CLUSTER, readPartition } from "../helpers/cluster.ts";

const STREAM = "clients-cluster";
const PARTITIONS = 4;

const clusterOf = clusterPerFile({ gateways: 3, stream: STREAM, partitions: PARTITIONS });

test("a SIGKILLed leader under the client library's idempotent publishes: nothing lost, nothing twice", async () => {
  const cluster = clusterOf();
  const urls = cluster.gateways.map((g) => g.url);
  // Bounds that outlast the failover (lease 3 s here); the defaults (30 s) do too.
  const fetcher = failoverFetch(urls, { limits: { maxTotalMs: 60_000, maxAttempts: 200, refusedRounds: 200 } });
  const connection = connectionOver(fetcher);
  const before = await cluster.waitForBalance(STREAM, PARTITIONS);
  const victim = cluster.gateway(before.find((l) => l.partition === 0)!.holder!);

  const acked: { partition: number; offset: number; n: number }[] = [];
  let stop = false;
  const producers = Array.from({ length: PARTITIONS }, async (_, partition) => {
    const id = 7_000 + partition;
    for (let seq = 0; !stop; seq++) {
      const n = seq;
      const record: RecordInput = { key: null, headers: {}, fields: { partition, n }, partition };
      const [position] = await publishRecords(connection, STREAM, [record], { producer: { id, epoch: 0, seq } });
      expect(position!.partition).toBe(partition);
      acked.push({ partition, offset: position!.offset, n });
    }
  });
  const ackedOn = (partition: number): number => acked.filter((a) => a.partition === partition).length;
  const waitForAcks = async (partition: number, count: number): Promise<void> => {
    const deadline = Date.now() + 60_000;
    while (ackedOn(partition) < count) {
      if (Date.now() > deadline) throw new Error(`partition ${partition}: ${ackedOn(partition)} of ${count} acknowledgements`);
      await Promise.race([...producers, new Promise((resolve) => setTimeout(resolve, 50))]);
    }
  };
  try {
    await waitForAcks(0, 50);
    const killedAt = performance.now();
    const before0 = ackedOn(0);
    await victim.kill();
    await cluster.waitForLeaders(STREAM, PARTITIONS, { exclude: [victim.node], timeoutMs: FAST_CLUSTER.leaseMs * 10 });
    await waitForAcks(0, before0 + 50);
    console.log(`clients-cluster: partition 0's leader ${victim.node} SIGKILLed; 50 more acknowledgements on it after ${(performance.now() - killedAt).toFixed(0)} ms`);
  } finally {
    stop = true;
    await Promise.allSettled(producers);
  }
  await Promise.all(producers);
  const via = cluster.running()[0]!;
  for (let partition = 0; partition < PARTITIONS; partition++) {
    const stored = await readPartition(via, STREAM, partition);
    const numbers = stored.map((r) => (r.fields as { n: number }).n);
    // Nothing twice, nothing missing: the producer's sequence 0..k-1, in order.
    expect(numbers).toEqual(Array.from({ length: ackedOn(partition) }, (_, i) => i));
    for (const a of acked.filter((x) => x.partition === partition)) expect(stored[a.offset]?.fields).toEqual({ partition, n: a.n });
  }
}, 240_000);
