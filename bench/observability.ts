// What observability costs a publish (issue 16, goal: at most 3 % apart). Two `strata serve`
// gateways of this build run side by side, measured one at a time in interleaved rounds:
//   on:  request metrics and the access log (JSON Lines, written through the CLI's real stderr
//        sink into a file), spans exported over OTLP/HTTP to a receiver in this process that
//        reads and discards them, and a W3C traceparent on every publish (stored in each record);
//   off: --no-access-log --no-request-metrics, no OTLP endpoint, no traceparent.
// Both take MessagePack publishes of 512-byte records with acks=local from --concurrency requests
// in flight (as many keep-alive connections) in batches of 1 and 100 records. Reported per batch
// size: median records/s and the gateway's CPU per record (from /proc) over --rounds rounds,
// whose order alternates; the ratios on/off go through bench/ratio.ts.
// --breakdown adds a gateway per feature (access log, request metrics, tracing alone).
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

/** Each side's flags; `--breakdown` adds one side per feature to show what each one costs. */
const BREAKDOWN = process.argv.includes("--breakdown");
type Side = "on" | "off" | "access log only" | "request metrics only" | "tracing only";
const OFF = ["--no-access-log", "--no-request-metrics"];
function sideArgs(side: Side, otlp: string): string[] {
  switch (side) {
    case "on":
      return ["--otlp-endpoint", otlp];
    case "off":
      return OFF;
    case "access log only":
      return ["--no-request-metrics"];
    case "request metrics only":
      return ["--no-access-log"];
    case "tracing only":
      return [...OFF, "--otlp-endpoint", otlp];
  }
}
const traced = (side: Side) => side === "on" || side === "tracing only";

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
  const dir = mkdtempSync(join(tmpdir(), `strata-bench-obs-${side.replaceAll(" ", "-")}-`));
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

const traceparents = Array.from({ length: 1024 }, () => `00-${randomBytes(16).toString("hex")}-${randomBytes(8).toString("hex")}-01`);
let nextTraceparent = 0;
const withTraceparent = (): Record<string, string> => ({ traceparent: traceparents[nextTraceparent++ % traceparents.length]! });

interface Sample {
  readonly recordsPerSecond: number;
  readonly cpuMicrosPerRecord: number;
}

async function measure(gateway: Gateway, batch: number, requests: number): Promise<Sample> {
  const payload = new Uint8Array(RECORD_BYTES).fill(0x5a);
  const cpu0 = cpuSeconds(gateway.pid);
  const run = await publish(gateway.url, STREAM, { total: requests * batch, batch, concurrency: CONCURRENCY, payload, ...(traced(gateway.side) ? { headers: withTraceparent } : {}) });
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

const loadBefore = load();
const receiver = await startReceiver();
const sides: Side[] = ["on", "off", ...(BREAKDOWN ? (["access log only", "request metrics only", "tracing only"] as const) : [])];
const gateways = new Map<Side, Gateway>();
for (const side of sides) gateways.set(side, await startGateway(side, ["--log-format", "json", ...sideArgs(side, receiver.url)]));
const gatewayOf = (side: Side): Gateway => gateways.get(side)!;
const rows: string[] = [];
const breakdown: string[] = [];
try {
  for (const g of gateways.values()) await createStream(g.url, STREAM);
  for (const [batch, requests] of [
    [1, REQUESTS_BATCH_1],
    [100, REQUESTS_BATCH_100],
  ] as const) {
    // Warm-up: one untimed round each (JIT, connections, the first segment).
    for (const g of gateways.values()) await measure(g, batch, Math.ceil(requests / 4));
    const samples = new Map<Side, Sample[]>(sides.map((side) => [side, []]));
    for (let round = 0; round < ROUNDS; round++) {
      const order = round % 2 === 0 ? sides : [...sides].reverse();
      for (const side of order) samples.get(side)!.push(await measure(gatewayOf(side), batch, requests));
    }
    const rate = (side: Side) => median(samples.get(side)!.map((s) => s.recordsPerSecond));
    const cpu = (side: Side) => median(samples.get(side)!.map((s) => s.cpuMicrosPerRecord));
    for (const side of sides.slice(2)) breakdown.push(`| ${batch} | ${side} | ${(rate(side) / rate("off")).toFixed(3)} | ${fmt(cpu(side), 1)} | ${fmt(cpu(side) - cpu("off"), 1)} |`);
    const throughputRatio = rate("on") / rate("off");
    const cpuRatio = cpu("off") / cpu("on");
    rows.push(`| ${batch} | ${fmt(rate("on"))} | ${fmt(rate("off"))} | ${throughputRatio.toFixed(3)} | ${fmt(cpu("on"), 1)} | ${fmt(cpu("off"), 1)} | ${cpuRatio.toFixed(3)} |`);
    const metric = `publish ${RECORD_BYTES} B records, batch ${batch}, ${CONCURRENCY} in flight: metrics, access log, OTLP spans and traceparent on`;
    const peer = "the same gateway with all of them off";
    reportRatio({ metric: `${metric} (records/s)`, peer, strata: `${fmt(rate("on"))} records/s`, peerValue: `${fmt(rate("off"))} records/s`, ratio: throughputRatio, goal: `>= ${GOAL}x`, met: throughputRatio >= GOAL });
    reportRatio({ metric: `${metric} (gateway CPU per record, off/on)`, peer, strata: `${fmt(cpu("on"), 1)} µs/record`, peerValue: `${fmt(cpu("off"), 1)} µs/record`, ratio: cpuRatio, goal: `>= ${GOAL}x`, met: cpuRatio >= GOAL });
  }
} finally {
  for (const g of gateways.values()) {
    const logBytes = statSync(g.logFile).size;
    rows.push(`<!-- ${g.side}: ${fmt(logBytes)} bytes of log -->`);
    await g.stop();
  }
  await receiver.close();
}

console.log(`### Observability overhead: publish with metrics, access log and tracing on vs off (Bun ${Bun.version}, strata ${VERSION})\n`);
console.log(`${ROUNDS} interleaved rounds per batch size (order alternating), medians; ${CONCURRENCY} requests in flight; ${RECORD_BYTES}-byte records, MessagePack, acks=local; one gateway process per side.\n`);
console.log("| batch | on: records/s | off: records/s | on/off | on: CPU µs/record | off: CPU µs/record | off/on CPU |");
console.log("|---:|---:|---:|---:|---:|---:|---:|");
for (const row of rows.filter((r) => r.startsWith("|"))) console.log(row);
console.log("");
if (breakdown.length > 0) {
  console.log("| batch | feature alone | records/s vs off | CPU µs/record | CPU µs/record over off |");
  console.log("|---:|---|---:|---:|---:|");
  for (const row of breakdown) console.log(row);
  console.log("");
}
console.log(`OTLP receiver: ${receiver.requests()} export requests, ${fmt(receiver.bytes())} bytes. ${rows.filter((r) => r.startsWith("<!--")).map((r) => r.slice(5, -4)).join("; ")}.`);
console.log(`Load average (1, 5, 15 min): ${loadBefore} before, ${load()} after; ${navigator.hardwareConcurrency} cores.`);
