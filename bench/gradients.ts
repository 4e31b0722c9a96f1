// Gradient bench: a quorum all-reduce through Strata (strata.grad.allreduce_quorum, the gateway and
// `strata aggregate`) against torch.distributed's all_reduce with the gloo backend, side by side in
// one run (issue 12, scope 4).
//   bun bench/gradients.ts                          (4 ranks x 25 MB float32, 16 steps)
//   GRAD_BENCH_MB=1 GRAD_BENCH_STEPS=20 bun bench/gradients.ts   (small gradients: the straggler dominates)
// Every configuration runs 4 Python rank processes (bench/gradients/rank.py, Debian's python3 with
// torch, test/helpers/python.ts) driven step by step from here: each step starts when every rank
// has finished the previous one, and its latency is the longest time an on-time rank spent in it
// (from the start of the step to the mean in hand). Two warm-up steps are not counted.
//   - Strata, --quorum 1.0 and 0.75: one gateway (`strata serve`, limits raised for 25 MB records)
//     and one `strata aggregate` per configuration, on its own gradient stream;
//   - gloo: torch.distributed.init_process_group("gloo", file://...), all_reduce(SUM) then / 4;
// then all three again with rank 3 sleeping 200 ms before contributing at every step (the late
// rank is not counted in the latency: the question is whether the others wait for it).
// Prints median and p99 per configuration, the ratio to gloo, the bytes a Strata step moves over
// HTTP, the runtime versions and the load average.
import { spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { cpus, loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { z } from "zod";
import { ensurePythonTorch, PYTHON_DIR, python, runPython } from "../test/helpers/python.ts";
import { ROOT } from "./log/processes.ts";
import { firstMatch } from "./read-path.ts";

const MiB = 1024 * 1024;
const STEPS = Number(process.env.GRAD_BENCH_STEPS ?? 16);
const WARMUP = 2;
const MB = Number(process.env.GRAD_BENCH_MB ?? 25);
const ELEMENTS = Math.floor((MB * 1e6) / 4);
const WORLD = 4;
const LATE_RANK = 3;
const LATE_MS = 200;
const SCRIPT = join(ROOT, "bench/gradients/rank.py");

const stepLine = z.object({
  step: z.number().int(),
  rank: z.number().int(),
  seconds: z.number(),
  contributors: z.array(z.number().int()),
  post: z.number().optional(),
  fetch: z.number().optional(),
});
type StepLine = z.infer<typeof stepLine>;

interface Child {
  readonly process: ChildProcess;
  readonly exited: Promise<void>;
  output(): string;
}

function start(command: string, args: string[], env: Record<string, string> = {}): Child {
  const child = spawn(command, args, { cwd: ROOT, stdio: ["pipe", "pipe", "pipe"], env: { ...process.env, ...env } });
  let output = "";
  child.stderr!.on("data", (d: Buffer) => (output = (output + d.toString()).slice(-16_384)));
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  return { process: child, exited, output: () => output };
}

async function stop(child: Child): Promise<void> {
  if (child.process.exitCode === null && child.process.signalCode === null) child.process.kill("SIGTERM");
  await child.exited;
}

/** The rank processes of one configuration, stepped together: a step's lines arrive in any order. */
class Ranks {
  private readonly lines: AsyncIterator<string>[];

  constructor(private readonly children: Child[]) {
    this.lines = children.map((c) => createInterface({ input: c.process.stdout! })[Symbol.asyncIterator]());
  }

  private async next(i: number): Promise<string> {
    const line = await this.lines[i]!.next();
    if (line.done) throw new Error(`rank ${i} exited:\n${this.children[i]!.output()}`);
    return line.value;
  }

  async ready(): Promise<void> {
    await Promise.all(this.children.map(async (_, i) => {
      const line = await this.next(i);
      if (line !== "ready") throw new Error(`rank ${i} said ${line}:\n${this.children[i]!.output()}`);
    }));
  }

  async step(step: number): Promise<StepLine[]> {
    for (const child of this.children) child.process.stdin!.write(`step ${step}\n`);
    return Promise.all(this.children.map(async (_, i) => stepLine.parse(JSON.parse(await this.next(i)))));
  }

  async close(): Promise<void> {
    for (const child of this.children) child.process.stdin!.end("quit\n");
    await Promise.all(this.children.map((c) => c.exited));
  }
}

interface Result {
  readonly label: string;
  readonly late: boolean;
  readonly seconds: number[];
  readonly contributors: number;
  /** Strata only: per on-time rank and step, its POST, its wait for the mean after the POST, and the mean's GET. */
  readonly phases: { post: number[]; wait: number[]; fetch: number[] };
}

/** Steps the ranks; a step's latency is the longest on-time rank's time in it. */
async function measure(label: string, late: boolean, ranks: Ranks): Promise<Result> {
  await ranks.ready();
  const seconds: number[] = [];
  const phases = { post: [] as number[], wait: [] as number[], fetch: [] as number[] };
  let contributors = 0;
  for (let step = 0; step < WARMUP + STEPS; step++) {
    const lines = await ranks.step(step);
    const onTime = lines.filter((l) => !late || l.rank !== LATE_RANK);
    if (step >= WARMUP) {
      seconds.push(Math.max(...onTime.map((l) => l.seconds)));
      contributors += lines[0]!.contributors.length;
      for (const l of onTime) {
        if (l.post === undefined || l.fetch === undefined) continue;
        phases.post.push(l.post);
        phases.fetch.push(l.fetch);
        phases.wait.push(l.seconds - l.post - l.fetch);
      }
    }
  }
  await ranks.close();
  return { label, late, seconds, contributors: contributors / STEPS, phases };
}

async function startStrataGateway(dir: string): Promise<{ url: string; child: Child }> {
  const config = join(dir, "config.json");
  // One contribution is one record of ~25 MB: records are raised to 32 MiB, batches, frames and
  // reads to 64 MiB (a segment's size), and four ranks' bodies in flight (and awaiting fsync) to 512 MiB.
  writeFileSync(
    config,
    JSON.stringify({
      limits: { maxRecordBytes: 32 * MiB, maxRequestBytes: 64 * MiB, maxRequestBytesInFlight: 512 * MiB, maxFetchBytes: 64 * MiB },
      // One segment holds a configuration's whole gradient stream (18 steps x 100 MB), so no segment
      // is sealed while the aggregator reads at the tail: a read racing a seal can fail with EBADF
      // (the sealed WAL's handle is closed under it), and the aggregator exits on that error.
      storage: { maxBatchBytes: 64 * MiB, maxPendingBytes: 512 * MiB, segmentBytes: 2 * 1024 * MiB },
      quic: { maxFrameBytes: 64 * MiB },
      gradients: { maxContributionBytes: 64 * MiB },
    }),
  );
  const child = start(process.execPath, [join(ROOT, "cli/main.ts"), "serve", "--data", join(dir, "data"), "--port", "0", "--config", config]);
  const url = await firstMatch(child.process, /listening on (http:\/\/\S+)/, "strata gateway");
  return { url, child };
}

async function strata(url: string, quorum: string, late: boolean): Promise<Result> {
  const stream = `bench/grads-q${quorum}${late ? "-late" : ""}`;
  // The deadline is far: on time or late, the quorum decides when the mean is published.
  const aggregator = start(process.execPath, [join(ROOT, "cli/main.ts"), "aggregate", "--stream", stream, "--quorum", quorum, "--deadline-ms", "30000"], { STRATA_GATEWAY: url });
  // An aggregator that exits while the ranks wait fails the run at once, with its log.
  const aggregatorExited = aggregator.exited.then(() => Promise.reject(new Error(`strata aggregate exited:\n${aggregator.output()}`)));
  aggregatorExited.catch(() => undefined); // also rejects after a normal stop, when nobody waits on it
  const ranks = Array.from({ length: WORLD }, (_, rank) =>
    start(python(), [SCRIPT, "strata", url, stream, String(rank), String(WORLD), quorum, String(late ? LATE_RANK : -1), String(LATE_MS), String(ELEMENTS)], { PYTHONPATH: PYTHON_DIR }),
  );
  try {
    const label = `Strata, quorum ${quorum}${quorum === "1.0" ? "" : ` (${Math.ceil(Number(quorum) * WORLD)} of ${WORLD})`}`;
    return await Promise.race([measure(label, late, new Ranks(ranks)), aggregatorExited]);
  } finally {
    await Promise.all(ranks.map(stop));
    await stop(aggregator);
  }
}

async function gloo(dir: string, late: boolean): Promise<Result> {
  const initFile = join(dir, `gloo-init-${late ? "late" : "on-time"}`);
  const ranks = Array.from({ length: WORLD }, (_, rank) =>
    start(python(), [SCRIPT, "gloo", initFile, String(rank), String(WORLD), String(late ? LATE_RANK : -1), String(LATE_MS), String(ELEMENTS)], { PYTHONPATH: PYTHON_DIR }),
  );
  return measure("torch.distributed all_reduce, gloo", late, new Ranks(ranks));
}

function quantile(values: number[], q: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1)]!;
}

