// Artefact benchmarks (issue 4): delta, fan-out, throughput.
//   bun bench/artefacts.ts [--write] [--size-mib 1024] [--tensors 200] [--changed 10] [--fanout 16] [--no-fanout]
// Delta: a safetensors model v1 (bf16 tensors, deterministic) and v2 with `changed` tensors
//   rewritten; bytes moved by `strata push` of v2 after v1 and by `strata pull` of v2 onto a chunk
//   cache holding v1, against rsync's literal data for the same update and the changed bytes.
// Fan-out: `fanout` concurrent `strata pull` of v1 from a cold gateway on Ceph radosgw (bluestore,
//   4 GiB) — object-store bytes read (gateway metrics) and wall time — against as many direct
//   `curl` GETs of the same file stored as one object in the same radosgw.
// Throughput: one `strata pull` from a warm gateway over loopback HTTP.
// Serving: `curl` of GET /v1/artefacts/{id} from the warm gateway on radosgw against `curl` of the
//   same bytes straight from radosgw, alternating rounds (--rounds, medians).
// --no-delta skips the delta and throughput sections (the fan-out and serving rows only).
// Ratio lines (bench/ratio.ts): fan-out wall time (goal <= 0.5x direct) and serving (goal >= 0.5x).
// `--write` replaces the "## Artefacts: delta, fan-out, throughput" section of bench/RESULTS.md.
import { spawnSync } from "node:child_process";
import { closeSync, existsSync, mkdirSync, openSync, readFileSync, readSync, rmSync, statSync, writeFileSync } from "node:fs";
import { cpus, loadavg } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { startS3 } from "../test/helpers/ceph.ts";
import { type GatewayProcess, startGateway } from "../test/helpers/gateway.ts";
import { spreadIndices, writeModel } from "../test/helpers/model-file.ts";
import { type CliRun, runCli } from "./artefacts/cli.ts";
import { counter } from "./artefacts/metrics.ts";
import { rsyncDelta } from "./artefacts/rsync.ts";
import { concurrentGets, curlVersion, directGets, timedDirectGet, timedGet, uploadFile } from "./artefacts/s3-direct.ts";
import { intArg } from "./args.ts";
import { reportRatio } from "./ratio.ts";

const SECTION = "## Artefacts: delta, fan-out, throughput";
const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const work = join(root, "bench", ".work", "artefacts");
const MiB = 1024 * 1024;
const GiB = 1024 * MiB;


const sizeBytes = intArg("size-mib", 1024) * MiB;
const tensors = intArg("tensors", 200);
const changedCount = intArg("changed", Math.round(tensors * 0.05));
const fanout = intArg("fanout", 16);
const withFanout = !process.argv.includes("--no-fanout");
const withDelta = !process.argv.includes("--no-delta");
const rounds = intArg("rounds", 3);
const loadAtStart = loadavg();

const fmtBytes = (n: number): string => (n >= GiB ? `${(n / GiB).toFixed(2)} GiB` : `${(n / MiB).toFixed(1)} MiB`);
const fmtInt = (n: number): string => n.toLocaleString("en-US");
const ratio = (a: number, b: number): string => `${(a / b).toFixed(3)}×`;
const log = (s: string): void => console.error(`[${new Date().toISOString().slice(11, 19)}] ${s}`);

/** Bytes at which two equally long files differ. */
function differingBytes(a: string, b: string): number {
  const fa = openSync(a, "r");
  const fb = openSync(b, "r");
  try {
    const ba = new Uint8Array(8 * MiB);
    const bb = new Uint8Array(8 * MiB);
    let n = 0;
    for (;;) {
      const ra = readSync(fa, ba);
      const rb = readSync(fb, bb);
      if (ra !== rb) throw new Error("files differ in length");
      if (ra === 0) return n;
      for (let i = 0; i < ra; i++) if (ba[i] !== bb[i]) n++;
    }
  } finally {
    closeSync(fa);
    closeSync(fb);
  }
}

function version(cmd: string, args: string[]): string {
  const r = spawnSync(cmd, args, { encoding: "utf8" });
  return (r.stdout || r.stderr || "").split("\n")[0]!.trim();
}

