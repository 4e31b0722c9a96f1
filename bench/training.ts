// Training-data bench: a Python reader of a Strata dataset vs the same Python reading the same
// samples from local shard files in the page cache, side by side in one run.
//   bun bench/training.ts                      (TRAINING_BENCH_SAMPLES=3000, 100 KiB samples)
//   TRAINING_BENCH_SAMPLES=1000 bun bench/training.ts   (a quick look)
//   TRAINING_BENCH_PROFILE=1 bun bench/training.ts      (cProfile of the dataset reader, top functions)
// Starts a Strata gateway (`strata serve`, Bun, temp data dir), publishes SAMPLES records
// {"image": 100 KiB of bytes, "label"} with the Python client, pins them as a dataset and writes the
// same sample maps as MessagePack shard files. Then, with Debian's Python (test/helpers/python.ts):
//   1. local: msgpack.Unpacker over the shard files (read once first, so they are in the page cache);
//      the same bytes over a loopback TCP socket into Python (the transport's ceiling); strata.Dataset iterated in order and shuffled: GB/s of sample bytes, and the ratio (goal >= 0.8x);
//   2. a torch DataLoader with 2 workers (strata.torch.StatefulLoader, batch 32): samples/s and the
//      p50/p99 time the loop waits for each batch;
//   3. time from iter() to the first sample (goal < 200 ms);
//   4. where a read's time goes: span range reads one after another, time waiting for the
//      gateway's answer (until its last byte) vs time decoding it in Python.
// The Python side is bench/training/bench.py (one subcommand per measurement, a JSON line each).
import { cpus, loadavg } from "node:os";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ROOT, startGateway } from "./log/processes.ts";
import { ensurePythonTorch, PYTHON_DIR, python, runPython } from "../test/helpers/python.ts";

const SAMPLES = Number(process.env.TRAINING_BENCH_SAMPLES ?? 3000);
const SAMPLE_BYTES = 100 * 1024;
const PASSES = 3;
const ROOMY_PREFETCH = 1024 * 1024 * 1024;
const PROFILE = process.env.TRAINING_BENCH_PROFILE === "1";
const SCRIPT = join(ROOT, "bench/training/bench.py");

type Json = Record<string, number | string | null>;

function py(args: string[]): Json {
  const result = runPython([SCRIPT, ...args], { cwd: PYTHON_DIR, timeoutMs: 900_000 });
  if (result.code !== 0) throw new Error(`bench.py ${args[0]} exited ${result.code}:\n${result.stdout}${result.stderr}`);
  const line = result.stdout.trim().split("\n").at(-1)!;
  return JSON.parse(line) as Json;
}

const fmt = (n: unknown, digits = 2): string => (typeof n === "number" ? n.toFixed(digits) : String(n));

