// A gateway SIGKILLed and restarted (same data directory, same port) in the middle of an epoch is
// invisible to a Python Dataset reader: it retries until the gateway is back and reads exactly the
// epoch's order, every sample once (python/tests/restart_reader.py).
import { afterAll, expect, test } from "bun:test";
import { spawn } from "node:child_process";
import { delimiter } from "node:path";
import { removeDir, startGateway, type GatewayProcess } from "../helpers/gateway.ts";
import { PYTHON_DIR, python, runPython } from "../helpers/python.ts";

let gateway: GatewayProcess | undefined;

afterAll(async () => {
  if (gateway) {
    await gateway.stop();
    removeDir(gateway.dataDir);
  }
});

/** Resolves with the first line of the output so far or to come that matches `pattern`; rejects when the process exits without one. */
function lineMatching(stream: NodeJS.ReadableStream, exited: Promise<number | null>, pattern: RegExp, output: () => string): Promise<string> {
  return new Promise((resolve, reject) => {
    const find = (): string | undefined => output().split("\n").find((l) => pattern.test(l));
    const check = (): void => {
      const line = find();
      if (line !== undefined) {
        stream.off("data", check);
        resolve(line);
      }
    };
    stream.on("data", check);
    check();
    void exited.then((code) => {
      const line = find();
      if (line !== undefined) resolve(line);
      else reject(new Error(`python exited (${code}) before printing ${pattern}:\n${output()}`));
    });
  });
}

test("a gateway killed and restarted mid-epoch is invisible to the reader", async () => {
  gateway = await startGateway();
  const made = runPython(["-m", "tests.make_dataset", gateway.url, "40"], { cwd: PYTHON_DIR });
  expect(made.stderr).toBe("");
  const { name } = JSON.parse(made.stdout) as { name: string };
  const port = new URL(gateway.url).port;

  const reader = spawn(python(), ["-m", "tests.restart_reader", gateway.url, name], {
    cwd: PYTHON_DIR,
    env: { ...process.env, PYTHONPATH: [PYTHON_DIR, process.env["PYTHONPATH"]].filter(Boolean).join(delimiter), PYTHONDONTWRITEBYTECODE: "1" },
    stdio: ["pipe", "pipe", "pipe"],
  });
  let output = "";
  let stdout = "";
  reader.stdout.on("data", (d: Buffer) => {
    output += d.toString();
    stdout += d.toString();
  });
  reader.stderr.on("data", (d: Buffer) => (output += d.toString()));
  const exited = new Promise<number | null>((resolve) => reader.once("exit", (code) => resolve(code)));

  await lineMatching(reader.stdout, exited, /^half$/, () => stdout);
  const dataDir = gateway.dataDir;
  await gateway.kill();
  reader.stdin.write("go\n"); // the reader now finds no gateway and retries
  gateway = await startGateway({ dataDir, args: ["--port", port] });
  expect(gateway.url).toContain(`:${port}`);

  const result = await lineMatching(reader.stdout, exited, /^\{/, () => stdout);
  expect(await exited).toBe(0);
  const { got, expected } = JSON.parse(result) as { got: number[]; expected: number[] };
  expect(got).toHaveLength(40);
  expect(got).toEqual(expected);
  expect(output).toContain("retrying"); // the reader did meet the dead gateway
}, 300_000);
