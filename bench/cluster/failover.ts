// Failover timing for the cluster bench: round i picks partition i mod partitions, and a prober
// publishes one-record idempotent batches to it through another gateway, one every 20 ms; once it
// runs steadily the partition's leader is SIGKILLed (or stopped cleanly with SIGTERM). The
// partition's write pause is the longest gap between acknowledged probes around the change of
// leader. The gateway is then started again, and the next round waits until every partition is
// led by its rendezvous owner among the running gateways (the cluster settled) before it picks
// the next leader. verifyProbes reads the partitions back and counts acknowledged probes lost or
// found twice.
import type { ClusterGateway } from "../../cli/dev/cluster-gateway.ts";
import type { DevCluster } from "../../cli/dev/dev-cluster.ts";
import { buildClientBatch, CLIENT_BATCH_MEDIA_TYPE } from "../../core/log/client-batch.ts";
import { rendezvousOwner } from "../../gateway/cluster/rendezvous.ts";
import { readPartition, waitUntil } from "../../test/helpers/cluster.ts";
import { leadersOf } from "./setups.ts";

export interface FailoverRound {
  readonly how: "SIGKILL" | "SIGTERM";
  readonly node: string;
  readonly partition: number;
  /** The partition's write pause: the longest gap between acknowledged probe publishes around the change of leader. */
  readonly seconds: number;
  /** From the signal to the first publish acknowledged after the old leader exited. */
  readonly untilAcknowledged: number;
  /** Publishes refused (503) or unanswered meanwhile. */
  readonly refusals: number;
}

const ATTEMPT_TIMEOUT_MS = 3_000;
const PROBE_GAP_MS = 20;
const FAILOVER_DEADLINE_MS = 120_000;
/** Probes acknowledged before the signal, and after the first one past it (what the read-back checks). */
const STEADY_PROBES = 25;

/** Waits until every partition of `stream` is led by its rendezvous owner among the running gateways; answers the leaders. */
async function settled(dev: DevCluster, stream: string, partitions: number): Promise<string[]> {
  return waitUntil(
    `every partition of ${stream} led by its owner among the running gateways`,
    async () => {
      const running = dev.gateways.filter((g) => g.state === "running");
      const nodes = running.map((g) => g.node);
      const leaders = await leadersOf(running[0]!.url, stream);
      if (leaders.length !== partitions) return undefined;
      for (let p = 0; p < partitions; p++) if (leaders[p] !== rendezvousOwner(nodes, stream, p)) return undefined;
      return leaders.map((l) => l!);
    },
    120_000,
    100,
  );
}

/** One probe publish to `partition` through `via`: true when acknowledged, false when refused (503) or unanswered in time. */
async function probeOnce(via: ClusterGateway, stream: string, partition: number, producer: { id: number; seq: number }): Promise<boolean> {
  const body = buildClientBatch([{ key: null, headers: {}, fields: { p: producer.id, probe: producer.seq } }], { id: producer.id, epoch: 0, baseSequence: producer.seq });
  try {
    const response = await fetch(`${via.url}/v1/streams/${encodeURIComponent(stream)}/records?partition=${partition}`, {
      method: "POST",
      headers: { "content-type": CLIENT_BATCH_MEDIA_TYPE },
      body: body.slice(),
      signal: AbortSignal.timeout(ATTEMPT_TIMEOUT_MS),
    });
    const text = await response.text();
    if (response.status === 200) {
      producer.seq++;
      return true;
    }
    if (response.status !== 503) throw new Error(`probe publish through ${via.node}: ${response.status} ${text.slice(0, 300)}`);
    return false;
  } catch (e) {
    if (e instanceof Error && (e.name === "TimeoutError" || e.name === "AbortError")) return false;
    throw e;
  }
}

/**
 * A prober publishing to `partition` through `via` every PROBE_GAP_MS (each after the last
 * answer) until stopped; keeps the times of its acknowledgements.
 */