rmSync(work, { recursive: true, force: true });
mkdirSync(work, { recursive: true });
const v1 = join(work, "v1.safetensors");
const v2 = join(work, "v2.safetensors");
const changed = spreadIndices(changedCount, tensors);
log(`writing v1 and v2 (${fmtBytes(sizeBytes)}, ${tensors} bf16 tensors, ${changedCount} changed)`);
const layout1 = writeModel(v1, { bytes: sizeBytes, tensors, seed: 1 });
const layout2 = writeModel(v2, { bytes: sizeBytes, tensors, seed: 1, changed, changeSeed: 2 });
if (layout1.size !== layout2.size) throw new Error("v1 and v2 differ in size");
const changedTensorBytes = [...changed].reduce((n, i) => n + layout2.tensors[i]!.end - layout2.tensors[i]!.begin, 0);
const differ = differingBytes(v1, v2);
log(`changed tensors ${fmtInt(changedTensorBytes)} B, differing bytes ${fmtInt(differ)}`);

// ---- Delta and throughput: a gateway on the local object store ----
let push1: CliRun, push2: CliRun, pull1: CliRun, pull2: CliRun, warm: CliRun, warmNoCache: CliRun;
let plainGet: { seconds: number; bytes: number };
let rsync: ReturnType<typeof rsyncDelta> | undefined;
if (withDelta) {
const local: GatewayProcess = await startGateway({ dataDir: join(work, "gateway-local") });
const env = { STRATA_GATEWAY: local.url };
try {
  log("push v1");
  push1 = await runCli(root, ["push", v1, "--stream", "bench/model"], env);
  log("push v2");
  push2 = await runCli(root, ["push", v2, "--stream", "bench/model"], env);
  const cache = join(work, "cache-delta");
  log("pull v1 (by id) into an empty cache");
  pull1 = await runCli(root, ["pull", push1.summary.artefact, join(work, "pull-v1"), "--cache", cache], env);
  log("pull v2 (latest on the stream) onto the cache holding v1");
  pull2 = await runCli(root, ["pull", "bench/model", join(work, "pull-v2"), "--cache", cache], env);
  for (const [out, src] of [["pull-v1", v1], ["pull-v2", v2]] as const) {
    if (!readFileSync(join(work, out)).equals(readFileSync(src))) throw new Error(`${out} differs from ${src}`);
  }
  rmSync(join(work, "pull-v1"));
  log("throughput: pull v2 from the warm gateway into an empty cache");
  warm = await runCli(root, ["pull", "bench/model", join(work, "pull-warm"), "--cache", join(work, "cache-warm")], env);
  rmSync(join(work, "pull-warm"));
  rmSync(join(work, "cache-warm"), { recursive: true, force: true });
  warmNoCache = await runCli(root, ["pull", "bench/model", join(work, "pull-warm"), "--cache", join(work, "cache-warm"), "--cache-size", "0"], env);
  rmSync(join(work, "pull-warm"));
  const t = performance.now();
  const r = spawnSync("curl", ["-sS", "--fail", "-o", "/dev/null", "-w", "%{size_download}", `${local.url}/v1/artefacts/${push2.summary.artefact}`], { encoding: "utf8" });
  plainGet = { seconds: (performance.now() - t) / 1000, bytes: Number(r.stdout) };
} finally {
  await local.stop();
}
log("rsync v2 onto v1");
rsync = rsyncDelta(v1, v2, work);
rmSync(join(work, "rsync-dest"), { recursive: true, force: true });
rmSync(join(work, "pull-v2"), { force: true });
}