const ms = (seconds: number): string => (seconds * 1000).toFixed(1);

function table(results: Result[]): string {
  const rows = ["| configuration | straggler | median ms | p99 ms | median / gloo | mean contributors |", "|---|---|---:|---:|---:|---:|"];
  for (const r of results) {
    const peer = results.find((p) => p.label.startsWith("torch") && p.late === r.late)!;
    const ratio = quantile(r.seconds, 0.5) / quantile(peer.seconds, 0.5);
    rows.push(`| ${r.label} | ${r.late ? `rank ${LATE_RANK} +${LATE_MS} ms` : "none"} | ${ms(quantile(r.seconds, 0.5))} | ${ms(quantile(r.seconds, 0.99))} | ${ratio.toFixed(2)}x | ${r.contributors.toFixed(2)} |`);
  }
  return rows.join("\n");
}

function phaseTable(results: Result[], size: string): string {
  const rows = [`| configuration | straggler | POST ${size} (framing, upload, append) | wait for the mean | GET the mean (download, decode) |`, "|---|---|---:|---:|---:|"];
  for (const r of results) {
    if (r.phases.post.length === 0) continue;
    const cell = (values: number[]): string => `${ms(quantile(values, 0.5))} / ${ms(quantile(values, 0.99))}`;
    rows.push(`| ${r.label} | ${r.late ? `rank ${LATE_RANK} +${LATE_MS} ms` : "none"} | ${cell(r.phases.post)} | ${cell(r.phases.wait)} | ${cell(r.phases.fetch)} |`);
  }
  return rows.join("\n");
}

