// Cluster bench (issue 14, docs/cluster.md): publish throughput and acknowledgement latency with
// 1 and 3 gateways in cluster mode beside a single gateway out of cluster mode, CPU per record,
// the intake's object PUTs, and failover time over leader kills (Bun).
//   bun bench/cluster.ts [--seconds 3] [--rounds 3] [--producers 6] [--kills 10] [--clean-stops 3]
//                        [--lease-ms 6000] [--renew-ms 1500] [--rebalance-ms 1000]  (default: the gateway's defaults)
// Starts one radosgw (test/helpers/ceph.ts), then on it: a single `strata serve` (the peer: its
// own WAL, embedded libSQL file, segments to radosgw), and two dev clusters (cli/dev: a fresh
// libSQL server each and 1 or 3 `strata serve --cluster` processes). Every process shares this
// machine's cores, so 3 gateways here measure what the protocol costs, not scale-out.
//
// Publish: `--producers` idempotent producers, each on its own partition, each sending
// client-built batches of 1 or 100 x 1 KiB records in a closed loop to gateway (i mod N), as a
// load balancer spreads them (in a cluster most requests are forwarded to the leader). Rounds
// interleave the systems (each system once per round, per batch size); the tables give medians
// of the rounds. Per run: records/s, p50/p99 of request send-to-acknowledgement, the gateways'
// CPU (utime + stime from /proc/<pid>/stat) per record, the libSQL server's CPU per record, and
// from the gateways' /metrics the intake PUTs, bytes per PUT and intake commit latency.
//
// Failover: on the 3-gateway cluster, the leader of a partition (round i: partition i mod 12) is
// SIGKILLed `--kills` times (then stopped cleanly with SIGTERM `--clean-stops` times); a prober
// publishing to that partition through another gateway every 20 ms gives the write pause (the longest gap between its
// acknowledgements around the change of leader); the gateway is started again and the cluster
// left to settle before the next round. At the end every acknowledged probe is read back: how
// many were lost or duplicated is printed under the table.
import { execFileSync } from "node:child_process";
import { cpus, loadavg } from "node:os";
import { intArg } from "./args.ts";
import { addIntake, cpuSeconds, intakeCounters, intakeDelta, NO_INTAKE, type IntakeCounters } from "./cluster/gateway-probes.ts";
import { measureFailovers, verifyProbes, type FailoverRound, type ProbeVerdict } from "./cluster/failover.ts";
import { producersFor, runLoad, RECORD_BYTES, type Producer } from "./cluster/producer-load.ts";
import { createStream, leadersOf, startCluster, startSingleGateway, type System } from "./cluster/setups.ts";
import { median, quantile } from "./log/open-loop.ts";
import { reportRatio, type Ratio } from "./ratio.ts";
import { SQLD_BINARY } from "../cli/dev/sqld.ts";
import { startS3 } from "../test/helpers/ceph.ts";
import { waitUntil } from "../test/helpers/cluster.ts";
import { DEFAULT_CLUSTER_LIMITS } from "../gateway/cluster/cluster-limits.ts";

const SECONDS = intArg("seconds", 3);
const ROUNDS = intArg("rounds", 3);
const PRODUCERS = intArg("producers", 6);
const KILLS = intArg("kills", 10);
const CLEAN_STOPS = intArg("clean-stops", 3);
// The gateway's own defaults unless told otherwise, so the failover rows measure what a user gets.
const TIMINGS = {
  leaseMs: intArg("lease-ms", DEFAULT_CLUSTER_LIMITS.leaseMs),
  renewMs: intArg("renew-ms", DEFAULT_CLUSTER_LIMITS.renewMs),
  rebalanceMs: intArg("rebalance-ms", DEFAULT_CLUSTER_LIMITS.rebalanceMs),
};
const BATCHES = [1, 100] as const;
const FAILOVER_PARTITIONS = 12;
/** Price assumption (docs/cluster.md): S3 Standard PUT requests, $ per request. */
const PUT_PRICE = 0.005 / 1000;
const GiB = 2 ** 30;

