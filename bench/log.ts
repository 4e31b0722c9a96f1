// Log bench: Strata vs NATS JetStream, side by side in one run, same runtime (Bun).
//   bun bench/log.ts            (also run by `npm run bench` / `bun bench/run.ts log`)
//   LOG_BENCH_SCALE=0.2 bun bench/log.ts   (smaller counts for a quick look)
// Starts a Strata gateway (`strata serve`, child process, temp data dir) and Debian's
// `nats-server -js` (file storage, temp store dir, random loopback port), then for 1 KiB records:
//   publish in batches of 1, 100 and 1000 (Strata: HTTP POST of MessagePack bodies, `acks=local`,
//   several requests in flight; JetStream: async js.publish with the same number of records
//   outstanding), then read everything back (Strata: GET of partition records as MessagePack,
//   one reader; JetStream: an ordered consumer). Then 1 MiB records read by one reader.
// Prints markdown tables: records/s, MB/s (10^6 bytes of record payload) and Strata / JetStream.
import { cpus, loadavg } from "node:os";
import { readFileSync } from "node:fs";
import { durableAppendMBps } from "./log/disk.ts";
import * as jet from "./log/jetstream.ts";
import { natsServerVersion, startGateway, startNats, type ServerProcess } from "./log/processes.ts";
import * as strata from "./log/strata.ts";
import type { Measured } from "./log/strata.ts";

const KiB = 1024;
const MiB = 1024 * KiB;
const SCALE = Number(process.env.LOG_BENCH_SCALE ?? 1);
const scaled = (n: number, min: number): number => Math.max(min, Math.round(n * SCALE));

/** Publish scenarios for 1 KiB records. `concurrency` is Strata requests in flight; JetStream keeps batch × concurrency acks outstanding. */
const SCENARIOS = [
  { batch: 1, total: scaled(20_000, 1_000), concurrency: 64 },
  { batch: 100, total: scaled(200_000, 10_000), concurrency: 8 },
  { batch: 1000, total: scaled(300_000, 10_000), concurrency: 4 },
] as const;
/** The same load spread over 4 partitions (Strata) and 4 streams (JetStream). */
const SPREAD = { batch: 1000, total: scaled(300_000, 10_000), concurrency: 8, partitions: 4 } as const;
const WARMUP_RECORDS = scaled(20_000, 2_000);
const SMALL = 1 * KiB;
const READ_MAX_RECORDS = 10_000; // the gateway's per-fetch record limit
const READ_MAX_BYTES = 16 * MiB; // the storage engine's per-fetch byte bound
const JS_READ_BATCH = 10_000; // JetStream: messages per ordered-consumer fetch (as Strata's records per GET)

const LARGE = 1 * MiB;
const LARGE_RECORDS = scaled(512, 32);
const LARGE_BATCH = 8;
const LARGE_CONCURRENCY = 2;
const LARGE_READ_PASSES = 3;

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

/** CPU seconds (user + system) a process has used so far, from /proc (Linux). */
function cpuSeconds(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return (Number(fields[11]) + Number(fields[12])) / 100; // utime, stime in clock ticks (USER_HZ 100)
}
function selfCpuSeconds(): number {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1e6;
}

interface Row {
  readonly operation: string;
  readonly strata?: Measured;
  readonly jetstream?: Measured;
  readonly note: string;
  readonly cpu: { strata?: Cpu; jetstream?: Cpu };
}
interface Cpu {
  readonly server: number;
  readonly client: number;
}

const benchStart = performance.now();
async function timed<T>(server: ServerProcess, label: string, fn: () => Promise<T>): Promise<{ result: T; cpu: Cpu }> {
  console.error(`[log bench ${((performance.now() - benchStart) / 1000).toFixed(1)} s] ${label}`); // progress, on stderr
  const s0 = cpuSeconds(server.pid);
  const c0 = selfCpuSeconds();
  const result = await fn();
  return { result, cpu: { server: cpuSeconds(server.pid) - s0, client: selfCpuSeconds() - c0 } };
}