function startProber(via: ClusterGateway, stream: string, partition: number, producer: { id: number; seq: number }) {
  const acks: number[] = [];
  let refusals = 0;
  let stopping = false;
  const loop = (async () => {
    while (!stopping) {
      if (await probeOnce(via, stream, partition, producer)) acks.push(performance.now());
      else refusals++;
      await new Promise((r) => setTimeout(r, PROBE_GAP_MS));
    }
  })();
  return {
    acks,
    refusals: () => refusals,
    /** Resolves once `count` probes were acknowledged after `time`. */
    ackAfter: (time: number, count = 1) =>
      Promise.race([
        waitUntil(`${count} publishes to partition ${partition} of ${stream} acknowledged through ${via.node}`, async () => (acks.filter((t) => t > time).length >= count ? true : undefined), FAILOVER_DEADLINE_MS, 10),
        // A prober that failed (an answer other than 200 or 503) ends the wait at once.
        loop.then(() => new Promise<never>(() => {})),
      ]),
    stop: async () => {
      stopping = true;
      await loop;
    },
  };
}

export interface FailoverReport {
  readonly rounds: readonly FailoverRound[];
  /** Every producer's acknowledged batches: sequences 0 .. seq - 1 on its partition. */
  readonly producers: ReadonlyArray<{ readonly id: number; readonly partition: number; readonly seq: number }>;
}

/** `rounds` failovers of a partition's leader by `how`, each gateway started again afterwards; one producer per partition. */
export async function measureFailovers(options: {
  readonly dev: DevCluster;
  readonly stream: string;
  readonly partitions: number;
  readonly rounds: number;
  readonly how: "SIGKILL" | "SIGTERM";
  readonly producerId: number;
  readonly onRound?: (round: FailoverRound, index: number) => void;
}): Promise<FailoverReport> {
  const { dev, stream } = options;
  const producers = Array.from({ length: options.partitions }, (_, p) => ({ id: options.producerId + p, seq: 0 }));
  const rounds: FailoverRound[] = [];
  for (let i = 0; i < options.rounds; i++) {
    const leaders = await settled(dev, stream, options.partitions);
    const partition = i % options.partitions;
    const leader = dev.gateways.find((g) => g.node === leaders[partition])!;
    const via = dev.gateways.find((g) => g.state === "running" && g !== leader)!;
    const prober = startProber(via, stream, partition, producers[partition]!);
    try {
      await prober.ackAfter(0, STEADY_PROBES);
      const signalled = performance.now();
      await (options.how === "SIGKILL" ? leader.kill() : leader.stop());
      const exited = performance.now();
      // The first acknowledgement after the old leader exited came from its successor.
      await prober.ackAfter(exited);
      const last = prober.acks.filter((t) => t <= signalled).at(-1)!;
      const first = prober.acks.find((t) => t > exited)!;
      // The pause: the longest stretch without an acknowledgement around the change of leader.
      const around = prober.acks.filter((t) => t >= last && t <= first);
      const pause = Math.max(...around.slice(1).map((t, k) => t - around[k]!));
      const round: FailoverRound = { how: options.how, node: leader.node, partition, seconds: pause / 1000, untilAcknowledged: (first - signalled) / 1000, refusals: prober.refusals() };
      rounds.push(round);
      options.onRound?.(round, i);
      await prober.ackAfter(first, STEADY_PROBES);
    } finally {
      await prober.stop();
    }
    await leader.start();
  }
  await settled(dev, stream, options.partitions);
  return { rounds, producers: producers.map((p, partition) => ({ id: p.id, partition, seq: p.seq })) };
}

export interface ProbeVerdict {
  readonly acknowledged: number;
  /** Acknowledged probes not found in their partition. */
  readonly lost: number;
  /** Probes found more than once. */
  readonly duplicated: number;
}

/** Reads every partition back through a running gateway and checks each acknowledged probe is there exactly once. */
export async function verifyProbes(dev: DevCluster, stream: string, reports: readonly FailoverReport[]): Promise<ProbeVerdict> {
  const via = dev.gateways.find((g) => g.state === "running")!;
  const producers = reports.flatMap((r) => r.producers);
  const seen = new Map<string, number>();
  for (const partition of new Set(producers.map((p) => p.partition))) {
    for (const record of await readPartition(via, stream, partition)) {
      const f = record.fields;
      if (f === null || typeof f.p !== "number" || typeof f.probe !== "number") continue;
      const key = `${f.p}:${f.probe}`;
      seen.set(key, (seen.get(key) ?? 0) + 1);
    }
  }
  let acknowledged = 0;
  let lost = 0;
  for (const p of producers) {
    for (let seq = 0; seq < p.seq; seq++) {
      acknowledged++;
      if (!seen.has(`${p.id}:${seq}`)) lost++;
    }
  }
  return { acknowledged, lost, duplicated: [...seen.values()].filter((n) => n > 1).length };
}
