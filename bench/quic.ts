// Bulk chunk download over QUIC (strata/1 bulk streams) against HTTP/1.1 (POST /v1/chunks/get)
// on loopback, gateway and client under the same runtime, Bun and Deno; QUIC with the chunk
// requests spread over C connections x S bulk streams each (the layouts), and a raw QUIC
// stream between the same adapters without the gateway (bench/quic/raw-stream.ts).
//   bun bench/quic.ts [--size-mib 256] [--chunk-kib 256] [--batch 16] [--layouts 1x1,1x2,1x4,1x8,2x1,4x1,8x1]
//                     [--http-parallel 1,4] [--rounds 3] [--runtimes bun,deno]
// The chunks are uploaded once per gateway (HTTP PUT /v1/chunks) and read once to warm its
// caches; then `rounds` rounds alternate every QUIC layout with every HTTP setting, and each
// figure is the median of its rounds. The ratio is the best QUIC layout's median over the best
// HTTP median (each transport at its best), printed through reportRatio.
import { spawn, spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { cpus, loadavg, tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { encode } from "@msgpack/msgpack";
import { blake3 } from "../core/hashing/blake3.ts";
import { startBenchGateway, type BenchGateway } from "./quic/gateway.ts";
import { reportRatio } from "./ratio.ts";

type Runtime = "bun" | "deno";
const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const MiB = 1024 * 1024;
const deno = join(root, "node_modules/.bin/deno");

function arg(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i === -1 ? fallback : process.argv[i + 1]!;
}

interface Layout {
  readonly connections: number;
  readonly streams: number;
}

const sizeBytes = Number(arg("size-mib", "256")) * MiB;
const chunkBytes = Number(arg("chunk-kib", "256")) * 1024;
const batch = Number(arg("batch", "16"));
const layouts: Layout[] = arg("layouts", "1x1,1x2,1x4,1x8,2x1,4x1,8x1")
  .split(",")
  .map((l) => {
    const [c, s] = l.split("x").map(Number);
    if (!Number.isInteger(c) || !Number.isInteger(s) || c! < 1 || s! < 1) throw new Error(`a layout is CONNECTIONSxSTREAMS, got ${l}`);
    return { connections: c!, streams: s! };
  });
const httpParallels = arg("http-parallel", "1,4").split(",").map(Number);
const rounds = Number(arg("rounds", "3"));
const runtimes = arg("runtimes", "bun,deno").split(",") as Runtime[];

/** Deterministic incompressible bytes (xorshift32). */
function fill(out: Uint8Array, seed: number): void {
  let x = seed | 1;
  const words = new Uint32Array(out.buffer, out.byteOffset, out.byteLength >>> 2);
  for (let i = 0; i < words.length; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    words[i] = x >>> 0;
  }
}

async function upload(http: string): Promise<Uint8Array> {
  const count = Math.ceil(sizeBytes / chunkBytes);
  const hashes = new Uint8Array(count * 32);
  for (let first = 0; first < count; first += 64) {
    const chunks: [Uint8Array, Uint8Array][] = [];
    for (let i = first; i < Math.min(count, first + 64); i++) {
      const data = new Uint8Array(chunkBytes);
      fill(data, i + 1);
      const hash = blake3(data);
      hashes.set(hash, i * 32);
      chunks.push([hash, data]);
    }
    const response = await fetch(`${http}/v1/chunks`, { method: "PUT", headers: { "content-type": "application/msgpack" }, body: encode({ chunks }) });
    if (response.status !== 200) throw new Error(`PUT /v1/chunks: ${response.status} ${await response.text()}`);
  }
  return hashes;
}

interface Measurement {
  readonly bytes: number;
  readonly ms: number;
  readonly mb_s: number;
  /** The measuring client's CPU time during the transfer (download.ts only). */
  readonly cpu_ms?: number;
}

/** A download with the CPU both processes spent on it, in µs per MB moved (robust to the machine's load, unlike MB/s). */
interface Costed extends Measurement {
  readonly gatewayUsPerMb: number;
  readonly clientUsPerMb: number;
}

function costed(gw: BenchGateway, run: () => Measurement): Costed {
  const before = gw.cpuMs();
  const m = run();
  const mb = m.bytes / 1e6;
  return { ...m, gatewayUsPerMb: ((gw.cpuMs() - before) * 1000) / mb, clientUsPerMb: ((m.cpu_ms ?? 0) * 1000) / mb };
}

function runtimeCommand(runtime: Runtime, script: string): string[] {
  return runtime === "bun" ? [process.execPath, script] : [deno, "run", "-A", "--unstable-net", script];
}

function runJson(command: string[], what: string): Measurement {
  const result = spawnSync(command[0]!, command.slice(1), { cwd: root, encoding: "utf8", timeout: 600_000 });
  const line = result.stdout.trim().split("\n").at(-1) ?? "";
  if (result.status !== 0 || !line.startsWith("{")) throw new Error(`${what} failed (${result.status}):\n${result.stdout}\n${result.stderr}`);
  return JSON.parse(line) as Measurement;
}

function quicDownload(runtime: Runtime, hashesFile: string, layout: Layout, gw: BenchGateway): Measurement {
  const parallel = layout.connections * layout.streams;
  const command = [...runtimeCommand(runtime, join(root, "bench/quic/download.ts")), "quic", hashesFile, String(batch), String(parallel), String(gw.quicPort), gw.caFile, String(layout.connections)];
  return runJson(command, `${runtime} QUIC download ${layout.connections}x${layout.streams}`);
}

function httpDownload(runtime: Runtime, hashesFile: string, parallel: number, gw: BenchGateway): Measurement {
  const command = [...runtimeCommand(runtime, join(root, "bench/quic/download.ts")), "http", hashesFile, String(batch), String(parallel), gw.http];
  return runJson(command, `${runtime} HTTP download parallel ${parallel}`);
}

/** A raw QUIC server (bench/quic/raw-stream.ts) under `runtime`; the caller kills it. */
async function rawServer(runtime: Runtime, caFile: string): Promise<{ port: number; stop(): void }> {
  const [command, ...prefix] = runtimeCommand(runtime, join(root, "bench/quic/raw-stream.ts"));
  const server = spawn(command!, [...prefix, "server", caFile, join(dirname(caFile), "quic-key.pem")], { cwd: root, stdio: ["ignore", "pipe", "pipe"] });
  let output = "";
  server.stdout!.on("data", (d: Buffer) => (output += d.toString()));
  server.stderr!.on("data", (d: Buffer) => (output += d.toString()));
  const deadline = Date.now() + 30_000;
  let match: RegExpExecArray | null = null;
  while (!(match = /port (\d+)/.exec(output))) {
    if (Date.now() > deadline || server.exitCode !== null) {
      server.kill("SIGTERM");
      throw new Error(`raw QUIC server (${runtime}) did not start:\n${output}`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  return { port: Number(match[1]), stop: () => server.kill("SIGTERM") };
}

function rawStream(runtime: Runtime, port: number, caFile: string, connections: number): Measurement {
  const command = [...runtimeCommand(runtime, join(root, "bench/quic/raw-stream.ts")), "client", String(port), caFile, String(sizeBytes), String(connections), "1"];
  return runJson(command, `${runtime} raw QUIC stream`);
}

function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

const round1 = (v: number): number => Math.round(v * 10) / 10;

function versionOf(runtime: Runtime): string {
  const [command, ...rest] = runtime === "bun" ? [process.execPath, "--version"] : [deno, "--version"];
  return `${runtime} ${spawnSync(command!, rest, { encoding: "utf8" }).stdout.split("\n")[0]!.replace(/^deno /, "").trim()}`;
}

const loadBefore = loadavg();
const tables: string[] = [];
const work = mkdtempSync(join(tmpdir(), "strata-bench-quic-"));
try {
  for (const runtime of runtimes) {
    const gw = await startBenchGateway(root, runtime, join(work, runtime));
    const raw = await rawServer(runtime, gw.caFile).catch(async (e: unknown) => {
      await gw.stop();
      throw e;
    });
    try {
      const hashesFile = join(work, `${runtime}.hashes`);
      writeFileSync(hashesFile, await upload(gw.http));
      httpDownload(runtime, hashesFile, 4, gw); // warm the gateway's caches
      const samples = new Map<string, number[]>();
      const push = (key: string, v: number) => samples.set(key, [...(samples.get(key) ?? []), v]);
      const add = (key: string, m: Measurement | Costed) => {
        push(key, m.mb_s);
        if ("gatewayUsPerMb" in m) {
          push(`${key} gateway cpu`, m.gatewayUsPerMb);
          push(`${key} client cpu`, m.clientUsPerMb);
        }
        console.error(`${runtime} ${key}: ${m.mb_s} MB/s (${m.bytes} bytes in ${m.ms} ms)`);
      };
      for (let r = 0; r < rounds; r++) {
        for (const layout of layouts) add(`quic ${layout.connections}x${layout.streams}`, costed(gw, () => quicDownload(runtime, hashesFile, layout, gw)));
        for (const parallel of httpParallels) add(`http ${parallel}`, costed(gw, () => httpDownload(runtime, hashesFile, parallel, gw)));
        add("raw 1", rawStream(runtime, raw.port, gw.caFile, 1));
        add("raw 4", rawStream(runtime, raw.port, gw.caFile, 4));
      }
      const med = (key: string) => median(samples.get(key)!);
      const bestHttp = Math.max(...httpParallels.map((p) => med(`http ${p}`)));
      const bestHttpParallel = httpParallels.find((p) => med(`http ${p}`) === bestHttp)!;
      const quicRows = layouts.map((l) => ({ l, mbs: med(`quic ${l.connections}x${l.streams}`) }));
      const best = quicRows.reduce((a, b) => (b.mbs > a.mbs ? b : a));
      const row = (transport: string, layout: string, key: string, mbs: number) =>
        `| ${transport} | ${layout} | ${round1(mbs)} | ${(mbs / bestHttp).toFixed(2)} | ${Math.round(med(`${key} gateway cpu`))} | ${Math.round(med(`${key} client cpu`))} |`;
      tables.push(
        [
          `### ${versionOf(runtime)}`,
          "",
          "| transport | connections x bulk streams (or parallel requests) | MB/s (median) | / best HTTP/1.1 | gateway CPU µs/MB | client CPU µs/MB |",
          "| --- | --- | --- | --- | --- | --- |",
          ...quicRows.map(({ l, mbs }) => row("QUIC", `${l.connections} x ${l.streams}`, `quic ${l.connections}x${l.streams}`, mbs)),
          ...httpParallels.map((p) => row("HTTP/1.1", String(p), `http ${p}`, med(`http ${p}`))),
          `| raw QUIC stream, no gateway | 1 x 1 | ${round1(med("raw 1"))} | ${(med("raw 1") / bestHttp).toFixed(2)} | | |`,
          `| raw QUIC stream, no gateway | 4 x 1 | ${round1(med("raw 4"))} | ${(med("raw 4") / bestHttp).toFixed(2)} | | |`,
        ].join("\n"),
      );
      const ratio = best.mbs / bestHttp;
      const name = runtime === "deno" ? "Deno" : "Bun";
      reportRatio({
        metric: `bulk over QUIC vs HTTP/1.1 (${name})`,
        peer: `HTTP/1.1 POST /v1/chunks/get on loopback, same gateway, best of parallel ${httpParallels.join("/")}`,
        strata: `${round1(best.mbs)} MB/s (QUIC ${best.l.connections} connections x ${best.l.streams} streams)`,
        peerValue: `${round1(bestHttp)} MB/s (parallel ${bestHttpParallel})`,
        ratio: Math.round(ratio * 100) / 100,
        ...(runtime === "deno" ? { goal: ">= 0.8x", met: ratio >= 0.8 } : {}),
      });
    } finally {
      raw.stop();
      await gw.stop();
    }
  }
} finally {
  rmSync(work, { recursive: true, force: true });
}

const loadAfter = loadavg();
console.log(
  [
    `${sizeBytes / MiB} MiB of ${chunkBytes / 1024} KiB chunks, ${batch} chunks per request, gateway and client in two processes of the same runtime on loopback; medians of ${rounds} interleaved rounds; ${cpus().length} cores (${cpus()[0]?.model ?? "?"}); load average ${loadBefore[0]!.toFixed(2)} before, ${loadAfter[0]!.toFixed(2)} after.`,
    "",
    ...tables.flatMap((t) => [t, ""]),
  ].join("\n"),
);
