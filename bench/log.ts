// Log bench: Strata's publish against fair peers, side by side in one run (Bun).
//   bun bench/log.ts            (also run by `npm run bench` / `bun bench/run.ts log`)
//   LOG_BENCH_SCALE=0.2 bun bench/log.ts   (smaller counts for a quick look)
// Starts a Strata gateway (`strata serve`, child process, temp data dir), Debian's
// `nats-server -js` (file storage) and Debian's `redis-server` (appendonly yes, appendfsync
// always), then publishes 1 KiB records:
//   batch 1 open-loop at a fixed 1,000 requests/s (p50 / p99 from each send's scheduled time);
//   batch 100 and batch 1000 closed-loop, as fast as each goes with a fixed number in flight.
// Peers: Strata with a client-built batch (when the gateway takes one) and with a MessagePack
// request; JetStream through a raw-protocol publisher over several connections (so its client is
// not the bottleneck: its CPU is reported); Redis Streams XADD pipelined over several connections.
// Each scenario runs ROUNDS interleaved rounds (every peer once per round); medians are reported.
// Every ratio is also printed as a marker line (bench/ratio.ts) for `npm run bench`'s summary.
import { cpus, loadavg } from "node:os";
import { spawnSync } from "node:child_process";
import { median, openLoop, quantile } from "./log/open-loop.ts";
import { cpuSeconds, GUARANTEES, LABEL, openPublishers, selfCpuSeconds, startServers, type PeerName, type Publisher, type Servers } from "./log/peers.ts";
import { natsServerVersion } from "./log/processes.ts";
import { redisServerVersion } from "./queues/redis.ts";
import { reportRatio } from "./ratio.ts";

const SCALE = Number(process.env.LOG_BENCH_SCALE ?? 1);
const ROUNDS = Number(process.env.LOG_BENCH_ROUNDS ?? 3);
const scaled = (n: number, min: number): number => Math.max(min, Math.round(n * SCALE));
const RECORD = 1024;
const CONNECTIONS = 4; // JetStream and Redis connections (Strata: fetch's keep-alive pool)

/** Closed-loop scenarios: `inFlight` requests of `batch` records outstanding in all (the same for every peer). */
const THROUGHPUT = [
  { batch: 100, total: scaled(100_000, 5_000), inFlight: 8 },
  { batch: 1000, total: scaled(200_000, 10_000), inFlight: 4 },
] as const;
const BATCH1 = { rate: 1_000, count: scaled(3_000, 500) } as const;

interface Run {
  readonly seconds: number;
  readonly records: number;
  readonly serverCpu: number;
  readonly clientCpu: number;
}

function payload(size: number, seed: number): Uint8Array {
  const out = new Uint8Array(size);
  let s = seed >>> 0 || 1;
  for (let i = 0; i < size; i++) {
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    out[i] = s & 0xff;
  }
  return out;
}

let streams = 0;
async function measured<T>(servers: Servers, peer: PeerName, fn: () => Promise<T>): Promise<{ result: T; serverCpu: number; clientCpu: number }> {
  const s0 = cpuSeconds(servers.pid(peer));
  const c0 = selfCpuSeconds();
  const result = await fn();
  return { result, serverCpu: cpuSeconds(servers.pid(peer)) - s0, clientCpu: selfCpuSeconds() - c0 };
}

/** `total` records in batches of `batch`, `inFlight` batches outstanding spread over the publishers. */
async function closedLoop(publishers: readonly Publisher[], total: number, batch: number, inFlight: number, record: Uint8Array): Promise<number> {
  const requests = Math.ceil(total / batch);
  const full = new Array<Uint8Array>(batch).fill(record);
  let next = 0;
  const worker = async (p: Publisher): Promise<void> => {
    while (next < requests) {
      const i = next++;
      const n = Math.min(batch, total - i * batch);
      await p.publish(n === batch ? full : full.slice(0, n));
    }
  };
  const t0 = performance.now();
  await Promise.all(Array.from({ length: inFlight }, (_, w) => worker(publishers[w % publishers.length]!)));
  return (performance.now() - t0) / 1000;
}

