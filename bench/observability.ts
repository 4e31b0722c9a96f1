// What observability costs a publish (issue 16, goal: at most 3 % apart). `strata serve`
// gateways of this build run side by side, measured one at a time in interleaved rounds:
//   on:        request metrics and the access log (JSON Lines, written through the CLI's real
//              stderr sink into a file), spans exported over OTLP/HTTP to a receiver in this
//              process that reads and discards them, every request traced (--trace-sample-ratio 1);
//   on, 1 %:   the same with head sampling at 1 % (--trace-sample-ratio 0.01);
//   off:       --no-access-log --no-request-metrics, no OTLP endpoint.
// Every side gets the same client workload: a W3C traceparent on every publish (the client's
// data, stored in each record's headers by every gateway). Against "on" every traceparent is
// sampled (flag 01: the client traces everything); against "on, 1 %" one in 100 is (the root's
// head-sampling decision, which a parent-based sampler follows), and "off" is measured with each
// of the two workloads, so each on/off pair sends identical requests.
// All take MessagePack publishes of 512-byte records with acks=local from --concurrency requests
// in flight (as many keep-alive connections) in batches of 1 and 100 records. Reported per batch
// size: median records/s and the gateway's CPU per record (from /proc) over --rounds rounds,
// whose order alternates; the ratios on/off go through bench/ratio.ts.
// --breakdown adds a gateway per feature (access log, request metrics, tracing at ratio 1 alone).
//   bun bench/observability.ts [--rounds 9] [--requests 8000] [--batches 1000] [--concurrency 16] [--breakdown]
import { randomBytes } from "node:crypto";
import { spawn } from "node:child_process";
import { closeSync, mkdtempSync, openSync, readFileSync, rmSync, statSync } from "node:fs";
import { createServer, type Server } from "node:http";
import { loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import { intArg } from "./args.ts";
import { ROOT } from "./log/processes.ts";
import { createStream, publish } from "./log/strata.ts";
import { reportRatio } from "./ratio.ts";
import { VERSION } from "../cli/version.ts";

const ROUNDS = intArg("rounds", 9);
const REQUESTS_BATCH_1 = intArg("requests", 8000);
const REQUESTS_BATCH_100 = intArg("batches", 1000);
const CONCURRENCY = intArg("concurrency", 16);
const RECORD_BYTES = 512;
const GOAL = 0.97;
const STREAM = "bench/observability";

/** Each gateway's flags; `--breakdown` adds one gateway per feature to show what each one costs. */
const BREAKDOWN = process.argv.includes("--breakdown");
type Side = "on" | "on, 1 %" | "off" | "access log only" | "request metrics only" | "tracing only";
const OFF = ["--no-access-log", "--no-request-metrics"];
const HEAD_SAMPLE_RATIO = 0.01;
function sideArgs(side: Side, otlp: string): string[] {
  switch (side) {
    case "on":
      return ["--otlp-endpoint", otlp, "--trace-sample-ratio", "1"];
    case "on, 1 %":
      return ["--otlp-endpoint", otlp, "--trace-sample-ratio", String(HEAD_SAMPLE_RATIO)];
    case "off":
      return OFF;
    case "access log only":
      return ["--no-request-metrics"];
    case "request metrics only":
      return ["--no-access-log"];
    case "tracing only":
      return [...OFF, "--otlp-endpoint", otlp, "--trace-sample-ratio", "1"];
  }
}

/** The client's traceparents: every one sampled, or one in 100 (a client head-sampling at 1 %). */
type Workload = "all sampled" | "1 % sampled";
/** One measurement of a round: a gateway under a workload. */
interface Run {
  readonly key: string;
  readonly side: Side;
  readonly workload: Workload;
}
const RUNS: readonly Run[] = [
  { key: "on", side: "on", workload: "all sampled" },
  { key: "off", side: "off", workload: "all sampled" },
  { key: "on, 1 %", side: "on, 1 %", workload: "1 % sampled" },
  { key: "off, 1 % workload", side: "off", workload: "1 % sampled" },
  ...(BREAKDOWN ? (["access log only", "request metrics only", "tracing only"] as const).map((side): Run => ({ key: side, side, workload: "all sampled" })) : []),
];

interface Gateway {
  readonly side: Side;
  readonly url: string;
  readonly pid: number;
  readonly logFile: string;
  stop(): Promise<void>;
}

interface Receiver {
  readonly url: string;
  readonly requests: () => number;
  readonly bytes: () => number;
  close(): Promise<void>;
}

/** An OTLP/HTTP collector stand-in: reads each export and answers an empty success. */
async function startReceiver(): Promise<Receiver> {
  let requests = 0;
  let bytes = 0;
  const server: Server = createServer((req, res) => {
    req.on("data", (d: Buffer) => (bytes += d.length));
    req.on("end", () => {
      requests++;
      res.writeHead(200, { "content-type": "application/json" }).end("{}");
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const address = server.address();
  if (address === null || typeof address === "string") throw new Error("the OTLP receiver has no port");
  return {
    url: `http://127.0.0.1:${address.port}/v1/traces`,
    requests: () => requests,
    bytes: () => bytes,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

/** `strata serve` with its stderr (the log) in a file, so the log is written as in production. */
async function startGateway(side: Side, args: string[]): Promise<Gateway> {
  const dir = mkdtempSync(join(tmpdir(), `strata-bench-obs-${side.replace(/[^a-z0-9]+/g, "-")}-`));
  const logFile = join(dir, "gateway.log");
  const logFd = openSync(logFile, "w");
  const child = spawn(process.execPath, [join(ROOT, "cli/main.ts"), "serve", "--data", join(dir, "data"), "--port", "0", ...args], { cwd: ROOT, stdio: ["ignore", "pipe", logFd] });
  closeSync(logFd);
  const url = await new Promise<string>((resolve, reject) => {
    let out = "";
    child.stdout!.on("data", (d: Buffer) => {
      out += d.toString();
      const match = /listening on (http:\/\/\S+)/.exec(out);
      if (match) resolve(match[1]!);
    });
    child.once("exit", (code) => reject(new Error(`the ${side} gateway exited with ${code} before listening:\n${out}\n${readFileSync(logFile, "utf8")}`)));
  });
  return {
    side,
    url,
    pid: child.pid!,
    logFile,
    async stop() {
      const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
      child.kill("SIGTERM");
      await exited;
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** User plus system CPU seconds of a process so far (Linux /proc, clock ticks of 1/100 s). */
function cpuSeconds(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

const traceparentPool = (sampledEvery: number): string[] =>
  Array.from({ length: 1000 }, (_, i) => `00-${randomBytes(16).toString("hex")}-${randomBytes(8).toString("hex")}-${i % sampledEvery === 0 ? "01" : "00"}`);
const TRACEPARENTS: Record<Workload, readonly string[]> = { "all sampled": traceparentPool(1), "1 % sampled": traceparentPool(Math.round(1 / HEAD_SAMPLE_RATIO)) };
let nextTraceparent = 0;
const traceparentHeaders = (workload: Workload) => (): Record<string, string> => {
  const pool = TRACEPARENTS[workload];
  return { traceparent: pool[nextTraceparent++ % pool.length]! };
};

interface Sample {
  readonly recordsPerSecond: number;
  readonly cpuMicrosPerRecord: number;
}

async function measure(gateway: Gateway, workload: Workload, batch: number, requests: number): Promise<Sample> {
  const payload = new Uint8Array(RECORD_BYTES).fill(0x5a);
  const cpu0 = cpuSeconds(gateway.pid);
  const run = await publish(gateway.url, STREAM, { total: requests * batch, batch, concurrency: CONCURRENCY, payload, headers: traceparentHeaders(workload) });
  const cpu = cpuSeconds(gateway.pid) - cpu0;
  return { recordsPerSecond: run.records / run.seconds, cpuMicrosPerRecord: (cpu * 1e6) / run.records };
}

function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

const fmt = (n: number, digits = 0) => n.toLocaleString("en-US", { minimumFractionDigits: digits, maximumFractionDigits: digits });
const load = () => loadavg().map((l) => l.toFixed(2)).join(" ");

function packageVersion(name: string): string {
  const v: unknown = JSON.parse(readFileSync(join(ROOT, "node_modules", name, "package.json"), "utf8"));
  return typeof v === "object" && v !== null && "version" in v && typeof v.version === "string" ? v.version : "?";
}

const loadBefore = load();
const receiver = await startReceiver();
const sides = [...new Set(RUNS.map((r) => r.side))];
const gateways = new Map<Side, Gateway>();
for (const side of sides) gateways.set(side, await startGateway(side, ["--log-format", "json", ...sideArgs(side, receiver.url)]));
const gatewayOf = (side: Side): Gateway => gateways.get(side)!;
const rows: string[] = [];
const breakdown: string[] = [];
const logSizes: string[] = [];
/** The comparisons reported: each "on" run against "off" under the same workload. */
const PAIRS = [
  { on: "on", off: "off", what: "metrics, access log and OTLP spans on, every request traced (traceSampleRatio 1)" },
  { on: "on, 1 %", off: "off, 1 % workload", what: `metrics, access log and OTLP spans on, head sampling at ${HEAD_SAMPLE_RATIO * 100} % (traceSampleRatio ${HEAD_SAMPLE_RATIO}, 1 in 100 client traceparents sampled)` },
] as const;
try {
  for (const g of gateways.values()) await createStream(g.url, STREAM);
  for (const [batch, requests] of [
    [1, REQUESTS_BATCH_1],
    [100, REQUESTS_BATCH_100],
  ] as const) {
    // Warm-up: one untimed round each (JIT, connections, the first segment).
    for (const run of RUNS) await measure(gatewayOf(run.side), run.workload, batch, Math.ceil(requests / 4));
    const samples = new Map<string, Sample[]>(RUNS.map((run) => [run.key, []]));
    for (let round = 0; round < ROUNDS; round++) {
      const order = round % 2 === 0 ? RUNS : [...RUNS].reverse();
      for (const run of order) samples.get(run.key)!.push(await measure(gatewayOf(run.side), run.workload, batch, requests));
    }
    const rate = (key: string) => median(samples.get(key)!.map((s) => s.recordsPerSecond));
    const cpu = (key: string) => median(samples.get(key)!.map((s) => s.cpuMicrosPerRecord));
    for (const run of RUNS.slice(4)) breakdown.push(`| ${batch} | ${run.key} | ${(rate(run.key) / rate("off")).toFixed(3)} | ${fmt(cpu(run.key), 1)} | ${fmt(cpu(run.key) - cpu("off"), 1)} |`);
    for (const pair of PAIRS) {
      const throughputRatio = rate(pair.on) / rate(pair.off);
      const cpuRatio = cpu(pair.off) / cpu(pair.on);
      rows.push(`| ${batch} | ${pair.on} | ${fmt(rate(pair.on))} | ${fmt(rate(pair.off))} | ${throughputRatio.toFixed(3)} | ${fmt(cpu(pair.on), 1)} | ${fmt(cpu(pair.off), 1)} | ${cpuRatio.toFixed(3)} |`);
      const metric = `publish ${RECORD_BYTES} B records with a traceparent, batch ${batch}, ${CONCURRENCY} in flight: ${pair.what}`;
      const peer = "the same gateway with all of them off, same requests";
      reportRatio({ metric: `${metric} (records/s)`, peer, strata: `${fmt(rate(pair.on))} records/s`, peerValue: `${fmt(rate(pair.off))} records/s`, ratio: throughputRatio, goal: `>= ${GOAL}x`, met: throughputRatio >= GOAL });
      reportRatio({ metric: `${metric} (gateway CPU per record, off/on)`, peer, strata: `${fmt(cpu(pair.on), 1)} µs/record`, peerValue: `${fmt(cpu(pair.off), 1)} µs/record`, ratio: cpuRatio, goal: `>= ${GOAL}x`, met: cpuRatio >= GOAL });
    }
  }
} finally {
  for (const g of gateways.values()) {
    logSizes.push(`${g.side}: ${fmt(statSync(g.logFile).size)} bytes of log`);
    await g.stop();
  }
  await receiver.close();
}

console.log(`### Observability overhead: publish with metrics, access log and tracing on vs off (Bun ${Bun.version}, strata ${VERSION}, @opentelemetry/sdk-trace ${packageVersion("@opentelemetry/sdk-trace")}, prom-client ${packageVersion("prom-client")}, @logtape/logtape ${packageVersion("@logtape/logtape")})\n`);
console.log(`${ROUNDS} interleaved rounds per batch size (order alternating), medians; ${CONCURRENCY} requests in flight; ${RECORD_BYTES}-byte records, MessagePack, acks=local, a traceparent on every request on every side; one gateway process per configuration.`);
console.log(`"on, 1 %" is head sampling: the gateway keeps ${HEAD_SAMPLE_RATIO * 100} % of root requests and follows the traceparent's sampled flag (set on 1 in 100 of that workload); its "off" is the same off gateway under the same requests.\n`);
console.log("| batch | on side | on: records/s | off: records/s | on/off | on: CPU µs/record | off: CPU µs/record | off/on CPU |");
console.log("|---:|---|---:|---:|---:|---:|---:|---:|");
for (const row of rows) console.log(row);
console.log("");
if (breakdown.length > 0) {
  console.log("| batch | feature alone (every request traced) | records/s vs off | CPU µs/record | CPU µs/record over off |");
  console.log("|---:|---|---:|---:|---:|");
  for (const row of breakdown) console.log(row);
  console.log("");
}
console.log(`OTLP receiver: ${receiver.requests()} export requests, ${fmt(receiver.bytes())} bytes. ${logSizes.join("; ")}.`);
console.log(`Load average (1, 5, 15 min): ${loadBefore} before, ${load()} after; ${navigator.hardwareConcurrency} cores.`);
