// Client pull throughput (issue 13, item 4): `strata pull` of a safetensors model from a warm
// gateway on loopback HTTP, cold (empty chunk cache) against a local `rsync` of the same file, and
// warm (every chunk in the cache) against `cp`. Rounds alternate Strata and the peer; medians.
//   bun bench/artefact-pull.ts [--size-mib 512] [--tensors 200] [--rounds 3]
import { spawnSync } from "node:child_process";
import { mkdirSync, rmSync, statSync } from "node:fs";
import { cpus, loadavg } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { startGateway } from "../test/helpers/gateway.ts";
import { writeModel } from "../test/helpers/model-file.ts";
import { pullArtefact } from "../edge/artefacts/pull.ts";
import { runCli } from "./artefacts/cli.ts";
import { rsyncVersion } from "./artefacts/rsync.ts";
import { intArg } from "./args.ts";
import { reportRatio } from "./ratio.ts";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const work = join(root, "bench", ".work", "artefact-pull");
const MiB = 1024 * 1024;


const sizeBytes = intArg("size-mib", 512) * MiB;
const tensors = intArg("tensors", 200);
const rounds = intArg("rounds", 3);
const log = (s: string): void => console.error(`[${new Date().toISOString().slice(11, 19)}] ${s}`);
const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const gbps = (bytes: number, seconds: number): string => `${(bytes / seconds / 1e9).toFixed(3)} GB/s`;

