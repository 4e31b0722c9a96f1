// The Python client against three `strata serve --cluster` gateways, given nothing but their URLs:
// its idempotent publishes to partition 0 go on while that partition's leader is SIGKILLed (a
// refused connection or a 503 NOT_LEADER/LEASE_LOST moves a request to the next URL, with the same
// sequence), and every record is stored once, at the offset the client was answered.
import { expect, test } from "bun:test";
import { spawn } from "node:child_process";
import { waitFor } from "../edge/edge-fixtures.ts";
import { clusterPerFile, FAST_CLUSTER, readPartition } from "../helpers/cluster.ts";
import { PYTHON_DIR, python } from "../helpers/python.ts";

const STREAM = "clients-cluster-py";
const PARTITIONS = 3;
const TOTAL = 400;

const clusterOf = clusterPerFile({ gateways: 3, stream: STREAM, partitions: PARTITIONS });

test("python: partition 0's leader SIGKILLed under the client's publishes; nothing lost, nothing twice", async () => {
  const cluster = clusterOf();
  const before = await cluster.waitForBalance(STREAM, PARTITIONS);
  const victim = cluster.gateway(before.find((l) => l.partition === 0)!.holder!);
  // The victim's URL first, so that the client starts on it.
  const urls = [victim.url, ...cluster.gateways.filter((g) => g !== victim).map((g) => g.url)];
  const child = spawn(python(), ["-m", "tests.test_endpoints", "publish", STREAM, String(TOTAL), "0"], {
    cwd: PYTHON_DIR,
    env: { ...process.env, STRATA_URLS: urls.join(",") },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let output = "";
  child.stdout.on("data", (d: Buffer) => (output += d.toString()));
  child.stderr.on("data", (d: Buffer) => (output += d.toString()));
  const exited = new Promise<number | null>((resolve) => child.once("close", (code) => resolve(code)));
  try {
    const acked = (): number => Number(/acked (\d+)\n(?![\s\S]*acked)/.exec(output)?.[1] ?? 0);
    await waitFor(() => acked() >= 50 || child.exitCode !== null, 60_000, "the first acknowledgements");
    expect(acked()).toBeLessThan(TOTAL);
    await victim.kill();
    await cluster.waitForLeaders(STREAM, PARTITIONS, { exclude: [victim.node], timeoutMs: FAST_CLUSTER.leaseMs * 10 });
    expect({ code: await exited, output }).toEqual({ code: 0, output: expect.stringContaining(`acked ${TOTAL}\n`) });
    expect(output).not.toContain(`done via ${victim.url}`);
    const stored = await readPartition(cluster.running()[0]!, STREAM, 0);
    expect(stored.map((r) => (r.fields as { n: number }).n)).toEqual(Array.from({ length: TOTAL }, (_, i) => i));
  } finally {
    if (child.exitCode === null) child.kill("SIGKILL");
  }
}, 240_000);
