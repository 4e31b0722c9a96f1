// Read-path bench: one Bun reader of 1 MiB records against iperf3 loopback and `cat` from the page
// cache, side by side in one run (issue 11, scope 4).
//   bun bench/read-path.ts
//   READ_BENCH_MIB=256 bun bench/read-path.ts          (a smaller stream for a quick look)
//   READ_BENCH_BASELINE=DIR bun bench/read-path.ts     (also a gateway from another checkout, e.g. the
//                                                       commit before a change, in the same rounds)
// Starts `strata serve` (this runtime, temp data dirs) twice per checkout: one with the default
// 64 MiB segments, whose sealed segments are uploaded and kept in the local segment cache, and
// one with 2 GiB segments, so that the whole stream stays in the active WAL. Publishes the same
// READ_BENCH_MIB records of 1 MiB to each, waits for the uploads, then in each of 3 rounds (the
// order alternates) measures:
//   - one reader reading the stream from offset 0 to the end with MessagePack GETs of up to
//     16 MiB (max_bytes), decoding every answer: with fetch (bench/log/strata.ts read), and with
//     a keep-alive socket that reads each body with one copy (RawHttpReader);
//   - iperf3 loopback, one TCP stream, the same number of bytes (Debian iperf3, installed with
//     apt-get when missing and running as root);
//   - `cat FILE > /dev/null` of a file of the same size, already in the page cache.
// Prints the medians in GB/s (10^9 bytes of record payload / s) with ratios to iperf3 and cat, the
// CPU seconds per GB of each gateway and of the socket reader (where the time goes),
// the Bun version and the load average, and one reportRatio line per tier of this checkout (the
// socket reader, whose body handling is one copy, vs iperf3; goal >= 0.6x).
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { cpus, loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { Decoder } from "@msgpack/msgpack";
import { createStream, publish, read } from "./log/strata.ts";
import { waitForLine } from "./log/processes.ts";
import { reportRatio } from "./ratio.ts";

const MiB = 1024 * 1024;
const RECORDS = Number(process.env.READ_BENCH_MIB ?? 1024);
const RECORD_BYTES = MiB;
const READ_MAX_BYTES = 16 * MiB;
const ROUNDS = 3;
const ROOT = fileURLToPath(new URL("..", import.meta.url));
const STREAM = "read-bench";
const decoder = new Decoder({ maxBinLength: 1 << 30, maxArrayLength: 1_000_000 });

interface Gateway {
  readonly label: string;
  readonly url: string;
  /** The gateway process's CPU seconds so far (user, system), from /proc (Linux). */
  cpu(): { user: number; system: number };
  stop(): Promise<void>;
}

/** `strata serve` of the checkout at `root` on a fresh temp data dir, with a storage config. */
export async function startGateway(label: string, root: string, storage: Record<string, number>): Promise<Gateway> {
  const dir = mkdtempSync(join(tmpdir(), "strata-read-bench-"));
  const config = join(dir, "config.json");
  writeFileSync(config, JSON.stringify({ storage }));
  const child = spawn(process.execPath, [join(root, "cli/main.ts"), "serve", "--data", join(dir, "data"), "--port", "0", "--config", config], {
    cwd: root,
    stdio: ["ignore", "pipe", "pipe"],
  });
  const url = await firstMatch(child, /listening on (http:\/\/\S+)/, `gateway ${label}`);
  return {
    label,
    url,
    cpu: () => processCpu(child.pid!),
    async stop() {
      if (child.exitCode === null && child.signalCode === null) {
        const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
        child.kill("SIGTERM");
        await exited;
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** CPU seconds (user, system) a process has used, from /proc/<pid>/stat (clock ticks of 1/100 s). */
function processCpu(pid: number): { user: number; system: number } {
  const fields = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1]!.split(" ");
  return { user: Number(fields[11]) / 100, system: Number(fields[12]) / 100 };
}

/** The first group of `pattern` once the child prints it (stdout or stderr). */
export function firstMatch(child: ChildProcess, pattern: RegExp, what: string): Promise<string> {
  const log = { text: "" };
  const keep = (d: Buffer): void => {
    log.text = (log.text + d.toString()).slice(-16_384);
  };
  child.stdout!.on("data", keep);
  child.stderr!.on("data", keep);
  return waitForLine(child, pattern, what, 30_000, log);
}

/** Resolves once the gateway reports no sealed bytes awaiting upload (the metric is per stream). */
export async function uploadsSettled(url: string): Promise<void> {
  for (;;) {
    const text = await (await fetch(`${url}/metrics`)).text();
    const pending = /strata_unuploaded_bytes\{[^}]*\} (\d+)/.exec(text);
    if (!pending || pending[1] === "0") return;
    await new Promise((r) => setTimeout(r, 100));
  }
}

async function prepare(g: Gateway): Promise<void> {
  await createStream(g.url, STREAM);
  const payload = new Uint8Array(RECORD_BYTES);
  for (let i = 0; i < payload.length; i += 4096) payload[i] = (i >>> 12) & 0xff;
  await publish(g.url, STREAM, { total: RECORDS, batch: 8, concurrency: 2, payload });
  await uploadsSettled(g.url);
}

async function readerGBps(g: Gateway): Promise<number> {
  const m = await read(g.url, STREAM, { total: RECORDS, maxRecords: 10_000, maxBytes: READ_MAX_BYTES, payloadSize: RECORD_BYTES });
  return m.payloadBytes / m.seconds / 1e9;
}

/**
 * One keep-alive HTTP/1.1 connection over Bun.connect that reads each response into one growing
 * buffer (Content-Length or chunked): a reader whose body handling is a single copy out of the
 * socket, to show what the gateway serves when the client is not fetch (whose body assembly caps
 * one reader at about 1 GB/s here).
 */
export class RawHttpReader {
  private acc = new Uint8Array(32 * MiB);
  private len = 0;
  private waiting: ((r: { status: number; body: Uint8Array }) => void) | undefined;
  private failed: ((e: Error) => void) | undefined;
  private socket!: Awaited<ReturnType<typeof Bun.connect>>;

  static async open(url: string): Promise<RawHttpReader> {
    const reader = new RawHttpReader();
    const { hostname, port } = new URL(url);
    reader.socket = await Bun.connect({
      hostname,
      port: Number(port),
      socket: {
        data: (_s, chunk) => reader.onData(chunk),
        close: () => reader.failed?.(new Error("connection closed")),
      },
    });
    return reader;
  }

  get(path: string): Promise<{ status: number; body: Uint8Array }> {
    return new Promise((resolve, reject) => {
      this.waiting = resolve;
      this.failed = reject;
      this.socket.write(`GET ${path} HTTP/1.1\r\nhost: bench\r\naccept: application/msgpack\r\n\r\n`);
    });
  }

  close(): void {
    this.socket.end();
  }

  private onData(chunk: Uint8Array): void {
    if (this.len + chunk.length > this.acc.length) {
      const grown = new Uint8Array(Math.max(this.acc.length * 2, this.len + chunk.length));
      grown.set(this.acc.subarray(0, this.len));
      this.acc = grown;
    }
    this.acc.set(chunk, this.len);
    this.len += chunk.length;
    const done = this.complete();
    if (done && this.waiting) {
      const resolve = this.waiting;
      this.waiting = undefined;
      resolve(done);
    }
  }

  /** Parse progress of the response being received (one request at a time). */
  private head: { status: number; bodyStart: number; length: number | undefined } | undefined;
  private chunkAt = 0;
  /** End of the chunked body decoded so far: chunk data is moved down in `acc` to join it in place. */
  private bodyEnd = 0;

  /** The response, once all of it is in `acc` (which then starts over). Resumes where the last call stopped. */
  private complete(): { status: number; body: Uint8Array } | undefined {
    const acc = this.acc.subarray(0, this.len);
    if (!this.head) {
      const headEnd = Buffer.from(acc.buffer, acc.byteOffset, Math.min(acc.length, 8192)).indexOf("\r\n\r\n");
      if (headEnd < 0) return undefined;
      const text = new TextDecoder().decode(acc.subarray(0, headEnd));
      const length = /\r\ncontent-length: *(\d+)/i.exec(text);
      this.head = { status: Number(text.slice(9, 12)), bodyStart: headEnd + 4, length: length ? Number(length[1]) : undefined };
      this.chunkAt = headEnd + 4;
      this.bodyEnd = headEnd + 4;
    }
    const { status, bodyStart, length } = this.head;
    let body: Uint8Array;
    if (length !== undefined) {
      if (this.len < bodyStart + length) return undefined;
      body = acc.subarray(bodyStart, bodyStart + length);
    } else {
      // Chunked: sizes in hex, each chunk followed by CRLF, a zero-size chunk last. Each chunk's
      // data moves down over the chunk framing already parsed (one memmove within the reused
      // buffer, instead of joining the chunks into a fresh body buffer per response).
      for (;;) {
        const at = this.chunkAt;
        const lineEnd = Buffer.from(acc.buffer, acc.byteOffset + at, acc.length - at).indexOf("\r\n");
        if (lineEnd < 0) return undefined;
        const size = parseInt(new TextDecoder().decode(acc.subarray(at, at + lineEnd)), 16);
        const dataStart = at + lineEnd + 2;
        if (acc.length < dataStart + size + 2) return undefined;
        this.chunkAt = dataStart + size + 2;
        if (size === 0) break;
        acc.copyWithin(this.bodyEnd, dataStart, dataStart + size);
        this.bodyEnd += size;
      }
      body = acc.subarray(bodyStart, this.bodyEnd);
    }
    // The next response overwrites `acc`: the caller decodes this one before sending the next request.
    this.head = undefined;
    this.len = 0;
    return { status, body };
  }
}

/** bench/log/strata.ts's read loop over a RawHttpReader: every record decoded and checked. */
async function rawReaderGBps(g: Gateway): Promise<number> {
  const reader = await RawHttpReader.open(g.url);
  const prefix = `/v1/streams/${STREAM}/partitions/0/records?max_records=10000&max_bytes=${READ_MAX_BYTES}&offset=`;
  let offset = 0;
  let payloadBytes = 0;
  const t0 = performance.now();
  try {
    while (offset < RECORDS) {
      const { status, body } = await reader.get(prefix + offset);
      if (status !== 200) throw new Error(`read: HTTP ${status}`);
      const answer = decoder.decode(body) as { records: { offset: number; fields: { data: Uint8Array } }[]; next_offset: number };
      if (answer.records[0]?.offset !== offset) throw new Error(`read: expected offset ${offset}`);
      for (const r of answer.records) {
        if (r.fields.data.length !== RECORD_BYTES) throw new Error("read: payload size");
        payloadBytes += r.fields.data.length;
      }
      offset = answer.next_offset;
    }
  } finally {
    reader.close();
  }
  return payloadBytes / ((performance.now() - t0) / 1000) / 1e9;
}

export function iperfVersion(): string | undefined {
  const r = spawnSync("iperf3", ["--version"], { encoding: "utf8" });
  return r.status === 0 ? r.stdout.split("\n")[0]!.trim() : undefined;
}

export function ensureIperf(): void {
  if (iperfVersion()) return;
  if (process.getuid?.() !== 0) throw new Error("iperf3 is not installed (apt-get install iperf3)");
  const env = { ...process.env, DEBIAN_FRONTEND: "noninteractive" };
  for (const args of [["-o", "DPkg::Lock::Timeout=300", "update"], ["-o", "DPkg::Lock::Timeout=300", "install", "-y", "--no-install-recommends", "iperf3"]]) {
    const r = spawnSync("apt-get", args, { stdio: "inherit", env });
    if (r.status !== 0) throw new Error(`apt-get ${args.join(" ")} failed`);
  }
}

/** One iperf3 server (one test) on a free port and a client sending `bytes`; the receiver's rate. */
export async function iperfGBps(bytes: number): Promise<number> {
  const port = 20_000 + Math.floor(Math.random() * 20_000);
  const server = spawn("iperf3", ["-s", "-1", "--forceflush", "-B", "127.0.0.1", "-p", String(port)], { stdio: ["ignore", "pipe", "pipe"] });
  await firstMatch(server, /(Server listening)/, "iperf3 server");
  const client = spawnSync("iperf3", ["-c", "127.0.0.1", "-p", String(port), "-n", String(bytes), "-J"], { encoding: "utf8" });
  if (client.status !== 0) throw new Error(`iperf3 client failed: ${client.stdout}${client.stderr}`);
  await new Promise<void>((resolve) => (server.exitCode !== null ? resolve() : server.once("exit", () => resolve())));
  const result = JSON.parse(client.stdout) as { end: { sum_received: { bits_per_second: number } } };
  return result.end.sum_received.bits_per_second / 8 / 1e9;
}

function catGBps(file: string, bytes: number): number {
  const t0 = performance.now();
  const r = spawnSync("sh", ["-c", 'cat "$0" > /dev/null', file]);
  const seconds = (performance.now() - t0) / 1000;
  if (r.status !== 0) throw new Error("cat failed");
  return bytes / seconds / 1e9;
}

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const fmt = (x: number): string => x.toFixed(2);

async function main(): Promise<void> {
  ensureIperf();
  const bytes = RECORDS * RECORD_BYTES;
  const loadBefore = loadavg();
  const checkouts: Array<[string, string]> = [["this checkout", ROOT]];
  if (process.env.READ_BENCH_BASELINE) checkouts.push(["baseline", process.env.READ_BENCH_BASELINE]);
  const gateways: Gateway[] = [];
  const scratch = mkdtempSync(join(tmpdir(), "strata-read-bench-cat-"));
  try {
    for (const [label, root] of checkouts) {
      gateways.push(await startGateway(`${label}, segment cache`, root, {}));
      gateways.push(await startGateway(`${label}, active WAL`, root, { segmentBytes: 2047 * MiB, maxUnuploadedBytes: 2047 * MiB, maxPendingBytes: 2047 * MiB }));
    }
    for (const g of gateways) await prepare(g);
    const file = join(scratch, "same-size");
    const chunk = new Uint8Array(RECORD_BYTES).fill(7);
    writeFileSync(file, new Uint8Array(0));
    for (let i = 0; i < RECORDS; i++) writeFileSync(file, chunk, { flag: "a" });
    catGBps(file, bytes); // into the page cache
    const runs = new Map<string, number[]>();
    const add = (name: string, v: number): void => void runs.set(name, [...(runs.get(name) ?? []), v]);
    const cpu = new Map<string, number[][]>();
    const addCpu = (label: string, v: number[]): void => void cpu.set(label, [...(cpu.get(label) ?? []), v]);
    for (let round = 0; round < ROUNDS; round++) {
      const order = round % 2 === 0 ? gateways : [...gateways].reverse();
      for (const g of order) add(`Strata, fetch reader (${g.label})`, await readerGBps(g));
      for (const g of order) {
        // Where the time goes: CPU seconds per GB of the gateway and of this reader, per run.
        const gateway0 = g.cpu();
        const reader0 = process.cpuUsage();
        const gbps = await rawReaderGBps(g);
        const gateway1 = g.cpu();
        const reader = process.cpuUsage(reader0);
        const gb = bytes / 1e9;
        add(`Strata, socket reader (${g.label})`, gbps);
        addCpu(g.label, [(gateway1.user - gateway0.user) / gb, (gateway1.system - gateway0.system) / gb, reader.user / 1e6 / gb, reader.system / 1e6 / gb]);
      }
      add("iperf3 loopback (1 stream)", await iperfGBps(bytes));
      add("cat FILE > /dev/null (page cache)", catGBps(file, bytes));
    }
    const iperf = median(runs.get("iperf3 loopback (1 stream)")!);
    const cat = median(runs.get("cat FILE > /dev/null (page cache)")!);
    const loadAfter = loadavg();
    const g = globalThis as { Bun?: { version: string } };
    console.log(`\n### Read path: one reader of ${RECORDS} records of 1 MiB (max_bytes ${READ_MAX_BYTES / MiB} MiB), medians of ${ROUNDS} rounds\n`);
    console.log("| reader | GB/s | vs iperf3 | vs cat | rounds |");
    console.log("|---|---:|---:|---:|---|");
    for (const [name, xs] of runs) {
      const m = median(xs);
      console.log(`| ${name} | ${fmt(m)} | ${fmt(m / iperf)}x | ${fmt(m / cat)}x | ${xs.map(fmt).join(", ")} |`);
    }
    console.log(`\nCPU seconds per GB during the socket reader's runs (medians; the reader is this process):\n`);
    console.log("| gateway | gateway user | gateway system | reader user | reader system |");
    console.log("|---|---:|---:|---:|---:|");
    for (const [label, xs] of cpu) {
      const col = (i: number): string => median(xs.map((x) => x[i]!)).toFixed(2);
      console.log(`| ${label} | ${col(0)} | ${col(1)} | ${col(2)} | ${col(3)} |`);
    }
    const tiers: Array<[string, string]> = [["segment cache", "segment cache"], ["active WAL", "active WAL"]];
    for (const [metricTier, label] of tiers) {
      const xs = runs.get(`Strata, socket reader (this checkout, ${label})`);
      if (!xs) continue;
      const m = median(xs);
      reportRatio({
        metric: `read 1 MiB records, one reader, ${metricTier}`,
        peer: "iperf3 loopback, 1 TCP stream (same bytes)",
        strata: `${fmt(m)} GB/s`,
        peerValue: `${fmt(iperf)} GB/s`,
        ratio: m / iperf,
        goal: ">= 0.6x",
        met: m / iperf >= 0.6,
      });
    }
    console.log(
      `\nMachine: ${cpus().length} cores, ${cpus()[0]?.model ?? "unknown CPU"}; runtime ${g.Bun ? `Bun ${g.Bun.version}` : process.version}; ${iperfVersion()}; ` +
        `load average ${loadBefore.map(fmt).join(" ")} before, ${loadAfter.map(fmt).join(" ")} after.`,
    );
  } finally {
    for (const gw of gateways) await gw.stop();
    rmSync(scratch, { recursive: true, force: true });
  }
}

// Also a module: bench/dataset-samples.ts reuses its gateway and iperf3 helpers.
if (import.meta.main) await main();
