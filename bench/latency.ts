// Latency bench: p50 / p99 of publish-to-ack and of publish-to-consumer at a fixed offered load,
// Strata beside raw JetStream and Redis Streams (appendfsync always), in one run (Bun).
//   bun bench/latency.ts        (also run by `npm run bench` / `bun bench/run.ts latency`)
//   LATENCY_BENCH_SCALE=0.2 bun bench/latency.ts   (shorter runs for a quick look)
// Open loop (bench/log/open-loop.ts): one 1 KiB record per send, sends on a fixed schedule at
// 1,000 and 10,000 records/s whatever the answers do, each latency from the send's scheduled
// time, so a stall shows in the tail instead of slowing the sender (no coordinated omission).
//   publish-to-ack: until the publisher has the acknowledgement (one publisher connection;
//     Strata: HTTP POST, acks=local; JetStream: PUB with a reply subject; Redis: XADD).
//   publish-to-consumer: until a consumer following the stream receives the record (Strata:
//     long-poll GET .../records?wait_ms=; JetStream: a push consumer; Redis: XREAD BLOCK).
// ROUNDS interleaved rounds (every peer once per round); medians of each round's p50 and p99.
import { cpus, loadavg } from "node:os";
import { openTail } from "./latency/tails.ts";
import { median, openLoop, quantile } from "./log/open-loop.ts";
import { GUARANTEES, LABEL, openPublishers, startServers, type PeerName, type Servers } from "./log/peers.ts";
import { natsServerVersion } from "./log/processes.ts";
import { redisServerVersion } from "./queues/redis.ts";
import { reportRatio, type Ratio } from "./ratio.ts";

const SCALE = Number(process.env.LATENCY_BENCH_SCALE ?? 1);
const ROUNDS = Number(process.env.LATENCY_BENCH_ROUNDS ?? 3);
const SECONDS = Math.max(0.5, 2 * SCALE);
const RATES = [1_000, 10_000] as const;
const RECORD = 1024;
/** How long the consumer may lag the last send before the run is declared failed. */
const DRAIN_TIMEOUT_MS = 30_000;

type Mode = "ack" | "consumer";

/** A record whose first 4 bytes are its index (little endian) in the run, the rest filler. */
function indexed(i: number): Uint8Array {
  const out = new Uint8Array(RECORD).fill(0x5a);
  new DataView(out.buffer).setUint32(0, i, true);
  return out;
}

let streams = 0;

/** One open-loop run; answers each send's latency in ms. */
async function run(servers: Servers, peer: PeerName, mode: Mode, rate: number): Promise<readonly number[]> {
  const name = `lat-${mode}-${rate}-${peer}-${streams++}`;
  const { publishers, close } = await openPublishers(servers, peer, name, 1);
  const p = publishers[0]!;
  try {
    await openLoop({ ratePerSecond: Math.min(rate, 1_000), count: 200, send: () => p.publish([indexed(0)]) }); // warm-up (not consumed)
    const count = Math.round(rate * SECONDS);
    if (mode === "ack") return (await openLoop({ ratePerSecond: rate, count, send: (i) => p.publish([indexed(i)]) })).latenciesMs;
    // Publish-to-consumer: a fresh stream for the measured records, followed from its start.
    const { publishers: measured, close: closeMeasured } = await openPublishers(servers, peer, `${name}-c`, 1);
    const received = new Array<number>(count).fill(Number.NaN);
    let seen = 0;
    let allSeen: () => void = () => undefined;
    const done = new Promise<void>((resolve) => (allSeen = resolve));
    const tail = await openTail(servers, peer, `${name}-c`, (data) => {
      const i = new DataView(data.buffer, data.byteOffset, data.byteLength).getUint32(0, true);
      if (i < count && Number.isNaN(received[i]!)) {
        received[i] = performance.now();
        if (++seen === count) allSeen();
      }
    });
    try {
      const scheduled = new Array<number>(count).fill(0);
      const q = measured[0]!;
      await openLoop({
        ratePerSecond: rate,
        count,
        send: (i) => {
          scheduled[i] = performance.now();
          return q.publish([indexed(i)]);
        },
      });
      let timer: ReturnType<typeof setTimeout> | undefined;
      await Promise.race([done, new Promise<void>((_, reject) => (timer = setTimeout(() => reject(new Error(`${peer}: ${seen} of ${count} records reached the consumer`)), DRAIN_TIMEOUT_MS)))]);
      clearTimeout(timer);
      return received.map((at, i) => at - scheduled[i]!);
    } finally {
      await tail.stop();
      await closeMeasured();
    }
  } finally {
    await close();
  }
}