// ---- Fan-out: a cold gateway on Ceph radosgw vs direct GETs ----
interface Fanout {
  strataSeconds: number;
  strataReadBytes: number;
  plainSeconds: number;
  plainReadBytes: number;
  directSeconds: number;
  directBytes: number;
  artefactBytes: number;
  pulls: CliRun[];
  /** Single warm GETs, alternating rounds: seconds of each. */
  serveSeconds: number[];
  directOneSeconds: number[];
}
let fan: Fanout | null = null;
let cephVersion = "";
if (withFanout) {
  process.env.OSD_STORE ??= "bluestore"; // memstore holds 2 GiB: not the file plus its packs plus garbage
  log("starting Ceph radosgw");
  const s3 = await startS3();
  cephVersion = version("radosgw", ["--version"]).replace(/\(.*$/, "").trim();
  const prefix = `bench-artefacts-${Date.now()}`;
  const s3Args = ["--s3-endpoint", s3.endpoint, "--s3-bucket", s3.bucket, "--s3-prefix", prefix, "--s3-region", s3.region];
  const s3Env = { AWS_ACCESS_KEY_ID: s3.accessKeyId, AWS_SECRET_ACCESS_KEY: s3.secretAccessKey };
  const dataDir = join(work, "gateway-s3");
  try {
    let gw = await startGateway({ dataDir, args: s3Args, env: s3Env });
    let id: string;
    try {
      log("push v1 to the gateway on radosgw");
      id = (await runCli(root, ["push", v1, "--stream", "bench/fanout"], { STRATA_GATEWAY: gw.url })).summary.artefact;
    } finally {
      await gw.stop();
    }
    const coldStart = async (): Promise<GatewayProcess> => {
      rmSync(join(dataDir, "pack-cache"), { recursive: true, force: true });
      return startGateway({ dataDir, args: s3Args, env: s3Env });
    };
    gw = await coldStart();
    try {
      const before = await counter(gw.url, "strata_object_store_read_bytes_total");
      log(`${fanout} concurrent pulls from the cold gateway`);
      const outs = join(work, "fanout");
      mkdirSync(outs, { recursive: true });
      const t = performance.now();
      const pulls = await Promise.all(
        Array.from({ length: fanout }, (_, i) =>
          runCli(root, ["pull", id, join(outs, `pull-${i}`), "--cache", join(outs, `cache-${i}`), "--cache-size", "0"], { STRATA_GATEWAY: gw.url }),
        ),
      );
      const strataSeconds = (performance.now() - t) / 1000;
      const strataReadBytes = (await counter(gw.url, "strata_object_store_read_bytes_total")) - before;
      for (let i = 0; i < fanout; i++) if (statSync(join(outs, `pull-${i}`)).size !== layout1.size) throw new Error(`pull-${i} has the wrong size`);
      rmSync(outs, { recursive: true, force: true });
      await gw.stop();
      log(`${fanout} concurrent plain GET /v1/artefacts/{id} from a cold gateway`);
      gw = await coldStart();
      const plainBefore = await counter(gw.url, "strata_object_store_read_bytes_total");
      mkdirSync(outs, { recursive: true });
      const plain = await concurrentGets(`${gw.url}/v1/artefacts/${id}`, fanout, outs);
      const plainReadBytes = (await counter(gw.url, "strata_object_store_read_bytes_total")) - plainBefore;
      rmSync(outs, { recursive: true, force: true });
      if (plain.bytes.some((b) => b !== layout1.size)) throw new Error(`a plain GET returned ${plain.bytes.join(",")} bytes`);
      log("upload v1 as one object; direct GETs");
      const key = `${prefix}-direct/v1.safetensors`;
      await uploadFile(s3, key, v1);
      mkdirSync(outs, { recursive: true });
      const direct = await directGets(s3, key, fanout, outs);
      rmSync(outs, { recursive: true, force: true });
      if (direct.bytes.some((b) => b !== layout1.size)) throw new Error(`a direct GET returned ${direct.bytes.join(",")} bytes`);
      // The gateway is warm now (the plain GETs read every block into its caches).
      log(`serving: ${rounds} alternating rounds of one warm GET /v1/artefacts/{id} and one direct GET`);
      const serveSeconds: number[] = [];
      const directOneSeconds: number[] = [];
      for (let r = 0; r < rounds; r++) {
        const viaGateway = await timedGet(`${gw.url}/v1/artefacts/${id}`);
        const straight = await timedDirectGet(s3, key);
        if (viaGateway.bytes !== layout1.size || straight.bytes !== layout1.size) throw new Error(`a serving GET returned ${viaGateway.bytes} / ${straight.bytes} bytes`);
        serveSeconds.push(viaGateway.seconds);
        directOneSeconds.push(straight.seconds);
      }
      fan = {
        serveSeconds,
        directOneSeconds, strataSeconds, strataReadBytes, plainSeconds: plain.seconds, plainReadBytes, directSeconds: direct.seconds, directBytes: direct.bytes.reduce((a, b) => a + b, 0), artefactBytes: layout1.size, pulls };
    } finally {
      await gw.stop();
    }
  } finally {
    await s3.stop();
  }
}

// ---- Report ----
const median = (xs: readonly number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 === 1 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
};
const fmtLoad = (l: readonly number[]): string => l.map((x) => x.toFixed(1)).join(" ");
const machine = `${cpus().length} cores (${cpus()[0]?.model.trim() ?? "?"}), load average at start ${fmtLoad(loadAtStart)}, at end ${fmtLoad(loadavg())}`;
const versions = [`Bun ${Bun.version}`, ...(rsync ? [rsync.version] : []), curlVersion(), ...(cephVersion ? [cephVersion] : [])].join(", ");
const lines: string[] = [];
if (rsync) lines.push(
  `Model: ${fmtBytes(layout1.size)} safetensors, ${tensors} bf16 tensors; v2 rewrites ${changedCount} of them (${((changedCount / tensors) * 100).toFixed(0)}%): ${fmtInt(changedTensorBytes)} bytes of tensors changed, of which ${fmtInt(differ)} bytes differ.`,
  "",
  "| Delta v1 → v2 | bytes moved | × changed tensor bytes | vs rsync literal | wall s |",
  "|---|---:|---:|---:|---:|",
  `| changed tensor bytes (truth) | ${fmtInt(changedTensorBytes)} | 1.000× | ${ratio(changedTensorBytes, rsync.literalBytes)} | |`,
  `| rsync --no-whole-file: literal data (total sent ${fmtInt(rsync.sentBytes)}) | ${fmtInt(rsync.literalBytes)} | ${ratio(rsync.literalBytes, changedTensorBytes)} | 1.000× | ${rsync.seconds.toFixed(2)} |`,
  `| strata push v2 after v1 (${push2!.summary.chunks_transferred} of ${push2!.summary.chunks_total} chunks) | ${fmtInt(push2!.summary.bytes_transferred)} | ${ratio(push2!.summary.bytes_transferred, changedTensorBytes)} | ${ratio(push2!.summary.bytes_transferred, rsync.literalBytes)} | ${push2!.wall.toFixed(2)} |`,
  `| strata pull v2 onto a cache holding v1 (${pull2!.summary.chunks_transferred} of ${pull2!.summary.chunks_total} chunks) | ${fmtInt(pull2!.summary.bytes_transferred)} | ${ratio(pull2!.summary.bytes_transferred, changedTensorBytes)} | ${ratio(pull2!.summary.bytes_transferred, rsync.literalBytes)} | ${pull2!.wall.toFixed(2)} |`,
  `| (for scale) strata push v1, pull v1 into an empty cache | ${fmtInt(push1!.summary.bytes_transferred)}, ${fmtInt(pull1!.summary.bytes_transferred)} | | | ${push1!.wall.toFixed(2)}, ${pull1!.wall.toFixed(2)} |`,
  "",
);
if (fan) {
  const per = (s: number): string => `${((fan!.artefactBytes * fanout) / s / 1e9).toFixed(2)}`;
  lines.push(
    `| Fan-out: ${fanout} concurrent readers of ${fmtBytes(fan.artefactBytes)} | object-store bytes read | × artefact | wall s | aggregate GB/s |`,
    "|---|---:|---:|---:|---:|",
    `| strata pull ×${fanout}, cold gateway on radosgw (client cache off) | ${fmtInt(fan.strataReadBytes)} | ${ratio(fan.strataReadBytes, fan.artefactBytes)} | ${fan.strataSeconds.toFixed(2)} | ${per(fan.strataSeconds)} |`,
    `| curl GET /v1/artefacts/{id} ×${fanout}, cold gateway (no client verification) | ${fmtInt(fan.plainReadBytes)} | ${ratio(fan.plainReadBytes, fan.artefactBytes)} | ${fan.plainSeconds.toFixed(2)} | ${per(fan.plainSeconds)} |`,
    `| curl GET ×${fanout} straight from radosgw | ${fmtInt(fan.directBytes)} | ${ratio(fan.directBytes, fan.artefactBytes)} | ${fan.directSeconds.toFixed(2)} | ${per(fan.directSeconds)} |`,
    `| **strata / direct** | | ${ratio(fan.strataReadBytes, fan.directBytes)} | **${ratio(fan.strataSeconds, fan.directSeconds)}** | |`,
    "",
  );
  const serve = median(fan.serveSeconds);
  const straight = median(fan.directOneSeconds);
  const gb = (s: number): string => (fan!.artefactBytes / s / 1e9).toFixed(3);
  lines.push(
    `| Serving: one GET of ${fmtBytes(fan.artefactBytes)}, ${rounds} alternating rounds (median) | s | GB/s |`,
    "|---|---:|---:|",
    `| curl GET /v1/artefacts/{id}, warm gateway on radosgw | ${serve.toFixed(2)} | ${gb(serve)} |`,
    `| curl GET straight from radosgw | ${straight.toFixed(2)} | ${gb(straight)} |`,
    `| **gateway / radosgw (throughput)** | | **${ratio(straight, serve)}** |`,
    "",
  );
  const fanRatio = fan.strataSeconds / fan.directSeconds;
  reportRatio({
    metric: `artefact fan-out: ${fanout} concurrent strata pull of ${fmtBytes(fan.artefactBytes)}, cold gateway (wall time)`,
    peer: `${fanout} concurrent curl GETs straight from radosgw`,
    strata: `${fan.strataSeconds.toFixed(2)} s`,
    peerValue: `${fan.directSeconds.toFixed(2)} s`,
    ratio: fanRatio,
    goal: "<= 0.5x wall time",
    met: fanRatio <= 0.5,
  });
  reportRatio({
    metric: `artefact fan-out: ${fanout} concurrent curl GET /v1/artefacts/{id}, cold gateway (wall time)`,
    peer: `${fanout} concurrent curl GETs straight from radosgw`,
    strata: `${fan.plainSeconds.toFixed(2)} s`,
    peerValue: `${fan.directSeconds.toFixed(2)} s`,
    ratio: fan.plainSeconds / fan.directSeconds,
  });
  reportRatio({
    metric: `artefact serving: curl GET /v1/artefacts/{id} of ${fmtBytes(fan.artefactBytes)}, warm gateway (throughput)`,
    peer: "curl GET of the same bytes straight from radosgw",
    strata: `${gb(serve)} GB/s`,
    peerValue: `${gb(straight)} GB/s`,
    ratio: straight / serve,
    goal: ">= 0.5x",
    met: straight / serve >= 0.5,
  });
}
const gbps = (r: CliRun): string => (r.summary.bytes_total / r.summary.seconds / 1e9).toFixed(3);
if (withDelta) lines.push(
  `| Throughput: one pull of ${fmtBytes(warm!.summary.bytes_total)} from a warm gateway, loopback | s (summary) | GB/s |`,
  "|---|---:|---:|",
  `| strata pull, empty chunk cache (writes OUT and ${warm!.summary.chunks_total} cache files) | ${warm!.summary.seconds.toFixed(2)} | ${gbps(warm!)} |`,
  `| strata pull --cache-size 0 (writes OUT only) | ${warmNoCache!.summary.seconds.toFixed(2)} | ${gbps(warmNoCache!)} |`,
  `| reference: curl GET /v1/artefacts/{id} -o /dev/null (no client verification, no file) | ${plainGet!.seconds.toFixed(2)} | ${(plainGet!.bytes / plainGet!.seconds / 1e9).toFixed(3)} |`,
);
const table = lines.join("\n");
console.log(`${machine}; ${versions}\n\n${table}`);

if (process.argv.includes("--write")) {
  const file = join(root, "bench", "RESULTS.md");
  const notes = join(root, "bench", "artefacts-notes.md");
  const body = [
    SECTION,
    "",
    `Measured by \`bun bench/artefacts.ts --write\` on ${new Date().toISOString().slice(0, 10)}: ${machine}; ${versions}.`,
    "",
    table,
    "",
    existsSync(notes) ? readFileSync(notes, "utf8").trim() : "",
    "",
  ].join("\n");
  const current = existsSync(file) ? readFileSync(file, "utf8") : "# Benchmark results\n";
  const start = current.indexOf(SECTION);
  let next: string;
  if (start === -1) next = `${current.trimEnd()}\n\n${body}`;
  else {
    const after = current.indexOf("\n## ", start + SECTION.length);
    next = current.slice(0, start) + body + (after === -1 ? "" : current.slice(after + 1));
  }
  writeFileSync(file, next.endsWith("\n") ? next : `${next}\n`);
  log(`wrote ${SECTION} into bench/RESULTS.md`);
}
rmSync(work, { recursive: true, force: true });
