// strata.grad (python/strata/grad.py) against real processes: one gateway and two `strata
// aggregate` processes, one per gradient stream the unittest module (python/tests/test_grad.py)
// uses: quorum 0.8 with a long deadline (means come from the quorum), and quorum 1.0 with a short
// deadline of 3 s (a silent rank makes a deadline mean; the three others post well within it, even
// on a loaded machine). Ranks are threads of the Python process.
import { afterAll, beforeAll, expect, test } from "bun:test";
import { spawn, type ChildProcess } from "node:child_process";
import { join } from "node:path";
import { removeDir, ROOT, startGateway, type GatewayProcess } from "../helpers/gateway.ts";
import { ensurePythonTorch, python, PYTHON_DIR, runPythonAsync } from "../helpers/python.ts";

const QUORUM_STREAM = "py/grads";
const DEADLINE_STREAM = "py/grads-deadline";

interface Aggregator {
  readonly child: ChildProcess;
  readonly exited: Promise<void>;
  output(): string;
}

let gateway: GatewayProcess;
const aggregators: Aggregator[] = [];

function startAggregator(stream: string, quorum: string, deadlineMs: number): Aggregator {
  const args = [join(ROOT, "cli/main.ts"), "aggregate", "--stream", stream, "--quorum", quorum, "--deadline-ms", String(deadlineMs)];
  const child = spawn(process.execPath, args, { cwd: ROOT, stdio: ["ignore", "pipe", "pipe"], env: { ...process.env, STRATA_GATEWAY: gateway.url } });
  let output = "";
  child.stdout!.on("data", (d: Buffer) => (output += d.toString()));
  child.stderr!.on("data", (d: Buffer) => (output += d.toString()));
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  return { child, exited, output: () => output };
}

beforeAll(async () => {
  python();
  ensurePythonTorch(); // the bfloat16 case uses torch tensors; it skips itself without torch
  gateway = await startGateway();
  aggregators.push(startAggregator(QUORUM_STREAM, "0.8", 60_000), startAggregator(DEADLINE_STREAM, "1.0", 3_000));
}, 600_000);

afterAll(async () => {
  for (const aggregator of aggregators) {
    if (aggregator.child.exitCode === null && aggregator.child.signalCode === null) aggregator.child.kill("SIGTERM");
    await aggregator.exited;
  }
  await gateway.stop();
  removeDir(gateway.dataDir);
});

// Asynchronous, so the gateway's and the aggregators' output pipes keep being drained meanwhile.
test("python: tests.test_grad (quorum all-reduce against a gateway and aggregator processes)", async () => {
  const env = { STRATA_URL: gateway.url, STRATA_GRAD_STREAM: QUORUM_STREAM, STRATA_GRAD_DEADLINE_STREAM: DEADLINE_STREAM };
  const result = await runPythonAsync(["-m", "unittest", "-v", "tests.test_grad"], { cwd: PYTHON_DIR, env, timeoutMs: 240_000 });
  const report = `${result.stdout}${result.stderr}`;
  if (result.code !== 0) {
    const logs = aggregators.map((a, i) => `aggregator ${i}:\n${a.output()}`).join("\n");
    throw new Error(`python -m unittest tests.test_grad exited ${result.code}:\n${report}\n${logs}`);
  }
  expect(report).toMatch(/\nOK/);
}, 300_000);
