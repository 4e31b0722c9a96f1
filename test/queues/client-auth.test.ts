// The queue clients under `strata serve --auth`: `strata queue work --token` with a consume
// token works the queue; no token or a token out of scope is refused with the gateway's code.
import { afterAll, beforeAll, expect, test } from "bun:test";
import { spawn } from "node:child_process";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { z } from "zod";
import { StrataError } from "../../core/errors.ts";
import { claim, describeQueue } from "../../gateway/client.ts";
import { type GatewayProcess, removeDir, ROOT, startGateway } from "../helpers/gateway.ts";
import { until } from "./queue-http.ts";

let gw: GatewayProcess;
let admin = "";

beforeAll(async () => {
  gw = await startGateway({ args: ["--auth"] });
  admin = readFileSync(join(gw.dataDir, "admin.token"), "utf8").trim();
});
afterAll(async () => {
  await gw.stop();
  removeDir(gw.dataDir);
});

async function asAdmin(path: string, body: unknown): Promise<number> {
  const response = await fetch(`${gw.url}${path}`, { method: "POST", headers: { authorization: `Bearer ${admin}`, "content-type": "application/json" }, body: JSON.stringify(body) });
  await response.arrayBuffer();
  return response.status;
}

async function issue(action: string, streams: string): Promise<string> {
  const response = await fetch(`${gw.url}/v1/tokens`, {
    method: "POST",
    headers: { authorization: `Bearer ${admin}`, "content-type": "application/json" },
    body: JSON.stringify({ scopes: [{ action, streams }], ttl_s: 3600, subject: `queue-${action}-${streams}` }),
  });
  expect(response.status).toBe(201);
  return z.object({ token: z.string() }).parse(await response.json()).token;
}

function strata(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const child = spawn(process.execPath, [join(ROOT, "cli/main.ts"), ...args], { cwd: ROOT, stdio: ["ignore", "pipe", "pipe"], env: { ...process.env, STRATA_GATEWAY: gw.url, STRATA_TOKEN: "" } });
  let stdout = "";
  let stderr = "";
  child.stdout.on("data", (d: Buffer) => (stdout += d.toString()));
  child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
  return new Promise((resolve) => child.once("close", (code) => resolve({ code, stdout, stderr })));
}

test("a consume token works the queue with strata queue work; no token and a token out of scope are refused", async () => {
  expect(await asAdmin("/v1/streams", { name: "aq/tasks", partitions: 1 })).toBe(201);
  expect(await asAdmin(`/v1/streams/${encodeURIComponent("aq/tasks")}/records?acks=durable`, { records: [{ fields: { n: 1 } }, { fields: { n: 2 } }] })).toBe(200);
  const worker = await issue("consume", "aq/>");
  const other = await issue("consume", "elsewhere/>");

  const refusedNoToken = await strata(["queue", "work", "aqg", "--streams", "aq/tasks", "--", "true"]);
  expect(refusedNoToken.code).toBe(1);
  expect(refusedNoToken.stderr).toContain("UNAUTHENTICATED");

  const refused = await claim({ gateway: gw.url, token: other }, "aqg", { streams: ["aq/tasks"] }).catch((e: unknown) => e);
  expect(refused).toBeInstanceOf(StrataError);
  expect((refused as StrataError).code).toBe("FORBIDDEN");

  const child = spawn(process.execPath, [join(ROOT, "cli/main.ts"), "queue", "work", "aqg", "--streams", "aq/tasks", "--token", worker, "--", "sh", "-c", "cat >/dev/null"], { cwd: ROOT, stdio: "ignore", env: { ...process.env, STRATA_GATEWAY: gw.url } });
  const exited = new Promise<number | null>((resolve) => child.once("close", (code) => resolve(code)));
  await until("both tasks acked", async () => {
    // NOT_FOUND until the worker's first claim has created the queue.
    const info = await describeQueue({ gateway: gw.url, token: worker }, "aqg").catch((e: unknown) => (e instanceof StrataError && e.code === "NOT_FOUND" ? undefined : Promise.reject(e)));
    return info?.totals.acked === 2 ? true : undefined;
  }, 60_000);
  child.kill("SIGTERM");
  expect(await exited).toBe(0);
  const shown = await strata(["queue", "show", "aqg", "--json", "--token", worker]);
  expect(shown.code).toBe(0);
  expect(JSON.parse(shown.stdout).totals.acked).toBe(2);
}, 90_000);