const fmt = (n: number, digits = 2): string => n.toLocaleString("en-US", { maximumFractionDigits: digits, minimumFractionDigits: digits });

async function main(): Promise<void> {
  const started = performance.now();
  const loadBefore = loadavg();
  const servers = await startServers(indexed(0));
  const peers: PeerName[] = [servers.clientBatch ? "strata-client-batch" : "strata-msgpack", "jetstream", "redis"];
  const strata = peers[0]!;
  const lines: string[] = [];
  const ratios: Ratio[] = [];
  try {
    for (const mode of ["ack", "consumer"] as const) {
      const what = mode === "ack" ? "publish-to-ack" : "publish-to-consumer (long-poll / push / XREAD BLOCK)";
      lines.push(`\n### ${what}, 1 KiB records, one per send, open loop (${SECONDS} s per run, medians of ${ROUNDS} rounds)\n`);
      lines.push("| records/s | peer | p50 ms | p99 ms |", "| ---: | --- | ---: | ---: |");
      for (const rate of RATES) {
        const p50 = new Map<PeerName, number[]>(peers.map((p) => [p, []]));
        const p99 = new Map<PeerName, number[]>(peers.map((p) => [p, []]));
        for (let round = 0; round < ROUNDS; round++) {
          for (const peer of peers) {
            console.error(`[latency bench ${((performance.now() - started) / 1000).toFixed(1)} s] ${mode} ${rate}/s ${peer} round ${round + 1}`);
            const ms = await run(servers, peer, mode, rate);
            p50.get(peer)!.push(quantile(ms, 0.5));
            p99.get(peer)!.push(quantile(ms, 0.99));
          }
        }
        for (const peer of peers) lines.push(`| ${rate.toLocaleString("en-US")} | ${LABEL[peer]} | ${fmt(median(p50.get(peer)!))} | ${fmt(median(p99.get(peer)!))} |`);
        for (const peer of ["jetstream", "redis"] as const) {
          for (const [q, m] of [["p50", p50], ["p99", p99]] as const) {
            const s = median(m.get(strata)!);
            const v = median(m.get(peer)!);
            ratios.push({ metric: `${mode === "ack" ? "publish-to-ack" : "publish-to-consumer"} ${q} at ${rate.toLocaleString("en-US")} records/s (peer / Strata)`, peer: LABEL[peer], strata: `${fmt(s)} ms`, peerValue: `${fmt(v)} ms`, ratio: v / s });
          }
        }
      }
    }
  } finally {
    await servers.stop();
  }
  const loadAfter = loadavg();
  const g = globalThis as { Bun?: { version: string } };
  console.log(`Machine: ${cpus().length} cores, ${cpus()[0]?.model ?? "unknown CPU"}; ${g.Bun ? `Bun ${g.Bun.version}` : process.version}; nats-server ${natsServerVersion() ?? "?"}; redis-server ${redisServerVersion() ?? "?"}; ${ROUNDS} interleaved rounds.`);
  console.log(`Load average (1 min) before / after: ${loadBefore[0]!.toFixed(2)} / ${loadAfter[0]!.toFixed(2)}.\n`);
  console.log(`What an acknowledgement means:\n${peers.map((p) => `- ${GUARANTEES[p]}`).join("\n")}`);
  console.log(lines.join("\n"));
  console.log("");
  for (const r of ratios) reportRatio(r);
  console.log(`\nLatency bench took ${((performance.now() - started) / 1000).toFixed(1)} s.`);
}

await main();