const fmtInt = (n: number): string => Math.round(n).toLocaleString("en-US");
const fmtMB = (m: Measured): string => (m.payloadBytes / 1e6 / m.seconds).toLocaleString("en-US", { maximumFractionDigits: 1 });
const rate = (m: Measured): number => m.records / m.seconds;

function table(rows: readonly Row[]): string {
  const lines = [
    "| operation | Strata records/s | Strata MB/s | JetStream records/s | JetStream MB/s | Strata / JetStream | setup |",
    "| --- | ---: | ---: | ---: | ---: | ---: | --- |",
  ];
  for (const r of rows) {
    const s = r.strata;
    const j = r.jetstream;
    lines.push(
      `| ${r.operation} | ${s ? fmtInt(rate(s)) : "–"} | ${s ? fmtMB(s) : "–"} | ${j ? fmtInt(rate(j)) : "–"} | ${j ? fmtMB(j) : "–"} | ${s && j ? `${(rate(s) / rate(j)).toFixed(2)}×` : "–"} | ${r.note} |`,
    );
  }
  return lines.join("\n");
}

function cpuTable(rows: readonly Row[]): string {
  const lines = [
    "| operation | Strata gateway CPU s | bench client CPU s (Strata) | nats-server CPU s | bench client CPU s (JetStream) | wall s Strata / JetStream |",
    "| --- | ---: | ---: | ---: | ---: | ---: |",
  ];
  const f = (n: number | undefined): string => (n === undefined ? "–" : n.toFixed(2));
  for (const r of rows) {
    lines.push(
      `| ${r.operation} | ${f(r.cpu.strata?.server)} | ${f(r.cpu.strata?.client)} | ${f(r.cpu.jetstream?.server)} | ${f(r.cpu.jetstream?.client)} | ${f(r.strata?.seconds)} / ${f(r.jetstream?.seconds)} |`,
    );
  }
  return lines.join("\n");
}

