// Queue bench: claim+ack throughput of 1 KiB tasks, Strata vs NATS JetStream vs Redis Streams,
// side by side in one run.
//   bun bench/queues.ts                      QUEUE_BENCH_SCALE=0.2 bun bench/queues.ts (a quick look)
// Starts a Strata gateway (`strata serve`, child process, temp data dir), Debian's
// `nats-server -js` (file storage, temp store dir) and Debian's `redis-server` (AOF with
// appendfsync always, temp dir; installed with apt-get when missing). For 1 and 4 concurrent
// workers, 3 rounds that alternate between the four runs below, each on a fresh stream filled
// beforehand (not timed):
//   Strata: a stream and a queue group; each worker claims up to BATCH records (MessagePack
//     answer) and acks the claim's receipts in one request. The ack is answered once the settle
//     is committed to the metadata database (libSQL, synchronous=FULL: fsynced). Two workers:
//     "ack, then claim" claims again once its ack is answered; "ack with next claim" sends the
//     next claim while its ack is in flight (at most one ack outstanding), as the peers' workers
//     send their acks with their next read. Both count time until every ack is answered.
//   JetStream: a work-queue stream (retention workqueue, file storage) with a durable pull
//     consumer with explicit acks, driven over the raw protocol (bench/queues/nats-wire.ts): each
//     worker (own connection) pulls BATCH messages and publishes +ACK to each message's reply
//     subject (a batch's acks in one write); the time ends when the stream, polled after the last
//     acks, holds no message (the server deletes a work-queue message when its ack is applied).
//     A +ACK is fire-and-forget, and nats-server 2.9 never fsyncs on the ack path: its file store
//     leaves writes to the OS and forces a sync every 2 minutes (the interval only became
//     configurable, as `sync_interval`, in 2.10; 2.9.10 refuses that key).
//   Redis Streams (the fsyncing peer): XADD to fill, a consumer group, each worker (own
//     connection, raw pipelined RESP client, bench/queues/resp-wire.ts) reads with XREADGROUP
//     COUNT BATCH and sends the read's XACK in the same write as its next XREADGROUP; the time
//     ends when every XACK is answered. With appendfsync always, redis-server writes and fsyncs
//     the AOF (holding the XACK) before it sends that turn's replies.
// Then the TypeScript library's work() loop (Strata only): 100 handlers at once, no-op, over JSON.
// Prints a markdown table of medians (tasks/s) with ratios, versions and the load.
import { cpus, loadavg } from "node:os";
import { natsServerVersion, startGateway, startNats } from "./log/processes.ts";
import { createStream, publish } from "./log/strata.ts";
import { work } from "../gateway/client.ts";
import * as jet from "./queues/jetstream.ts";
import { NatsWire } from "./queues/nats-wire.ts";
import * as redis from "./queues/redis.ts";
import * as strata from "./queues/strata.ts";

const SCALE = Number(process.env.QUEUE_BENCH_SCALE ?? 1);
const TASKS = Math.max(1000, Math.round(20_000 * SCALE));
const TASK_BYTES = 1024;
const BATCH = 100;
const ROUNDS = 3;
const WORKER_COUNTS = [1, 4] as const;

function payload(size: number): Uint8Array {
  const out = new Uint8Array(size);
  for (let i = 0; i < size; i++) out[i] = (i * 31 + 7) & 0xff;
  return out;
}

