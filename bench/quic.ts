// Bulk chunk download over QUIC (strata/1 bulk streams) against HTTP/1.1 (POST /v1/chunks/get)
// on loopback, gateway and client under the same runtime, Bun and Deno; and a raw QUIC stream
// between the same adapters without the gateway (bench/quic/raw-stream.ts) to separate the two.
//   bun bench/quic.ts [--size-mib 256] [--chunk-kib 256] [--batch 64] [--parallel 1,4] [--runs 2] [--write]
// The chunks are uploaded once per gateway (HTTP PUT /v1/chunks) and read once to warm its
// caches; each measurement is then the best of `runs`. `--write` replaces the
// "## QUIC vs HTTP" section of bench/RESULTS.md.
import { spawn, spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { cpus, loadavg, tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { encode } from "@msgpack/msgpack";
import { blake3 } from "../core/hashing/blake3.ts";
import { startBenchGateway } from "./quic/gateway.ts";

const SECTION = "## QUIC vs HTTP";
const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const MiB = 1024 * 1024;

function arg(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i === -1 ? fallback : process.argv[i + 1]!;
}

const sizeBytes = Number(arg("size-mib", "256")) * MiB;
const chunkBytes = Number(arg("chunk-kib", "256")) * 1024;
const batch = Number(arg("batch", "64"));
const parallels = arg("parallel", "1,4").split(",").map(Number);
const runs = Number(arg("runs", "2"));
const runtimes = arg("runtimes", "bun,deno").split(",") as ("bun" | "deno")[];

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
  for (let first = 0; first < count; first += batch) {
    const chunks: [Uint8Array, Uint8Array][] = [];
    for (let i = first; i < Math.min(count, first + batch); i++) {
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
  transport: string;
  bytes: number;
  ms: number;
  mb_s: number;
}

function download(runtime: "bun" | "deno", transport: "quic" | "http", hashesFile: string, parallel: number, gw: { http: string; quicPort: number; caFile: string }): Measurement {
  const script = join(root, "bench/quic/download.ts");
  const target = transport === "quic" ? [String(gw.quicPort), gw.caFile] : [gw.http];
  const command = runtime === "bun" ? [process.execPath, script] : [join(root, "node_modules/.bin/deno"), "run", "-A", "--unstable-net", script];
  const result = spawnSync(command[0]!, [...command.slice(1), transport, hashesFile, String(batch), String(parallel), ...target], { cwd: root, encoding: "utf8", timeout: 600_000 });
  const line = result.stdout.trim().split("\n").at(-1) ?? "";
  if (result.status !== 0 || !line.startsWith("{")) throw new Error(`download ${runtime} ${transport} failed (${result.status}):\n${result.stdout}\n${result.stderr}`);
  return JSON.parse(line) as Measurement;
}

function runtimeCommand(runtime: "bun" | "deno", script: string): string[] {
  return runtime === "bun" ? [process.execPath, script] : [join(root, "node_modules/.bin/deno"), "run", "-A", "--unstable-net", script];
}

/** Best rate of a raw QUIC stream of sizeBytes (bench/quic/raw-stream.ts), no gateway involved. */
async function rawStream(runtime: "bun" | "deno", caFile: string): Promise<number> {
  const script = join(root, "bench/quic/raw-stream.ts");
  const [command, ...prefix] = runtimeCommand(runtime, script);
  const server = spawn(command!, [...prefix, "server", String(sizeBytes), caFile, join(dirname(caFile), "quic-key.pem")], { cwd: root, stdio: ["ignore", "pipe", "pipe"] });
  let output = "";
  server.stdout!.on("data", (d: Buffer) => (output += d.toString()));
  server.stderr!.on("data", (d: Buffer) => (output += d.toString()));
  try {
    const deadline = Date.now() + 30_000;
    let match: RegExpExecArray | null = null;
    while (!(match = /port (\d+)/.exec(output))) {
      if (Date.now() > deadline || server.exitCode !== null) throw new Error(`raw QUIC server (${runtime}) did not start:\n${output}`);
      await new Promise((r) => setTimeout(r, 50));
    }
    let best = 0;
    for (let r = 0; r < runs; r++) {
      const result = spawnSync(command!, [...prefix, "client", match[1]!, caFile], { cwd: root, encoding: "utf8", timeout: 300_000 });
      const line = result.stdout.trim().split("\n").at(-1) ?? "";
      if (result.status !== 0 || !line.startsWith("{")) throw new Error(`raw QUIC client (${runtime}) failed:\n${result.stdout}\n${result.stderr}`);
      const m = JSON.parse(line) as Measurement;
      console.error(`${runtime} raw QUIC stream: ${m.mb_s} MB/s`);
      best = Math.max(best, m.mb_s);
    }
    return best;
  } finally {
    server.kill("SIGTERM");
  }
}

const rows: string[] = [];
const work = mkdtempSync(join(tmpdir(), "strata-bench-quic-"));
try {
  for (const runtime of runtimes) {
    const dataDir = join(work, runtime);
    const gw = await startBenchGateway(root, runtime, dataDir);
    try {
      const hashesFile = join(work, `${runtime}.hashes`);
      writeFileSync(hashesFile, await upload(gw.http));
      const raw = await rawStream(runtime, gw.caFile);
      download(runtime, "http", hashesFile, 4, gw); // warm the gateway's caches
      for (const parallel of parallels) {
        const best: Record<string, Measurement> = {};
        for (let r = 0; r < runs; r++) {
          for (const transport of ["quic", "http"] as const) {
            const m = download(runtime, transport, hashesFile, parallel, gw);
            console.error(`${runtime} ${transport} parallel ${parallel}: ${m.mb_s} MB/s (${m.bytes} bytes in ${m.ms} ms)`);
            if (!best[transport] || m.mb_s > best[transport].mb_s) best[transport] = m;
          }
        }
        rows.push(`| ${runtime} | ${parallel} | ${best.quic!.mb_s} | ${best.http!.mb_s} | ${(best.quic!.mb_s / best.http!.mb_s).toFixed(2)} | ${raw} |`);
      }
    } finally {
      await gw.stop();
    }
  }
} finally {
  rmSync(work, { recursive: true, force: true });
}

const table = [
  `${sizeBytes / MiB} MiB of ${chunkBytes / 1024} KiB chunks, ${batch} chunks per request, gateway and client in two processes of the same runtime on loopback, best of ${runs}; ${cpus().length} cores (${cpus()[0]?.model ?? "?"}), load average ${loadavg()[0]!.toFixed(2)} at the end.`,
  "",
  "| runtime | parallel requests | QUIC MB/s | HTTP/1.1 MB/s | QUIC / HTTP | raw QUIC stream MB/s (no gateway) |",
  "| --- | --- | --- | --- | --- | --- |",
  ...rows,
].join("\n");
console.log(table);
if (process.argv.includes("--write")) {
  const path = join(root, "bench/RESULTS.md");
  const text = readFileSync(path, "utf8");
  const notes = readFileSync(join(root, "bench/quic/NOTES.md"), "utf8").trim();
  const section = `${SECTION}\n\n${table}\n\n${notes}\n`;
  const start = text.indexOf(SECTION);
  let next = start === -1 ? -1 : text.indexOf("\n## ", start + SECTION.length);
  const updated = start === -1 ? `${text.trimEnd()}\n\n${section}` : `${text.slice(0, start)}${section}${next === -1 ? "" : text.slice(next + 1)}`;
  writeFileSync(path, updated);
  next = 0;
}