async function main(): Promise<void> {
  python();
  if (!ensurePythonTorch()) throw new Error("the gloo side needs torch in Debian's python3 (apt-get install python3-torch)");
  const versions = runPython([SCRIPT, "versions"], { cwd: PYTHON_DIR });
  if (versions.code !== 0) throw new Error(`rank.py versions: ${versions.stderr}`);
  if ((WARMUP + STEPS) * WORLD * ELEMENTS * 4 > 2 * 1024 * MiB) throw new Error("a configuration's gradient stream must fit one 2 GiB segment: fewer GRAD_BENCH_STEPS or GRAD_BENCH_MB");
  const loadBefore = loadavg();
  const dir = mkdtempSync(join(tmpdir(), "strata-grad-bench-"));
  const results: Result[] = [];
  const gateway = await startStrataGateway(dir).catch((error: unknown) => {
    rmSync(dir, { recursive: true, force: true });
    throw error;
  });
  try {
    for (const late of [false, true]) {
      results.push(await strata(gateway.url, "1.0", late));
      results.push(await strata(gateway.url, "0.75", late));
      results.push(await gloo(dir, late));
    }
  } catch (error) {
    throw new Error(`${error instanceof Error ? error.message : String(error)}\ngateway's log:\n${gateway.child.output()}`);
  } finally {
    await stop(gateway.child);
    rmSync(dir, { recursive: true, force: true });
  }
  const loadAfter = loadavg();
  const bytes = ELEMENTS * 4;
  const mb = (n: number): string => (n / 1e6).toFixed(0);
  console.log(`## Gradient step: ${WORLD} ranks x ${mb(bytes)} MB float32, ${STEPS} steps (after ${WARMUP} warm-up)\n`);
  console.log(table(results));
  console.log(`\nWhere an on-time Strata rank's step goes (median / p99 ms over ranks and steps; the wait covers the other ranks' posts, the aggregator reading them, summing and publishing the mean):\n`);
  console.log(phaseTable(results, `${mb(bytes)} MB`));
  console.log(
    `\nA Strata step moves over HTTP on loopback: ${WORLD} x ${mb(bytes)} MB of contributions in, the aggregator reading them (${WORLD} x ${mb(bytes)} MB) and publishing the mean (${mb(bytes)} MB), ` +
      `and each rank reading the mean (${WORLD} x ${mb(bytes)} MB): ${mb(bytes * (3 * WORLD + 1))} MB per step, each encoded and decoded as MessagePack; gloo moves the ring's 2 x (${WORLD}-1)/${WORLD} x ${mb(bytes)} MB per rank between the processes directly.`,
  );
  const g = globalThis as { Bun?: { version: string } };
  const v = JSON.parse(versions.stdout.trim()) as Record<string, string>;
  console.log(`\nVersions: Bun ${g.Bun?.version ?? "?"} (gateway, aggregator, bench), Python ${v["python"]}, numpy ${v["numpy"]}, msgpack ${v["msgpack"]}, torch ${v["torch"]} (gloo).`);
  console.log(`Machine: ${cpus().length} cores (${cpus()[0]?.model ?? "?"}); load average before ${loadBefore.map((l) => l.toFixed(2)).join(" ")}, after ${loadAfter.map((l) => l.toFixed(2)).join(" ")}.`);
}

await main();