const median = (xs: readonly number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const fmt = (n: number): string => Math.round(n).toLocaleString("en-US");

const LIBRARY_CONCURRENCY = 100;

/** Tasks/s of one work() loop taking every task of `stream`. */
async function libraryRun(base: string, stream: string): Promise<number> {
  const group = `g-${stream}`;
  const stop = new AbortController();
  let handled = 0;
  const t0 = performance.now();
  const running = work({
    gateway: base,
    group,
    streams: [stream],
    concurrency: LIBRARY_CONCURRENCY,
    visibilityMs: 60_000,
    signal: stop.signal,
    handler: async (record) => {
      const data = record.fields?.data; // every task is published with fields (no tombstones here)
      if (typeof data !== "object" || data === null) throw new Error("work(): a task without its payload");
      if (++handled === TASKS) stop.abort();
    },
  });
  const summary = await running;
  const seconds = (performance.now() - t0) / 1000;
  if (summary.acked !== TASKS || summary.unsettled !== 0) throw new Error(`work(): ${JSON.stringify(summary)}`);
  return TASKS / seconds;
}

type Run = "strata" | "strataOverlap" | "jetstream" | "redis";

async function main(): Promise<void> {
  const loadBefore = loadavg();
  const task = payload(TASK_BYTES);
  const gateway = await startGateway();
  const nats = await startNats();
  const redisServer = await redis.startRedis();
  const admin = await NatsWire.connect(nats.url);
  const redisAdmin = await redis.connect(redisServer);
  const rows: string[] = [];
  try {
    let round = 0;
    for (const workers of WORKER_COUNTS) {
      const rates: Record<Run, number[]> = { strata: [], strataOverlap: [], jetstream: [], redis: [] };
      const opts = { total: TASKS, batch: BATCH, workers, payloadSize: TASK_BYTES };
      for (let r = 0; r < ROUNDS; r++) {
        round++;
        // Strata, claim after the ack is answered, then with the ack beside the next claim.
        for (const overlap of [false, true]) {
          const name = `bench-q${round}${overlap ? "o" : ""}`;
          await createStream(gateway.url, name);
          await publish(gateway.url, name, { total: TASKS, batch: 1000, concurrency: 4, payload: task });
          console.error(`[queue bench] round ${round}: Strata${overlap ? " (ack with next claim)" : ""}, ${workers} worker(s)`); // progress, on stderr
          const sr = await strata.work(gateway.url, `g-${name}`, name, { ...opts, overlap });
          const t = await strata.totals(gateway.url, `g-${name}`);
          if (t.acked !== TASKS || t.in_flight !== 0 || t.redelivered !== 0) throw new Error(`strata round ${round}: ${JSON.stringify(t)}`);
          rates[overlap ? "strataOverlap" : "strata"].push(sr.tasks / sr.seconds);
        }
        // JetStream: fill, then work.
        const name = `bench-q${round}`;
        await jet.createWorkQueue(admin, name, workers * BATCH * 2);
        await jet.publishTasks(admin, name, TASKS, task, 1000);
        console.error(`[queue bench] round ${round}: JetStream, ${workers} worker(s)`);
        const jr = await jet.work(nats.url, name, opts);
        const left = await jet.messagesLeft(admin, name);
        if (left !== 0) throw new Error(`jetstream round ${round}: ${left} messages left after every task was acked`);
        rates.jetstream.push(jr.tasks / jr.seconds);
        // Redis Streams: fill, then work.
        await redis.fill(redisAdmin, name, "workers", TASKS, task, 1000);
        console.error(`[queue bench] round ${round}: Redis Streams, ${workers} worker(s)`);
        const rr = await redis.work(redisServer, name, "workers", opts);
        const pending = await redis.pendingCount(redisAdmin, name, "workers");
        if (pending !== 0) throw new Error(`redis round ${round}: ${pending} entries pending after every task was acked`);
        rates.redis.push(rr.tasks / rr.seconds);
      }
      const m = { strata: median(rates.strata), strataOverlap: median(rates.strataOverlap), jetstream: median(rates.jetstream), redis: median(rates.redis) };
      const best = Math.max(m.strata, m.strataOverlap);
      rows.push(
        `| claim+ack 1 KiB, batches of ${BATCH}, ${workers} worker${workers > 1 ? "s" : ""} | ${fmt(m.strata)} | ${fmt(m.strataOverlap)} | ${fmt(m.redis)} | ${fmt(m.jetstream)} | ${(best / m.redis).toFixed(2)}× | ${(best / m.jetstream).toFixed(2)}× | ` +
          `Strata ${rates.strata.map(fmt).join(" / ")}; overlapped ${rates.strataOverlap.map(fmt).join(" / ")}; Redis ${rates.redis.map(fmt).join(" / ")}; JetStream ${rates.jetstream.map(fmt).join(" / ")} |`,
      );
    }
    // The library's loop (gateway/client/queue-worker.ts): claims as many records as it has free
    // slots, a no-op handler, acks coalesced while one is in flight. Strata only.
    const lib: number[] = [];
    for (let r = 0; r < ROUNDS; r++) {
      const name = `bench-lib${r}`;
      await createStream(gateway.url, name);
      await publish(gateway.url, name, { total: TASKS, batch: 1000, concurrency: 4, payload: task });
      console.error(`[queue bench] work() round ${r + 1}`);
      lib.push(await libraryRun(gateway.url, name));
    }
    rows.push(`| work() loop, concurrency ${LIBRARY_CONCURRENCY}, no-op handler (JSON claims) | – | ${fmt(median(lib))} | – | – | – | – | Strata ${lib.map(fmt).join(" / ")} |`);
  } finally {
    admin.close();
    redisAdmin.close();
    await gateway.stop();
    await nats.stop();
    await redisServer.stop();
  }
  const loadAfter = loadavg();
  const g = globalThis as { Bun?: { version: string } };
  console.log(
    `Machine: ${cpus().length} cores, ${cpus()[0]?.model ?? "unknown CPU"}; runtime ${g.Bun ? `Bun ${g.Bun.version}` : process.version}; nats-server ${natsServerVersion() ?? "?"}; redis-server ${redis.redisServerVersion() ?? "?"}; ${fmt(TASKS)} tasks of ${TASK_BYTES} bytes per round, medians of ${ROUNDS} alternating rounds.`,
  );
  console.log(`Load average (1 min) before / after: ${loadBefore[0]!.toFixed(2)} / ${loadAfter[0]!.toFixed(2)}.\n`);
  console.log("| operation | Strata tasks/s (ack, then claim) | Strata tasks/s (ack with next claim) | Redis Streams tasks/s (AOF fsync always) | JetStream tasks/s | best Strata / Redis | best Strata / JetStream | rounds (tasks/s) |");
  console.log("| --- | ---: | ---: | ---: | ---: | ---: | ---: | --- |");
  for (const row of rows) console.log(row);
  console.log(
    "\nWhat an ack means: Strata answers an ack once the settle is committed (fsynced) in the metadata database, so an acked task survives a crash of the gateway or the machine. Redis with appendonly yes + appendfsync always writes and fsyncs the AOF, which holds the XACK, before it sends the reply: the same guarantee. JetStream's +ACK is fire-and-forget, and nats-server 2.9 does not fsync when it applies it (its file store forces a sync every 2 minutes, not configurable before 2.10), so the acks of up to the last 2 minutes before a machine crash can be lost and those tasks delivered again.",
  );
}

await main();
