// The Python client given several gateway URLs (python/tests/test_endpoints.py), against real
// gateway processes: a dead first URL is passed over for the second; and a gateway SIGKILLed under
// the client's idempotent publishes is left for the next URL (the same data directory restarted
// there), with every record stored exactly once.
import { afterEach, expect, test } from "bun:test";
import { spawn } from "node:child_process";
import { freePort, waitFor } from "../edge/edge-fixtures.ts";
import { type GatewayProcess, removeDir, startGateway, tempDir } from "../helpers/gateway.ts";
import { PYTHON_DIR, python, runPythonAsync } from "../helpers/python.ts";

const running: GatewayProcess[] = [];
const dirs: string[] = [];

afterEach(async () => {
  for (const gateway of running.splice(0)) await gateway.kill();
  for (const dir of dirs.splice(0)) removeDir(dir);
});

async function gatewayOn(dataDir: string, port?: number): Promise<GatewayProcess> {
  const gateway = await startGateway({ dataDir, ...(port === undefined ? {} : { args: ["--port", String(port)] }) });
  running.push(gateway);
  return gateway;
}

function dir(): string {
  const d = tempDir("strata-clients-py-");
  dirs.push(d);
  return d;
}

test("python: tests.test_endpoints with a dead first URL", async () => {
  const live = await gatewayOn(dir());
  const result = await runPythonAsync(["-m", "unittest", "-v", "tests.test_endpoints"], { cwd: PYTHON_DIR, env: { STRATA_URLS: `http://127.0.0.1:${await freePort()},${live.url}` }, timeoutMs: 100_000 });
  const report = `${result.stdout}${result.stderr}`;
  expect({ code: result.code, report }).toEqual({ code: 0, report: expect.stringContaining("test_publish_and_read_through_the_second (tests.test_endpoints.DeadFirstTest.test_publish_and_read_through_the_second) ... ok") });
}, 120_000);

test("python: the gateway SIGKILLed under idempotent publishes; the client moves to the next URL and stores each record once", async () => {
  const gatewayDir = dir();
  const first = await gatewayOn(gatewayDir);
  const second = `http://127.0.0.1:${await freePort()}`;
  const created = await fetch(`${first.url}/v1/streams`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ name: "py/killed", partitions: 1 }) });
  expect(created.status).toBe(201);
  const total = 600;
  const child = spawn(python(), ["-m", "tests.test_endpoints", "publish", "py/killed", String(total)], {
    cwd: PYTHON_DIR,
    env: { ...process.env, STRATA_URLS: `${first.url},${second}` },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let output = "";
  child.stdout.on("data", (d: Buffer) => (output += d.toString()));
  child.stderr.on("data", (d: Buffer) => (output += d.toString()));
  const exited = new Promise<number | null>((resolve) => child.once("close", (code) => resolve(code)));
  try {
    const acked = (): number => Number(/acked (\d+)\n(?![\s\S]*acked)/.exec(output)?.[1] ?? 0);
    await waitFor(() => acked() >= 100 || child.exitCode !== null, 60_000, "the first hundred acknowledgements");
    expect(acked()).toBeLessThan(total);
    await first.kill();
    const restarted = await gatewayOn(gatewayDir, Number(new URL(second).port));
    expect(await exited).toBe(0);
    expect(output).toContain(`done via ${second}`);
    const read = (await (await fetch(`${restarted.url}/v1/streams/py%2Fkilled/partitions/0/records?offset=0&max_records=10000`)).json()) as { records: { fields: { n: number } }[] };
    expect(read.records.map((r) => r.fields.n)).toEqual(Array.from({ length: total }, (_, i) => i));
  } finally {
    if (child.exitCode === null) child.kill("SIGKILL");
  }
}, 180_000);