type VariantKey = "single-local" | "single-durable" | "cluster-1" | "cluster-3";

interface Variant {
  readonly key: VariantKey;
  readonly label: string;
  readonly acks: "local" | "durable";
  readonly system: System;
  /** The libSQL server's pid (clusters). */
  readonly sqldPid: () => number | undefined;
  /** What an acknowledgement means. */
  readonly guarantee: string;
}

interface Sample {
  readonly recordsPerSecond: number;
  readonly p50: number;
  readonly p99: number;
  /** Gateway CPU (all the system's gateways) per record, µs. */
  readonly cpuUsPerRecord: number;
  /** Mean CPU use per gateway during the run, in cores. */
  readonly coresPerGateway: number;
  readonly sqldUsPerRecord: number;
  readonly intake: IntakeCounters;
  readonly seconds: number;
}

const log = (message: string): void => void process.stderr.write(`[cluster bench ${((performance.now() - started) / 1000).toFixed(1)} s] ${message}\n`);
const started = performance.now();
const fmt = (n: number, digits = 0): string => (Number.isFinite(n) ? n.toLocaleString("en-US", { maximumFractionDigits: digits, minimumFractionDigits: digits }) : "–");

function version(command: string, args: string[]): string {
  try {
    return execFileSync(command, args, { encoding: "utf8", timeout: 10_000 }).trim().split("\n")[0]!;
  } catch {
    return "?";
  }
}

async function measure(variant: Variant, stream: string, producers: readonly Producer[], batch: number, seconds: number): Promise<Sample> {
  const urls = variant.system.urls();
  const pids = variant.system.pids();
  const sqldPid = variant.sqldPid();
  const cpuBefore = pids.map(cpuSeconds);
  const sqldBefore = sqldPid === undefined ? 0 : cpuSeconds(sqldPid);
  const intakeBefore = await Promise.all(urls.map(intakeCounters));
  const run = await runLoad({ urls, stream, producers, batch, acks: variant.acks, seconds });
  const cpu = pids.map((pid, i) => cpuSeconds(pid) - cpuBefore[i]!).reduce((a, b) => a + b, 0);
  const sqldCpu = sqldPid === undefined ? 0 : cpuSeconds(sqldPid) - sqldBefore;
  const intakeAfter = await Promise.all(urls.map(intakeCounters));
  const intake = intakeAfter.map((after, i) => intakeDelta(after, intakeBefore[i]!)).reduce(addIntake, NO_INTAKE);
  return {
    recordsPerSecond: run.records / run.seconds,
    p50: quantile(run.latenciesMs, 0.5),
    p99: quantile(run.latenciesMs, 0.99),
    cpuUsPerRecord: (cpu * 1e6) / run.records,
    coresPerGateway: cpu / run.seconds / pids.length,
    sqldUsPerRecord: (sqldCpu * 1e6) / run.records,
    intake,
    seconds: run.seconds,
  };
}

/** Waits until every partition of `stream` has a leader (clusters); a single gateway has none to wait for. */
async function ready(system: System, stream: string, clustered: boolean): Promise<void> {
  if (!clustered) return;
  await waitUntil(`leaders for every partition of ${stream}`, async () => ((await leadersOf(system.urls()[0]!, stream)).every((l) => l !== null) ? true : undefined), 120_000, 100);
}

function failoverRow(rounds: readonly FailoverRound[], how: string): string {
  const s = rounds.map((r) => r.seconds);
  const u = rounds.map((r) => r.untilAcknowledged);
  return `| ${how} | ${rounds.length} | ${fmt(median(s), 2)} | ${fmt(Math.max(...s), 2)} | ${fmt(Math.min(...s), 2)} | ${fmt(median(u), 2)} | ${fmt(Math.max(...u), 2)} | ${rounds.map((r) => `${r.seconds.toFixed(2)} (${r.node})`).join(", ")} |`;
}