async function throughputRun(servers: Servers, peer: PeerName, sc: (typeof THROUGHPUT)[number], record: Uint8Array): Promise<Run> {
  const { publishers, close } = await openPublishers(servers, peer, `b${sc.batch}-${peer}-${streams++}`, CONNECTIONS);
  try {
    await closedLoop(publishers, Math.min(sc.total, sc.batch * sc.inFlight * 4), sc.batch, sc.inFlight, record); // warm-up
    const m = await measured(servers, peer, () => closedLoop(publishers, sc.total, sc.batch, sc.inFlight, record));
    return { seconds: m.result, records: sc.total, serverCpu: m.serverCpu, clientCpu: m.clientCpu };
  } finally {
    await close();
  }
}

async function batch1Run(servers: Servers, peer: PeerName, record: Uint8Array): Promise<{ p50: number; p99: number; rate: number }> {
  const { publishers, close } = await openPublishers(servers, peer, `b1-${peer}-${streams++}`, 1);
  try {
    const p = publishers[0]!;
    await openLoop({ ratePerSecond: BATCH1.rate, count: 200, send: () => p.publish([record]) }); // warm-up
    const r = await openLoop({ ratePerSecond: BATCH1.rate, count: BATCH1.count, send: () => p.publish([record]) });
    return { p50: quantile(r.latenciesMs, 0.5), p99: quantile(r.latenciesMs, 0.99), rate: r.achievedPerSecond };
  } finally {
    await close();
  }
}

const fmt = (n: number, digits = 0): string => n.toLocaleString("en-US", { maximumFractionDigits: digits, minimumFractionDigits: digits });

