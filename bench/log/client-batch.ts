// Gateway CPU per record of a publish of 1000 x 1 KiB records, in one run against one gateway
// process: the MessagePack body (the gateway decodes, checks and encodes each record into a
// batch: the path before client-built batches) against the client-built batch (the gateway
// checks the batch and appends its bytes). Rounds alternate between the two; medians. CPU is the
// gateway process's user + system time from /proc, so the client's own work is not counted.
// Run: node_modules/.bin/bun bench/log/client-batch.ts [--rounds 5] [--requests 60]
import { readFileSync } from "node:fs";
import { loadavg } from "node:os";
import { encode } from "@msgpack/msgpack";
import { buildClientBatch, CLIENT_BATCH_MEDIA_TYPE, type ClientBatchRecord } from "../../core/log/client-batch.ts";
import { extensionCodec } from "../../core/log/extensions.ts";
import { reportRatio } from "../ratio.ts";
import { startGateway } from "./processes.ts";

const args = process.argv.slice(2);
const option = (name: string, fallback: number): number => {
  const at = args.indexOf(`--${name}`);
  return at >= 0 ? Number(args[at + 1]) : fallback;
};
const ROUNDS = option("rounds", 5);
const REQUESTS = option("requests", 60);
const RECORDS = 1000;
const TICKS_PER_SECOND = 100; // Linux USER_HZ

/** The gateway process's user and system CPU time so far, in microseconds. */
function cpuMicros(pid: number): { user: number; system: number } {
  const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return { user: (Number(fields[11]) * 1e6) / TICKS_PER_SECOND, system: (Number(fields[12]) * 1e6) / TICKS_PER_SECOND };
}

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

const payload = new Uint8Array(1000).fill(7);
const records: ClientBatchRecord[] = Array.from({ length: RECORDS }, (_, i) => ({ key: null, headers: {}, fields: { i, data: payload } }));
const bodies = {
  msgpack: { type: "application/msgpack", bytes: encode({ records }, { extensionCodec }) },
  batch: { type: CLIENT_BATCH_MEDIA_TYPE, bytes: buildClientBatch(records).slice() },
};
type Form = keyof typeof bodies;

console.log(`load before: ${loadavg().map((l) => l.toFixed(2)).join(" ")}`);
const gateway = await startGateway();
try {
  const create = await fetch(`${gateway.url}/v1/streams`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ name: "cb", partitions: 1 }) });
  if (!create.ok) throw new Error(`create: HTTP ${create.status}`);
  const url = `${gateway.url}/v1/streams/cb/records`;
  const publish = async (form: Form): Promise<void> => {
    const response = await fetch(url, { method: "POST", headers: { "content-type": bodies[form].type }, body: bodies[form].bytes });
    if (!response.ok) throw new Error(`${form}: HTTP ${response.status} ${await response.text()}`);
    await response.arrayBuffer();
  };
  const results: Record<Form, { cpuPerRecord: number[]; userPerRecord: number[]; recordsPerSecond: number[] }> = {
    msgpack: { cpuPerRecord: [], userPerRecord: [], recordsPerSecond: [] },
    batch: { cpuPerRecord: [], userPerRecord: [], recordsPerSecond: [] },
  };
  for (const form of ["msgpack", "batch"] as const) for (let i = 0; i < 5; i++) await publish(form); // warm-up
  for (let round = 0; round < ROUNDS; round++) {
    for (const form of round % 2 === 0 ? (["msgpack", "batch"] as const) : (["batch", "msgpack"] as const)) {
      const cpu0 = cpuMicros(gateway.pid);
      const t0 = performance.now();
      for (let i = 0; i < REQUESTS; i++) await publish(form);
      const seconds = (performance.now() - t0) / 1000;
      const cpu1 = cpuMicros(gateway.pid);
      results[form].cpuPerRecord.push((cpu1.user + cpu1.system - cpu0.user - cpu0.system) / (REQUESTS * RECORDS));
      results[form].userPerRecord.push((cpu1.user - cpu0.user) / (REQUESTS * RECORDS));
      results[form].recordsPerSecond.push((REQUESTS * RECORDS) / seconds);
    }
  }
  const summary = (form: Form) => ({ cpu: median(results[form].cpuPerRecord), user: median(results[form].userPerRecord), rate: median(results[form].recordsPerSecond) });
  const m = { msgpack: summary("msgpack"), batch: summary("batch") };
  console.log(`\nPublish 1000 x 1 KiB records per request, one request at a time, acks=local; ${ROUNDS} alternating rounds of ${REQUESTS} requests, medians. Bun ${Bun.version}.\n`);
  console.log("| body | gateway CPU per record | of it user | records/s |");
  console.log("|---|---:|---:|---:|");
  console.log(`| MessagePack (gateway encodes the batch) | ${m.msgpack.cpu.toFixed(2)} us | ${m.msgpack.user.toFixed(2)} us | ${Math.round(m.msgpack.rate).toLocaleString("en")} |`);
  console.log(`| client-built batch | ${m.batch.cpu.toFixed(2)} us | ${m.batch.user.toFixed(2)} us | ${Math.round(m.batch.rate).toLocaleString("en")} |`);
  console.log(`| ratio (batch vs MessagePack) | ${(m.msgpack.cpu / m.batch.cpu).toFixed(2)}x less CPU | ${(m.msgpack.user / m.batch.user).toFixed(2)}x less | ${(m.batch.rate / m.msgpack.rate).toFixed(2)}x |`);
  reportRatio({ metric: "publish 1000 x 1 KiB: gateway CPU per record", peer: "Strata MessagePack publish (before client-built batches)", strata: `${m.batch.cpu.toFixed(2)} us/record`, peerValue: `${m.msgpack.cpu.toFixed(2)} us/record`, ratio: m.msgpack.cpu / m.batch.cpu });
  reportRatio({ metric: "publish 1000 x 1 KiB: records/s, one request at a time", peer: "Strata MessagePack publish (before client-built batches)", strata: `${Math.round(m.batch.rate)} records/s`, peerValue: `${Math.round(m.msgpack.rate)} records/s`, ratio: m.batch.rate / m.msgpack.rate });
} finally {
  await gateway.stop();
  console.log(`\nload after: ${loadavg().map((l) => l.toFixed(2)).join(" ")}`);
}