/** Runs a command to completion; its wall time in seconds. */
function timed(cmd: string, args: string[]): number {
  const started = performance.now();
  const r = spawnSync(cmd, args, { encoding: "utf8" });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(" ")} failed (${r.status}): ${r.stderr}`);
  return (performance.now() - started) / 1000;
}

const rsyncName = rsyncVersion(); // fails early, saying how to install rsync
rmSync(work, { recursive: true, force: true });
mkdirSync(work, { recursive: true });
const model = join(work, "model.safetensors");
log(`writing the model (${sizeBytes / MiB} MiB, ${tensors} bf16 tensors)`);
const { size } = writeModel(model, { bytes: sizeBytes, tensors, seed: 1 });
const loadBefore = loadavg();
const gateway = await startGateway({ dataDir: join(work, "gateway") });
const env = { STRATA_GATEWAY: gateway.url };
const cold: number[] = [];
const rsync: number[] = [];
const warm: number[] = [];
const cp: number[] = [];
/** In-process cold pulls, hashing on this thread or on a Worker (process CPU includes the worker). */
const hashing = { inline: { wall: [] as number[], cpu: [] as number[] }, worker: { wall: [] as number[], cpu: [] as number[] } };
let chunks = 0;
try {
  const pushed = await runCli(root, ["push", model, "--stream", "bench/pull"], env);
  chunks = pushed.summary.chunks_total;
  // One pull warms the gateway's caches, so every round measures the client.
  await runCli(root, ["pull", pushed.summary.artefact, join(work, "warmup"), "--cache", join(work, "cache-warmup")], env);
  rmSync(join(work, "warmup"), { force: true });
  rmSync(join(work, "cache-warmup"), { recursive: true, force: true });
  for (let round = 1; round <= rounds; round++) {
    log(`round ${round}/${rounds}`);
    const cache = join(work, `cache-${round}`);
    const out = join(work, `pull-${round}`);
    cold.push((await runCli(root, ["pull", pushed.summary.artefact, out, "--cache", cache], env)).wall);
    rmSync(out, { force: true });
    rsync.push(timed("rsync", ["--whole-file", model, join(work, `rsync-${round}`)]));
    rmSync(join(work, `rsync-${round}`), { force: true });
    const warmRun = await runCli(root, ["pull", pushed.summary.artefact, out, "--cache", cache], env);
    if (warmRun.summary.bytes_transferred !== 0) throw new Error(`the warm pull moved ${warmRun.summary.bytes_transferred} bytes`);
    if (statSync(out).size !== size) throw new Error("the pull wrote the wrong size");
    warm.push(warmRun.wall);
    rmSync(out, { force: true });
    cp.push(timed("cp", [model, join(work, `cp-${round}`)]));
    rmSync(join(work, `cp-${round}`), { force: true });
    rmSync(cache, { recursive: true, force: true });
    for (const mode of round % 2 === 0 ? (["worker", "inline"] as const) : (["inline", "worker"] as const)) {
      const cpu = process.cpuUsage();
      const started = performance.now();
      await pullArtefact({ gateway: gateway.url, source: pushed.summary.artefact, out, cacheDir: cache, hashOnWorker: mode === "worker" });
      hashing[mode].wall.push((performance.now() - started) / 1000);
      const used = process.cpuUsage(cpu);
      hashing[mode].cpu.push((used.user + used.system) / 1e6);
      rmSync(out, { force: true });
      rmSync(cache, { recursive: true, force: true });
    }
  }
} finally {
  await gateway.stop();
}
const loadAfter = loadavg();

const coldS = median(cold);
const rsyncS = median(rsync);
const warmS = median(warm);
const cpS = median(cp);
console.log("## Artefact pull throughput (client)\n");
console.log(`${size.toLocaleString("en-US")} bytes, ${chunks} chunks; medians of ${rounds} alternating rounds; wall time of the whole process (a pull includes Bun's start-up, manifest fetch, fsync and rename).\n`);
console.log("| Pull | Strata s | Strata GB/s | peer | peer s | peer GB/s | Strata / peer |");
console.log("|---|---:|---:|---|---:|---:|---:|");
console.log(`| cold (empty chunk cache, warm gateway) | ${coldS.toFixed(3)} | ${gbps(size, coldS)} | rsync --whole-file (local) | ${rsyncS.toFixed(3)} | ${gbps(size, rsyncS)} | ${(rsyncS / coldS).toFixed(3)}× |`);
console.log(`| warm (every chunk in the cache) | ${warmS.toFixed(3)} | ${gbps(size, warmS)} | cp | ${cpS.toFixed(3)} | ${gbps(size, cpS)} | ${(cpS / warmS).toFixed(3)}× |`);
console.log("\nHashing received chunks on a Worker against this thread (in-process cold pulls, alternating):\n");
console.log("| hashing | wall s | process CPU s |");
console.log("|---|---:|---:|");
for (const mode of ["inline", "worker"] as const) console.log(`| ${mode} | ${median(hashing[mode].wall).toFixed(3)} | ${median(hashing[mode].cpu).toFixed(3)} |`);
console.log(`\nBun ${Bun.version}, ${rsyncName}, ${cpus().length} cores; load average ${loadBefore.map((l) => l.toFixed(2)).join(" ")} before, ${loadAfter.map((l) => l.toFixed(2)).join(" ")} after.`);
console.log(`rounds (s): cold ${cold.map((s) => s.toFixed(2)).join(", ")}; rsync ${rsync.map((s) => s.toFixed(2)).join(", ")}; warm ${warm.map((s) => s.toFixed(2)).join(", ")}; cp ${cp.map((s) => s.toFixed(2)).join(", ")}`);
reportRatio({ metric: `cold strata pull, ${sizeBytes / MiB} MiB safetensors`, peer: "local rsync of the file", strata: gbps(size, coldS), peerValue: gbps(size, rsyncS), ratio: rsyncS / coldS, goal: ">= 1.0x", met: rsyncS / coldS >= 1 });
reportRatio({ metric: `warm strata pull (all chunks cached), ${sizeBytes / MiB} MiB`, peer: "cp of the file", strata: gbps(size, warmS), peerValue: gbps(size, cpS), ratio: cpS / warmS, goal: ">= 0.5x", met: cpS / warmS >= 0.5 });
reportRatio({ metric: `cold pull hashing on a Worker, ${sizeBytes / MiB} MiB (in-process)`, peer: "hashing on the main thread", strata: `${median(hashing.worker.wall).toFixed(3)} s`, peerValue: `${median(hashing.inline.wall).toFixed(3)} s`, ratio: median(hashing.inline.wall) / median(hashing.worker.wall) });
rmSync(work, { recursive: true, force: true });
