// Checkpoint bench: 4 ranks save a checkpoint of one shard each, then a second one with 5 % of
// every shard changed (contiguous regions spread over the file), side by side in one run:
//   (a) Python ranks through strata.checkpoint.save with basis=None (POST /v1/artefacts: the whole
//       shard crosses the wire, the gateway chunks it and stores only new chunks), then the commit;
//   (a') Python ranks through strata.checkpoint.save with basis="auto": the second checkpoint is a
//       delta upload against the rank's shard of the first (256 KiB blocks hashed with sha256, only
//       the blocks that differ cross the wire), the first a plain upload (no basis yet);
//   (b) TypeScript ranks through the push (edge/artefacts: only missing chunks cross the wire),
//       then the rank commit;
//   (c) the same ranks writing the shard files to local disk with fsync.
// Ranks are separate processes started before the clock and released together; a checkpoint's
// time runs from the release until every rank answered. (a) and (b) each use a fresh gateway
// (`strata serve`, temp data dir, local object store, the in-flight cap raised for the push).
//   bun bench/checkpoints.ts [--size MiB]      (default 256 MiB per shard, as issue 12 asks)
import { spawn, type ChildProcess } from "node:child_process";
import { closeSync, mkdtempSync, openSync, rmSync, writeFileSync, writeSync } from "node:fs";
import { cpus, loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import { Command } from "commander";
import { waitForLine, ROOT } from "./log/processes.ts";

const MiB = 1024 * 1024;
const RANKS = 4;
const CHANGED = 0.05;
/** Changed regions per shard: 5 % of it, in this many contiguous pieces spread over the file. */
const REGIONS = 8;
const JOB = "bench";
const PYTHON = "/usr/bin/python3";

const program = new Command().option("--size <MiB>", "shard size in MiB", "256").parse();
const SIZE = Number(program.opts<{ size: string }>().size) * MiB;
if (!Number.isSafeInteger(SIZE) || SIZE < MiB) throw new Error("--size is a whole number of MiB, at least 1");

/** One rank: prints "ready", then a JSON line per "ID STEP PATH" it is sent (bench/checkpoints/rank.ts). */
const PY_RANK = `
import json, sys, time
import strata
from strata import checkpoint
url, job, rank, world, basis = sys.argv[1:6]
client = strata.Client(url)
print("ready", flush=True)
for line in sys.stdin:
    cid, step, path = line.split()
    started = time.perf_counter()
    answer = checkpoint.save(client, job, cid, int(rank), int(world), int(step), path, state={"step": int(step)}, basis=None if basis == "none" else basis)
    upload = answer["upload"]
    print(json.dumps({"seconds": time.perf_counter() - started, "wire": upload["wire_bytes"], "stored": upload["new_bytes"]}), flush=True)
`;

interface RankResult {
  readonly seconds: number;
  readonly wire: number;
  readonly stored: number;
}

interface Rank {
  readonly child: ChildProcess;
  readonly log: { text: string };
  lines: number;
}

/** xorshift32 bytes: incompressible, reproducible. */
function fill(out: Uint8Array, seed: number): void {
  const words = new Uint32Array(out.buffer, out.byteOffset, out.length >>> 2);
  let x = seed >>> 0 || 1;
  for (let i = 0; i < words.length; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    words[i] = x >>> 0;
  }
}

/** Shard files for both checkpoints: c2 is c1 with REGIONS contiguous pieces (5 % in all) rewritten. */
function makeShards(dir: string): { c1: string[]; c2: string[] } {
  const c1: string[] = [];
  const c2: string[] = [];
  // Word-aligned regions: fill() writes 32-bit words.
  const region = Math.floor((SIZE * CHANGED) / REGIONS / 4) * 4;
  for (let r = 0; r < RANKS; r++) {
    const bytes = new Uint8Array(SIZE);
    fill(bytes, 1000 + r);
    c1.push(writeFile(join(dir, `src-c1-rank${r}.bin`), bytes));
    for (let k = 0; k < REGIONS; k++) {
      const at = Math.floor((((k + 0.5) * SIZE) / REGIONS - region / 2) / 4) * 4;
      fill(bytes.subarray(at, at + region), 5000 + r * REGIONS + k);
    }
    c2.push(writeFile(join(dir, `src-c2-rank${r}.bin`), bytes));
  }
  return { c1, c2 };
}

function writeFile(path: string, bytes: Uint8Array): string {
  const fd = openSync(path, "w");
  let done = 0;
  while (done < bytes.length) done += writeSync(fd, bytes, done, bytes.length - done);
  closeSync(fd);
  return path;
}

async function startRank(command: string, args: string[]): Promise<Rank> {
  const child = spawn(command, args, { cwd: ROOT, stdio: ["pipe", "pipe", "pipe"], env: { ...process.env, PYTHONPATH: join(ROOT, "python") } });
  const log = { text: "" };
  child.stdout!.on("data", (d: Buffer) => (log.text += d.toString()));
  child.stderr!.on("data", (d: Buffer) => (log.text += d.toString()));
  await waitForLine(child, /(ready)/, "rank", 60_000, log);
  return { child, log, lines: 0 };
}

/** The next JSON result line of a rank. */
function nextResult(rank: Rank): Promise<RankResult> {
  const want = ++rank.lines;
  return new Promise((resolve, reject) => {
    const check = (): void => {
      const results = rank.log.text.split("\n").filter((l) => l.startsWith("{"));
      if (results.length >= want) {
        rank.child.stdout!.off("data", check);
        resolve(JSON.parse(results[want - 1]!) as RankResult);
      }
    };
    rank.child.stdout!.on("data", check);
    rank.child.once("exit", (code) => reject(new Error(`rank exited ${code}:\n${rank.log.text}`)));
    check();
  });
}

interface Row {
  readonly method: string;
  readonly checkpoint: string;
  readonly seconds: number;
  readonly wire: number;
  readonly stored: number;
}

/** Releases every rank on one checkpoint and waits for all of them. */
async function checkpoint(ranks: readonly Rank[], id: string, step: number, paths: readonly string[]): Promise<Omit<Row, "method">> {
  const started = performance.now();
  const results = ranks.map((rank) => nextResult(rank));
  ranks.forEach((rank, r) => rank.child.stdin!.write(`${id} ${step} ${paths[r]}\n`));
  const all = await Promise.all(results);
  return {
    checkpoint: id,
    seconds: (performance.now() - started) / 1000,
    wire: all.reduce((n, x) => n + x.wire, 0),
    stored: all.reduce((n, x) => n + x.stored, 0),
  };
}

async function stopRanks(ranks: readonly Rank[]): Promise<void> {
  await Promise.all(
    ranks.map(
      (rank) =>
        new Promise<void>((resolve) => {
          if (rank.child.exitCode !== null) return resolve();
          rank.child.once("exit", () => resolve());
          rank.child.stdin!.end();
        }),
    ),
  );
}

async function run(method: string, start: (r: number) => Promise<Rank>, shards: { c1: string[]; c2: string[] }): Promise<Row[]> {
  const ranks = await Promise.all(Array.from({ length: RANKS }, (_, r) => start(r)));
  try {
    const first = await checkpoint(ranks, "c1", 1, shards.c1);
    const second = await checkpoint(ranks, "c2", 2, shards.c2);
    return [{ method, ...first }, { method, ...second }];
  } finally {
    await stopRanks(ranks);
  }
}

/**
 * The in-flight byte cap of the gateway: 4 pushing ranks keep up to 4 chunk batches in flight each,
 * more than the default 64 MiB (the push does not retry the cap's 503). Raw uploads are exempt.
 */
const GATEWAY_CONFIG = { limits: { maxRequestBytesInFlight: 512 * MiB } };

async function withGateway<T>(dir: string, fn: (gateway: { url: string }) => Promise<T>): Promise<T> {
  const config = join(dir, "gateway.json");
  writeFileSync(config, JSON.stringify(GATEWAY_CONFIG));
  const data = mkdtempSync(join(dir, "gateway-"));
  const child = spawn(process.execPath, [join(ROOT, "cli/main.ts"), "serve", "--data", data, "--port", "0", "--config", config], { cwd: ROOT, stdio: ["ignore", "pipe", "pipe"] });
  const log = { text: "" };
  child.stdout.on("data", (d: Buffer) => (log.text += d.toString()));
  child.stderr.on("data", (d: Buffer) => (log.text += d.toString()));
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  try {
    const url = await waitForLine(child, /listening on (http:\/\/\S+)/, "strata gateway", 30_000, log);
    return await fn({ url });
  } finally {
    child.kill("SIGTERM");
    await exited;
    rmSync(data, { recursive: true, force: true });
  }
}

const mb = (bytes: number): string => (bytes / 1e6).toFixed(1);

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), "strata-bench-ckpt-"));
  const loadBefore = loadavg();
  try {
    const shards = makeShards(dir);
    const rows: Row[] = [];
    rows.push(...(await withGateway(dir, (gw) => run("Python `strata.checkpoint.save`", (r) => startRank(PYTHON, ["-c", PY_RANK, gw.url, JOB, String(r), String(RANKS), "none"]), shards))));
    rows.push(...(await withGateway(dir, (gw) => run("Python save with basis", (r) => startRank(PYTHON, ["-c", PY_RANK, gw.url, JOB, String(r), String(RANKS), "auto"]), shards))));
    rows.push(...(await withGateway(dir, (gw) => run("TypeScript push + commit", (r) => startRank(process.execPath, [join(ROOT, "bench/checkpoints/rank.ts"), "push", gw.url, JOB, String(r), String(RANKS)]), shards))));
    const diskDir = mkdtempSync(join(dir, "disk-"));
    rows.push(...(await run("local disk, write + fsync", (r) => startRank(process.execPath, [join(ROOT, "bench/checkpoints/rank.ts"), "disk", diskDir, String(r)]), shards)));
    const disk = new Map(rows.filter((r) => r.method.startsWith("local disk")).map((r) => [r.checkpoint, r.seconds]));
    const total = RANKS * SIZE;

    const out: string[] = [];
    out.push(`### Checkpoints: ${RANKS} ranks × ${SIZE / MiB} MiB, then ${CHANGED * 100} % of each shard changed (${REGIONS} regions)`);
    out.push("");
    out.push("| method | checkpoint | seconds | MB/s (all ranks) | MB over the wire | MB newly stored | seconds / local disk |");
    out.push("|---|---|---:|---:|---:|---:|---:|");
    for (const r of rows) {
      const ratio = (r.seconds / disk.get(r.checkpoint)!).toFixed(2);
      out.push(`| ${r.method} | ${r.checkpoint === "c1" ? "first (all new)" : "second (5 % changed)"} | ${r.seconds.toFixed(2)} | ${(total / 1e6 / r.seconds).toFixed(0)} | ${mb(r.wire)} | ${mb(r.stored)} | ${ratio} |`);
    }
    out.push("");
    const g = globalThis as { Bun?: { version: string } };
    out.push(`Machine: ${cpus().length} cores, ${cpus()[0]?.model ?? "unknown CPU"}; ${g.Bun ? `Bun ${g.Bun.version}` : process.version}; Python ${PYTHON}; load average before ${loadBefore.map((x) => x.toFixed(2)).join(" ")}, after ${loadavg().map((x) => x.toFixed(2)).join(" ")}.`);
    process.stdout.write(`${out.join("\n")}\n`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

await main();