async function main(): Promise<void> {
  const started = performance.now();
  const loadBefore = loadavg();
  const record = payload(RECORD, 7);
  const servers = await startServers(record);
  const peers: PeerName[] = [...(servers.clientBatch ? (["strata-client-batch"] as const) : []), "strata-msgpack", "jetstream", "redis"];
  const strataMain: PeerName = servers.clientBatch ? "strata-client-batch" : "strata-msgpack";
  const lines: string[] = [];
  const ratios: Parameters<typeof reportRatio>[0][] = [];
  try {
    // Batch 1, open loop at 1,000 requests/s.
    const b1 = new Map<PeerName, { p50: number[]; p99: number[]; rate: number[] }>(peers.map((p) => [p, { p50: [], p99: [], rate: [] }]));
    for (let round = 0; round < ROUNDS; round++) {
      for (const peer of peers) {
        console.error(`[log bench ${((performance.now() - started) / 1000).toFixed(1)} s] batch 1, ${peer}, round ${round + 1}`);
        const r = await batch1Run(servers, peer, record);
        const m = b1.get(peer)!;
        m.p50.push(r.p50);
        m.p99.push(r.p99);
        m.rate.push(r.rate);
      }
    }
    lines.push(`### Publish 1 KiB, batch 1, open loop at ${fmt(BATCH1.rate)} requests/s (${fmt(BATCH1.count)} sends per round, medians of ${ROUNDS} rounds)\n`);
    lines.push("| peer | p50 ms | p99 ms | achieved records/s |", "| --- | ---: | ---: | ---: |");
    for (const peer of peers) {
      const m = b1.get(peer)!;
      lines.push(`| ${LABEL[peer]} | ${fmt(median(m.p50), 2)} | ${fmt(median(m.p99), 2)} | ${fmt(median(m.rate))} |`);
    }
    const s1 = median(b1.get(strataMain)!.p50);
    ratios.push({ metric: "publish 1 KiB batch 1 p50 at 1,000 req/s (goal: Strata p50 <= 1.5 ms)", peer: "goal", strata: `${fmt(s1, 2)} ms`, peerValue: "1.5 ms", ratio: 1.5 / s1, goal: "p50 <= 1.5 ms", met: s1 <= 1.5 });
    for (const peer of ["jetstream", "redis"] as const) {
      const pv = median(b1.get(peer)!.p50);
      ratios.push({ metric: "publish 1 KiB batch 1 p50 at 1,000 req/s (peer p50 / Strata p50)", peer: LABEL[peer], strata: `${fmt(s1, 2)} ms`, peerValue: `${fmt(pv, 2)} ms`, ratio: pv / s1 });
    }

    // Batch 100 and 1000, closed loop.
    for (const sc of THROUGHPUT) {
      const runs = new Map<PeerName, Run[]>(peers.map((p) => [p, []]));
      for (let round = 0; round < ROUNDS; round++) {
        for (const peer of peers) {
          console.error(`[log bench ${((performance.now() - started) / 1000).toFixed(1)} s] batch ${sc.batch}, ${peer}, round ${round + 1}`);
          runs.get(peer)!.push(await throughputRun(servers, peer, sc, record));
        }
      }
      const rate = (peer: PeerName): number => median(runs.get(peer)!.map((r) => r.records / r.seconds));
      const cpu = (peer: PeerName, side: "serverCpu" | "clientCpu"): number => median(runs.get(peer)!.map((r) => r[side] / r.seconds));
      lines.push(`\n### Publish 1 KiB, batch ${sc.batch}, ${sc.inFlight} batches in flight (${fmt(sc.total)} records per round, medians of ${ROUNDS} rounds)\n`);
      lines.push("| peer | records/s | MB/s | server CPU (cores) | bench client CPU (cores) | Strata (best form) / peer |", "| --- | ---: | ---: | ---: | ---: | ---: |");
      for (const peer of peers) {
        const r = rate(peer);
        lines.push(`| ${LABEL[peer]} | ${fmt(r)} | ${fmt((r * RECORD) / 1e6, 1)} | ${fmt(cpu(peer, "serverCpu"), 2)} | ${fmt(cpu(peer, "clientCpu"), 2)} | ${peer.startsWith("strata") ? "–" : `${fmt(rate(strataMain) / r, 2)}×`} |`);
      }
      const goals: Record<number, Partial<Record<"jetstream" | "redis", number>>> = { 100: { jetstream: 1 }, 1000: { jetstream: 2, redis: 3 } };
      // The goals are judged on the product's publish path (the client-built batch when there is
      // one); the MessagePack path's ratios are printed beside them without a goal.
      for (const strata of peers.filter((p) => p.startsWith("strata"))) {
        for (const peer of ["jetstream", "redis"] as const) {
          const goal = strata === strataMain ? goals[sc.batch]?.[peer] : undefined;
          const ratio = rate(strata) / rate(peer);
          ratios.push({
            metric: `publish 1 KiB batch ${sc.batch} records/s (${LABEL[strata]})`,
            peer: LABEL[peer],
            strata: `${fmt(rate(strata))} rec/s`,
            peerValue: `${fmt(rate(peer))} rec/s`,
            ratio,
            ...(goal !== undefined ? { goal: `>= ${goal}x`, met: ratio >= goal } : {}),
          });
        }
      }
    }
  } finally {
    await servers.stop();
  }
  const loadAfter = loadavg();
  const g = globalThis as { Bun?: { version: string } };
  const kernel = spawnSync("uname", ["-r"], { encoding: "utf8" }).stdout.trim();
  console.log(`Machine: ${cpus().length} cores, ${cpus()[0]?.model ?? "unknown CPU"}, Linux ${kernel}; ${g.Bun ? `Bun ${g.Bun.version}` : process.version}; nats-server ${natsServerVersion() ?? "?"}; redis-server ${redisServerVersion() ?? "?"}; scale ${SCALE}; ${ROUNDS} interleaved rounds.`);
  console.log(`Load average (1 min) before / after: ${loadBefore[0]!.toFixed(2)} / ${loadAfter[0]!.toFixed(2)}.${servers.clientBatch ? "" : " The gateway did not take client-built batches: Strata rows are the MessagePack path."}\n`);
  console.log(`What an acknowledgement means:\n${peers.map((p) => `- ${GUARANTEES[p]}`).join("\n")}\n`);
  console.log(`JetStream and Redis: ${CONNECTIONS} connections, raw protocol, pipelined (a batch of n is n PUB / XADD frames in one socket write, each acknowledged); CPU columns are CPU seconds per wall second of the run (server process from /proc, bench client = this process).\n`);
  console.log(lines.join("\n"));
  console.log("");
  for (const r of ratios) reportRatio(r);
  console.log(`\nLog bench took ${((performance.now() - started) / 1000).toFixed(1)} s.`);
}

await main();