async function main(): Promise<void> {
  python();
  const torch = ensurePythonTorch();
  const loadBefore = loadavg();
  const gateway = await startGateway();
  const shards = mkdtempSync(join(tmpdir(), "strata-shards-"));
  try {
    const prepared = py(["prepare", gateway.url, "bench/training", "bench-training", String(SAMPLES), String(SAMPLE_BYTES), shards]);
    // Alternated, so that drift in the machine's load hits both sides alike; each process makes PASSES
    // passes (its first pass also pays for growing the heap).
    const local: Json[] = [];
    const socket: Json[] = [];
    const ordered: Json[] = [];
    for (let i = 0; i < PASSES; i++) {
      local.push(py(["local", shards, String(PASSES)]));
      socket.push(py(["socket", shards, String(PASSES)]));
      ordered.push(py(["dataset", gateway.url, "bench-training", String(PASSES), "ordered"]));
    }
    const shuffled = py(["dataset", gateway.url, "bench-training", String(PASSES), "shuffle"]);
    // The whole version fits: a shuffled epoch keeps every span of a version this small in use.
    const roomy = py(["dataset", gateway.url, "bench-training", String(PASSES), "shuffle", "-", String(ROOMY_PREFETCH)]);
    const first = py(["first", gateway.url, "bench-training", "7"]);
    const split = py(["split", gateway.url, "bench-training"]);
    const loader = torch ? py(["loader", gateway.url, "bench-training", "32", "2", String(ROOMY_PREFETCH)]) : null;
    const profilePath = join(shards, "profile.txt");
    if (PROFILE) py(["dataset", gateway.url, "bench-training", "1", "shuffle", profilePath]);
    const versions = py(["versions"]);
    const loadAfter = loadavg();

    const median = (runs: Json[]): number => runs.map((r) => r.gbps_median as number).sort((a, b) => a - b)[Math.floor(runs.length / 2)]!;
    const best = (runs: Json[]): number => Math.max(...runs.map((r) => r.gbps_best as number));
    const localGbps = median(local);
    const row = (what: string, runs: Json[], goal = ""): string =>
      `| ${what} | ${fmt(median(runs))} | ${fmt(best(runs))} | ${fmt(median(runs) / localGbps)}x${goal} | ${fmt(best(runs) / best(local))}x |`;
    console.log(`## Training reads: ${SAMPLES} samples of ${SAMPLE_BYTES / 1024} KiB (${fmt(((prepared.bytes as number) / 1e9), 2)} GB pinned), one Python process\n`);
    console.log("| reader | GB/s median | GB/s best | median vs local | best vs local best |");
    console.log("| --- | --- | --- | --- | --- |");
    console.log(row("local shard files, page cache, msgpack.Unpacker", local));
    console.log(row("the shards' bytes over a loopback TCP socket (recv_into, msgpack.Unpacker)", socket));
    console.log(row("strata.Dataset, unshuffled", ordered, " (goal >= 0.8x)"));
    console.log(row("strata.Dataset, shuffled (default prefetch_bytes: the working set derived from the version, docs/dataset-order.md)", [shuffled]));
    console.log(row("strata.Dataset, shuffled (prefetch_bytes 1 GiB: the version fits)", [roomy]));
    console.log("");
    console.log("| measure | value |");
    console.log("| --- | --- |");
    console.log(`| one span read after another (unshuffled): waiting for the gateway's answer / decoding it | ${fmt(split.request_s)} s (${fmt(split.request_gbps)} GB/s) / ${fmt(split.decode_s)} s (${fmt(split.decode_gbps)} GB/s) |`);
    console.log(`| time to first sample after iter() (median / max of ${first.trials}) | ${fmt(first.ms_median, 1)} ms / ${fmt(first.ms_max, 1)} ms (goal < 200 ms) |`);
    if (loader) {
      console.log(`| torch DataLoader, 2 workers, batch 32, shuffled, prefetch_bytes 1 GiB per worker: samples/s | ${fmt(loader.samples_per_s, 0)} (${fmt(loader.gbps)} GB/s) |`);
      console.log(`| ... time the loop waits for the first batch (workers start, first spans) | ${fmt(loader.first_batch_ms, 1)} ms |`);
      console.log(`| ... time the loop waits per later batch, p50 / p99 | ${fmt(loader.wait_ms_p50, 2)} ms / ${fmt(loader.wait_ms_p99, 2)} ms |`);
    } else {
      console.log("| torch DataLoader | torch is not installed: not measured |");
    }
    console.log("");
    console.log(`Machine: ${cpus().length} cores, ${cpus()[0]?.model ?? "unknown CPU"}; load ${loadBefore.map((l) => l.toFixed(2)).join(" ")} before, ${loadAfter.map((l) => l.toFixed(2)).join(" ")} after.`);
    const g = globalThis as { Bun?: { version: string } };
    console.log(`Versions: Bun ${g.Bun?.version ?? "?"} (gateway and bench), Python ${versions.python}, msgpack ${versions.msgpack}, numpy ${versions.numpy}, torch ${versions.torch ?? "none"}.`);
    if (PROFILE) console.log(`\ncProfile of one shuffled pass (top functions by own time):\n\n\`\`\`\n${readFileSync(profilePath, "utf8").trim()}\n\`\`\``);
  } finally {
    await gateway.stop();
    rmSync(shards, { recursive: true, force: true });
  }
}

await main();