async function main(): Promise<void> {
  const loadBefore = loadavg();
  log(`starting radosgw`);
  const s3 = await startS3();
  const systems: System[] = [];
  const variants: Variant[] = [];
  const samples = new Map<string, Sample[]>();
  const lines: string[] = [];
  const ratios: Ratio[] = [];
  let killRounds: FailoverRound[] = [];
  let stopRounds: FailoverRound[] = [];
  let verdict: ProbeVerdict | undefined;
  const idBase = Math.floor(Math.random() * 1e6) * 1000;
  try {
    log("starting the single gateway");
    const single = await startSingleGateway(s3);
    systems.push(single);
    log("starting a cluster of 1 gateway");
    const one = await startCluster(s3, 1, TIMINGS);
    systems.push(one);
    log("starting a cluster of 3 gateways");
    const three = await startCluster(s3, 3, TIMINGS);
    systems.push(three);
    const intakeGuarantee = "the intake object holding it is in radosgw and its range committed in the libSQL server (survives the loss of the gateway)";
    variants.push(
      { key: "single-local", label: "single gateway, acks=local", acks: "local", system: single, sqldPid: () => undefined, guarantee: "after the fsync of the gateway's own WAL (lost with the machine)" },
      { key: "single-durable", label: "single gateway, acks=durable", acks: "durable", system: single, sqldPid: () => undefined, guarantee: "after the segment holding it is in radosgw and committed in the gateway's libSQL file" },
      { key: "cluster-1", label: "cluster, 1 gateway", acks: "local", system: one, sqldPid: () => one.dev.sqld.pid(), guarantee: `after ${intakeGuarantee}` },
      { key: "cluster-3", label: "cluster, 3 gateways", acks: "local", system: three, sqldPid: () => three.dev.sqld.pid(), guarantee: `after ${intakeGuarantee}` },
    );

    // One stream per variant and batch size, one partition per producer; producers keep their
    // sequences across runs. acks=local and acks=durable of the single gateway get streams of
    // their own: a durable append waits for every earlier record of its partition to be in a
    // segment, so sharing a stream would make it wait for the local runs' backlog.
    const streamOf = (v: Variant, batch: number): string => `bench-${v.key}-b${batch}`;
    const producers = new Map<string, Producer[]>();
    let nextId = idBase;
    for (const variant of variants) {
      for (const batch of BATCHES) {
        const stream = streamOf(variant, batch);
        await createStream(variant.system.urls()[0]!, stream, PRODUCERS);
        await ready(variant.system, stream, variant.system !== single);
        producers.set(stream, producersFor(PRODUCERS, nextId));
        nextId += PRODUCERS;
      }
    }
    log("warming up");
    for (const variant of variants) for (const batch of BATCHES) await runLoad({ urls: variant.system.urls(), stream: streamOf(variant, batch), producers: producers.get(streamOf(variant, batch))!, batch, acks: variant.acks, seconds: 0.5 });

    for (let round = 0; round < ROUNDS; round++) {
      for (const batch of BATCHES) {
        for (const variant of variants) {
          log(`round ${round + 1}/${ROUNDS}, batch ${batch}, ${variant.label}`);
          const sample = await measure(variant, streamOf(variant, batch), producers.get(streamOf(variant, batch))!, batch, SECONDS);
          const key = `${variant.key}/${batch}`;
          samples.set(key, [...(samples.get(key) ?? []), sample]);
        }
      }
    }

    log(`failover: ${KILLS} SIGKILLs of a leader, then ${CLEAN_STOPS} clean stops, on the cluster of 3`);
    const failoverStream = "bench-failover";
    await createStream(three.urls()[0]!, failoverStream, FAILOVER_PARTITIONS);
    await ready(three, failoverStream, true);
    const kills = await measureFailovers({ dev: three.dev, stream: failoverStream, partitions: FAILOVER_PARTITIONS, rounds: KILLS, how: "SIGKILL", producerId: nextId, onRound: (r, i) => log(`kill ${i + 1}: ${r.node} (partition ${r.partition}), pause ${r.seconds.toFixed(2)} s (${r.refusals} refused)`) });
    killRounds = [...kills.rounds];
    const stops = await measureFailovers({ dev: three.dev, stream: failoverStream, partitions: FAILOVER_PARTITIONS, rounds: CLEAN_STOPS, how: "SIGTERM", producerId: nextId + FAILOVER_PARTITIONS, onRound: (r, i) => log(`clean stop ${i + 1}: ${r.node} (partition ${r.partition}), pause ${r.seconds.toFixed(2)} s (${r.refusals} refused)`) });
    stopRounds = [...stops.rounds];
    verdict = await verifyProbes(three.dev, failoverStream, [kills, stops]);
  } finally {
    log("stopping");
    for (const system of systems.reverse()) await system.stop().catch((e: unknown) => log(`stopping ${system.label}: ${String(e)}`));
    await s3.stop();
  }
  const loadAfter = loadavg();

  const med = (key: string, pick: (s: Sample) => number): number => median((samples.get(key) ?? []).map(pick));
  lines.push(`\n### Publish: ${PRODUCERS} idempotent producers (one partition each), 1 KiB records, closed loop, ${SECONDS} s per run, medians of ${ROUNDS} interleaved rounds\n`);
  lines.push("| batch | system | records/s | p50 ms | p99 ms | gateway CPU µs/record | CPU per gateway (cores) | sqld CPU µs/record | intake PUTs/s | KiB per PUT | intake commit mean ms | $/GB in intake PUTs |");
  lines.push("| ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |");
  for (const batch of BATCHES) {
    for (const v of variants) {
      const key = `${v.key}/${batch}`;
      const putsPerSecond = med(key, (s) => s.intake.puts / s.seconds);
      const bytesPerPut = med(key, (s) => (s.intake.puts > 0 ? s.intake.bytes / s.intake.puts : Number.NaN));
      const commitMs = med(key, (s) => (s.intake.commitCount > 0 ? (s.intake.commitSecondsSum / s.intake.commitCount) * 1000 : Number.NaN));
      const clustered = v.key.startsWith("cluster");
      lines.push(
        `| ${batch} | ${v.label} | ${fmt(med(key, (s) => s.recordsPerSecond))} | ${fmt(med(key, (s) => s.p50), 2)} | ${fmt(med(key, (s) => s.p99), 2)} | ${fmt(med(key, (s) => s.cpuUsPerRecord), 1)} | ${fmt(med(key, (s) => s.coresPerGateway), 2)} | ${clustered ? fmt(med(key, (s) => s.sqldUsPerRecord), 1) : "–"} | ${clustered ? fmt(putsPerSecond, 1) : "–"} | ${clustered ? fmt(bytesPerPut / 1024, 1) : "–"} | ${clustered ? fmt(commitMs, 2) : "–"} | ${clustered ? `$${fmt((GiB / bytesPerPut) * PUT_PRICE, 4)}` : "–"} |`,
      );
    }
  }
  lines.push("\nWhat an acknowledgement means:");
  for (const v of variants) lines.push(`- ${v.label}: ${v.guarantee}.`);
  lines.push("- $/GB in intake PUTs: (2^30 / bytes per PUT) x $0.005 per 1,000 PUTs (S3 Standard list price, an assumption; docs/cluster.md).");

  for (const batch of BATCHES) {
    const rps = (k: VariantKey): number => med(`${k}/${batch}`, (s) => s.recordsPerSecond);
    const p50 = (k: VariantKey): number => med(`${k}/${batch}`, (s) => s.p50);
    const what = `batch ${batch} x 1 KiB, ${PRODUCERS} producers`;
    ratios.push(
      { metric: `cluster publish records/s, 1 gateway, ${what}`, peer: "single gateway, acks=durable (segment in radosgw)", strata: `${fmt(rps("cluster-1"))} records/s`, peerValue: `${fmt(rps("single-durable"))} records/s`, ratio: rps("cluster-1") / rps("single-durable") },
      { metric: `cluster publish records/s, 1 gateway, ${what}`, peer: "single gateway, acks=local (fsync of its own WAL)", strata: `${fmt(rps("cluster-1"))} records/s`, peerValue: `${fmt(rps("single-local"))} records/s`, ratio: rps("cluster-1") / rps("single-local") },
      { metric: `cluster publish records/s, 3 gateways on one machine, ${what}`, peer: "cluster of 1 gateway (same machine)", strata: `${fmt(rps("cluster-3"))} records/s`, peerValue: `${fmt(rps("cluster-1"))} records/s`, ratio: rps("cluster-3") / rps("cluster-1") },
      { metric: `cluster publish p50 ack ms, 1 gateway, ${what} (peer / Strata)`, peer: "single gateway, acks=local (fsync of its own WAL)", strata: `${fmt(p50("cluster-1"), 2)} ms`, peerValue: `${fmt(p50("single-local"), 2)} ms`, ratio: p50("single-local") / p50("cluster-1") },
      { metric: `cluster publish p50 ack ms, 1 gateway, ${what} (peer / Strata)`, peer: "single gateway, acks=durable (segment in radosgw)", strata: `${fmt(p50("cluster-1"), 2)} ms`, peerValue: `${fmt(p50("single-durable"), 2)} ms`, ratio: p50("single-durable") / p50("cluster-1") },
    );
  }

  lines.push(`\n### Failover on the cluster of 3 (leaseMs ${TIMINGS.leaseMs}, renewMs ${TIMINGS.renewMs}, rebalanceMs ${TIMINGS.rebalanceMs}): write pause of the killed leader's partition, seconds\n`);
  lines.push("| leader | rounds | pause median s | pause max s | pause min s | signal to next ack, median s | signal to next ack, max s | each round's pause |", "| --- | ---: | ---: | ---: | ---: | ---: | ---: | --- |");
  if (killRounds.length > 0) lines.push(failoverRow(killRounds, "SIGKILL (lease expiry)"));
  if (stopRounds.length > 0) lines.push(failoverRow(stopRounds, "SIGTERM (clean hand-over)"));
  if (verdict) lines.push(`\nThe probes read back after every round: ${verdict.acknowledged} acknowledged, ${verdict.lost} lost, ${verdict.duplicated} duplicated.`);
  lines.push("\nThe pause is the longest gap between acknowledged publishes of a prober (one record every 20 ms through another gateway) around the change of leader; signal to next ack: from the SIGKILL/SIGTERM to the first publish acknowledged after the old leader exited.");
  if (killRounds.length > 0) {
    const worst = Math.max(...killRounds.map((r) => r.seconds));
    const bound = 10;
    ratios.push({ metric: `failover after a leader SIGKILL, max of ${killRounds.length} (leaseMs ${TIMINGS.leaseMs}) (bound / Strata)`, peer: "the issue's bound on the pause (10 s)", strata: `${fmt(worst, 2)} s`, peerValue: `${bound} s`, ratio: bound / worst, goal: ">= 1x", met: worst <= bound });
  }

  const g = globalThis as { Bun?: { version: string } };
  console.log(`Machine: ${cpus().length} cores, ${cpus()[0]?.model ?? "unknown CPU"}; ${g.Bun ? `Bun ${g.Bun.version}` : process.version}; ${version(SQLD_BINARY, ["--version"])}; ${version("radosgw", ["--version"])}.`);
  console.log(`Every gateway, radosgw and the libSQL servers share this machine. Load average (1 min) before / after: ${loadBefore[0]!.toFixed(2)} / ${loadAfter[0]!.toFixed(2)}.`);
  console.log(lines.join("\n"));
  console.log("");
  for (const r of ratios) reportRatio(r);
  console.log(`\nCluster bench took ${((performance.now() - started) / 1000).toFixed(1)} s (record size ${RECORD_BYTES} bytes).`);
}

await main();
process.exit(0);
