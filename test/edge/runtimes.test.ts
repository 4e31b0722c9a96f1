// The edge node under Deno against a gateway under Bun: publish into the outbox, drain it, read
// the status, all with `deno run` of the same CLI.
import { afterAll, beforeAll, expect, test } from "bun:test";
import { spawn } from "node:child_process";
import { join } from "node:path";
import { type GatewayProcess, removeDir, ROOT, startGateway, tempDir } from "../helpers/gateway.ts";
import { exactlyOnceInOrder, readStream, recordLines } from "./edge-fixtures.ts";

let gw: GatewayProcess;
let dir: string;

beforeAll(async () => {
  gw = await startGateway();
  dir = tempDir("strata-edge-deno-");
});

afterAll(async () => {
  await gw?.stop();
  if (gw) removeDir(gw.dataDir);
  if (dir) removeDir(dir);
});

function deno(args: string[], stdin?: string): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const child = spawn(join(ROOT, "node_modules/.bin/deno"), ["run", "-A", join(ROOT, "cli/main.ts"), ...args], { cwd: ROOT, stdio: [stdin === undefined ? "ignore" : "pipe", "pipe", "pipe"] });
  let stdout = "";
  let stderr = "";
  child.stdout!.on("data", (d: Buffer) => (stdout += d.toString()));
  child.stderr!.on("data", (d: Buffer) => (stderr += d.toString()));
  if (stdin !== undefined) child.stdin!.end(stdin);
  return new Promise((resolve) => child.once("exit", (code) => resolve({ code, stdout, stderr })));
}

test("strata edge publish / run / status under Deno", async () => {
  const edgeDir = join(dir, "edge");
  const published = await deno(["edge", "publish", "--data", edgeDir, "deno/samples", "--batch", "25"], recordLines("d", 0, 100, 50));
  expect(published.code).toBe(0);
  const run = await deno(["edge", "run", "--data", edgeDir, "--gateway", gw.url, "--once"]);
  if (run.code !== 0) throw new Error(run.stderr);
  const status = await deno(["edge", "status", "--data", edgeDir, "--json"]);
  expect(JSON.parse(status.stdout)).toMatchObject({ outbox_records: 0, outbox_bytes: 0, pins: [] });
  exactlyOnceInOrder(await readStream(gw.url, "deno/samples"), { d: 100 });
}, 60_000);