async function main(): Promise<void> {
  const started = performance.now();
  const loadBefore = loadavg();
  const disk = await durableAppendMBps(scaled(256, 32) * MiB, 1 * MiB);
  const diskWal = await durableAppendMBps(scaled(256, 32) * MiB, 2 * MiB, { dsync: true, inFlight: 2 });
  const gateway = await startGateway();
  const nats = await startNats();
  const js = await jet.openJetStream(nats.url);
  const rows: Row[] = [];
  try {
    const small = payload(SMALL, 7);
    // Warm-up (JIT, connections, first files) on both sides; not measured.
    await strata.createStream(gateway.url, "warmup");
    await js.createStream("warmup");
    await strata.publish(gateway.url, "warmup", { total: WARMUP_RECORDS, batch: 100, concurrency: 8, payload: small });
    await jet.publish(js.js, "warmup", { total: WARMUP_RECORDS, window: 800, payload: small });
    await strata.read(gateway.url, "warmup", { total: WARMUP_RECORDS, maxRecords: READ_MAX_RECORDS, maxBytes: READ_MAX_BYTES, payloadSize: SMALL });
    await jet.read(js.js, "warmup", { total: WARMUP_RECORDS, maxMessages: JS_READ_BATCH, payloadSize: SMALL });

    const published: { name: string; total: number; batch: number }[] = [];
    for (const sc of SCENARIOS) {
      const name = `bench-b${sc.batch}`;
      await strata.createStream(gateway.url, name);
      await js.createStream(name);
      const window = sc.batch * sc.concurrency;
      const s = await timed(gateway, "Strata publish", () => strata.publish(gateway.url, name, { total: sc.total, batch: sc.batch, concurrency: sc.concurrency, payload: small }));
      const j = await timed(nats, "JetStream publish", () => jet.publish(js.js, name, { total: sc.total, window, payload: small }));
      rows.push({
        operation: `publish 1 KiB, batch ${sc.batch}`,
        strata: s.result,
        jetstream: j.result,
        note: `${fmtInt(sc.total)} records; Strata ${sc.concurrency} requests in flight; JetStream ${window} acks outstanding`,
        cpu: { strata: s.cpu, jetstream: j.cpu },
      });
      published.push({ name, total: sc.total, batch: sc.batch });
    }
    {
      const sc = SPREAD;
      const name = `bench-spread`;
      const jsNames = Array.from({ length: sc.partitions }, (_, i) => `${name}-${i}`);
      await strata.createStream(gateway.url, name, sc.partitions);
      for (const n of jsNames) await js.createStream(n);
      const window = sc.batch * sc.concurrency;
      const s = await timed(gateway, "Strata publish", () => strata.publish(gateway.url, name, { total: sc.total, batch: sc.batch, concurrency: sc.concurrency, payload: small }));
      const j = await timed(nats, "JetStream publish", () => jet.publish(js.js, jsNames, { total: sc.total, window, payload: small }));
      rows.push({
        operation: `publish 1 KiB, batch ${sc.batch}, ${sc.partitions} partitions / streams`,
        strata: s.result,
        jetstream: j.result,
        note: `${fmtInt(sc.total)} records; Strata ${sc.concurrency} requests in flight over ${sc.partitions} partitions (unkeyed: one partition per request, round robin); JetStream ${window} acks outstanding over ${sc.partitions} streams`,
        cpu: { strata: s.cpu, jetstream: j.cpu },
      });
    }
    for (const p of published) {
      const s = await timed(gateway, "Strata read", () => strata.read(gateway.url, p.name, { total: p.total, maxRecords: READ_MAX_RECORDS, maxBytes: READ_MAX_BYTES, payloadSize: SMALL }));
      const j = await timed(nats, "JetStream read", () => jet.read(js.js, p.name, { total: p.total, maxMessages: JS_READ_BATCH, payloadSize: SMALL }));
      rows.push({
        operation: `read 1 KiB (written in batches of ${p.batch})`,
        strata: s.result,
        jetstream: j.result,
        note: `${fmtInt(p.total)} records; one reader; Strata ${s.result.requests} GETs of ≤ ${fmtInt(READ_MAX_RECORDS)} records; JetStream ${j.result.requests} ordered-consumer fetches of ≤ ${fmtInt(JS_READ_BATCH)}`,
        cpu: { strata: s.cpu, jetstream: j.cpu },
      });
    }

    // 1 MiB records: one reader over loopback HTTP (goal ≥ 1 GB/s).
    const large = payload(LARGE, 11);
    const bigName = "bench-1mib";
    await strata.createStream(gateway.url, bigName);
    await js.createStream(bigName);
    const sp = await timed(gateway, "Strata publish", () => strata.publish(gateway.url, bigName, { total: LARGE_RECORDS, batch: LARGE_BATCH, concurrency: LARGE_CONCURRENCY, payload: large }));
    const jp = await timed(nats, "JetStream publish", () => jet.publish(js.js, bigName, { total: LARGE_RECORDS, window: LARGE_BATCH * LARGE_CONCURRENCY, payload: large }));
    rows.push({
      operation: `publish 1 MiB, batch ${LARGE_BATCH}`,
      strata: sp.result,
      jetstream: jp.result,
      note: `${LARGE_RECORDS} records; Strata ${LARGE_CONCURRENCY} requests in flight; JetStream ${LARGE_BATCH * LARGE_CONCURRENCY} acks outstanding`,
      cpu: { strata: sp.cpu, jetstream: jp.cpu },
    });
    const passes: Measured[] = [];
    const jpasses: Measured[] = [];
    const readCpu: Cpu[] = [];
    const jreadCpu: Cpu[] = [];
    for (let i = 0; i < LARGE_READ_PASSES; i++) {
      const s = await timed(gateway, "Strata read", () => strata.read(gateway.url, bigName, { total: LARGE_RECORDS, maxRecords: READ_MAX_RECORDS, maxBytes: READ_MAX_BYTES, payloadSize: LARGE }));
      passes.push(s.result);
      readCpu.push(s.cpu);
      const j = await timed(nats, "JetStream read", () => jet.read(js.js, bigName, { total: LARGE_RECORDS, maxMessages: 16, payloadSize: LARGE }));
      jpasses.push(j.result);
      jreadCpu.push(j.cpu);
    }
    const sum = (ms: Measured[]): Measured => ({ records: ms.reduce((n, m) => n + m.records, 0), payloadBytes: ms.reduce((n, m) => n + m.payloadBytes, 0), seconds: ms.reduce((n, m) => n + m.seconds, 0) });
    const sumCpu = (cs: Cpu[]): Cpu => ({ server: cs.reduce((n, c) => n + c.server, 0), client: cs.reduce((n, c) => n + c.client, 0) });
    rows.push({
      operation: "read 1 MiB, one reader",
      strata: sum(passes),
      jetstream: sum(jpasses),
      note: `${LARGE_READ_PASSES} passes over ${LARGE_RECORDS} records (per pass Strata ${passes.map((m) => fmtMB(m)).join(" / ")} MB/s); Strata GETs of ≤ 16 MiB; JetStream ordered-consumer fetches of ≤ 16 messages`,
      cpu: { strata: sumCpu(readCpu), jetstream: sumCpu(jreadCpu) },
    });
  } finally {
    await js.close().catch(() => undefined);
    await gateway.stop();
    await nats.stop();
  }

  const loadAfter = loadavg();
  const publishRows = rows.filter((r) => r.operation.startsWith("publish 1 KiB"));
  const onePartition = publishRows.filter((r) => !r.operation.includes("partitions"));
  const bestStrata1 = Math.max(...onePartition.filter((r) => !r.operation.endsWith("batch 1")).map((r) => rate(r.strata!)));
  const spread = rate(publishRows.find((r) => r.operation.includes("partitions"))!.strata!);
  const bestStrata = Math.max(bestStrata1, spread);
  const bestJs = Math.max(...publishRows.map((r) => rate(r.jetstream!)));
  const bigRead = rows[rows.length - 1]!.strata!;
  const g = globalThis as { Bun?: { version: string } };
  console.log(`Machine: ${cpus().length} cores (nproc), ${cpus()[0]?.model ?? "unknown CPU"}; runtime ${g.Bun ? `Bun ${g.Bun.version}` : process.version}; nats-server ${natsServerVersion() ?? "?"}; scale ${SCALE}.`);
  console.log(`Load average (1 min) before / after: ${loadBefore[0]!.toFixed(2)} / ${loadAfter[0]!.toFixed(2)}. Durable append ceiling of the temp filesystem (1 MiB write + fdatasync, this runtime): ${disk.mbps.toFixed(0)} MB/s (${disk.syncs} syncs in ${disk.seconds.toFixed(2)} s); in the WAL's pattern (2 MiB O_DSYNC writes, 2 in flight): ${diskWal.mbps.toFixed(0)} MB/s (${diskWal.syncs} writes in ${diskWal.seconds.toFixed(2)} s).\n`);
  console.log(table(rows));
  console.log(`\nCPU seconds spent per phase (server process from /proc, bench client = this process, which runs both clients):\n`);
  console.log(cpuTable(rows));
  console.log(`\nGoals:`);
  console.log(`- batched publish ≥ 400,000 records/s: best batched Strata ${fmtInt(bestStrata1)} records/s on one partition, ${fmtInt(spread)} over ${SPREAD.partitions} partitions → ${bestStrata >= 400_000 ? "met" : "missed"}`);
  console.log(`- ≥ 10× JetStream async publish (its best row here, ${fmtInt(bestJs)} records/s): ${(bestStrata / bestJs).toFixed(2)}× (best Strata batched row) → ${bestStrata >= 10 * bestJs ? "met" : "missed"}`);
  console.log(`- one reader of 1 MiB records ≥ 1 GB/s: ${fmtMB(bigRead)} MB/s → ${bigRead.payloadBytes / bigRead.seconds >= 1e9 ? "met" : "missed"}`);
  console.log(`\nLog bench took ${((performance.now() - started) / 1000).toFixed(1)} s.`);
}

await main();
