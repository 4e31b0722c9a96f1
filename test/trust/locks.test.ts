// Data-directory locks with real processes: a second gateway on one --data exits 1 naming the
// holder's pid (under Bun, Deno and Node alike), the lock dies with a SIGKILLed holder so a new gateway
// starts at once, a second `edge run` on one edge directory refuses while `edge publish` beside a
// running loop keeps working.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { spawn } from "node:child_process";
import { join } from "node:path";
import { cli, cliOk, edgeStatus } from "../edge/edge-fixtures.ts";
import { ensureNodeBuild, removeDir, ROOT, type Runtime, startGateway, tempDir } from "../helpers/gateway.ts";

const dirs: string[] = [];
beforeAll(() => ensureNodeBuild());
afterAll(() => dirs.forEach(removeDir));

function newDir(): string {
  const dir = tempDir("strata-locks-");
  dirs.push(dir);
  return dir;
}

/** `strata serve` that is expected to refuse: its exit code and output. */
function serveOnce(runtime: Runtime, dataDir: string): Promise<{ code: number | null; output: string }> {
  const command = runtime === "deno" ? [join(ROOT, "node_modules/.bin/deno"), "run", "-A", join(ROOT, "cli/main.ts")] : [process.execPath, join(ROOT, "cli/main.ts")];
  const child = spawn(command[0]!, [...command.slice(1), "serve", "--data", dataDir, "--port", "0"], { cwd: ROOT, stdio: ["ignore", "pipe", "pipe"] });
  let output = "";
  child.stdout.on("data", (d: Buffer) => (output += d.toString()));
  child.stderr.on("data", (d: Buffer) => (output += d.toString()));
  return new Promise((resolve) => child.once("exit", (code) => resolve({ code, output })));
}

describe("gateway data-directory lock", () => {
  test.each<[Runtime, Runtime]>([
    ["bun", "bun"],
    ["bun", "deno"],
    ["deno", "bun"],
    ["node", "bun"],
  ])("a second gateway (%s holding, %s second) exits 1 naming the holder's pid", async (holder, second) => {
    const dataDir = newDir();
    const first = await startGateway({ runtime: holder, dataDir });
    try {
      const refused = await serveOnce(second, dataDir);
      expect(refused.code).toBe(1);
      expect(refused.output).toContain(`the data directory ${dataDir} is in use by pid ${first.child.pid}`);
      // The holder is untouched.
      expect((await fetch(`${first.url}/healthz`)).ok).toBe(true);
    } finally {
      await first.stop();
    }
  }, 60_000);

  test("the lock dies with a SIGKILLed holder: a new gateway starts at once and keeps the data", async () => {
    const dataDir = newDir();
    const first = await startGateway({ dataDir });
    const created = await fetch(`${first.url}/v1/streams`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ name: "locks/kill", partitions: 1 }) });
    expect(created.status).toBe(201);
    await first.kill();
    const next = await startGateway({ dataDir });
    try {
      expect((await fetch(`${next.url}/v1/streams/locks%2Fkill`)).status).toBe(200);
    } finally {
      await next.stop();
    }
  }, 60_000);

  test("a gateway stopped gently releases the lock for the next one", async () => {
    const dataDir = newDir();
    const first = await startGateway({ dataDir });
    await first.stop();
    const next = await startGateway({ dataDir });
    await next.stop();
    expect(next.output()).not.toContain("in use");
  }, 60_000);
});

describe("edge run lock", () => {
  test("a second edge run refuses with the holder's pid; edge publish beside the running loop keeps working", async () => {
    const gateway = await startGateway({ dataDir: newDir() });
    const edgeDir = join(newDir(), "edge");
    try {
      await cliOk(["edge", "publish", "--data", edgeDir, "locks/edge"], `${JSON.stringify({ n: 0 })}\n`);
      const first = cli(["edge", "run", "--data", edgeDir, "--gateway", gateway.url]);
      try {
        // The loop's first notice comes after it took the lock.
        await new Promise<void>((resolve, reject) => {
          const check = (): void => {
            if (first.output().includes("syncing over")) resolve();
          };
          first.child.stderr!.on("data", check);
          first.child.stdout!.on("data", check);
          first.child.once("exit", (code) => reject(new Error(`edge run exited ${code}:\n${first.output()}`)));
          check();
        });
        const second = await cli(["edge", "run", "--data", edgeDir, "--gateway", gateway.url]).done;
        expect(second.code).toBe(1);
        expect(second.stderr).toContain(`the data directory ${edgeDir} is in use by pid ${first.child.pid}`);
        await cliOk(["edge", "publish", "--data", edgeDir, "locks/edge"], `${JSON.stringify({ n: 1 })}\n`);
        // The running loop drains what the other process published.
        for (;;) {
          const status = await edgeStatus(edgeDir);
          if (status.outbox_records === 0) break;
          await Bun.sleep(50);
        }
        const read = await fetch(`${gateway.url}/v1/streams/locks%2Fedge/partitions/0/records?offset=0`);
        const body = (await read.json()) as { records: { fields: { n: number } }[] };
        expect(body.records.map((r) => r.fields.n)).toEqual([0, 1]);
      } finally {
        first.child.kill("SIGTERM");
        await first.done;
      }
      // Stopped, it leaves the directory free for the next loop.
      const after = await cli(["edge", "run", "--data", edgeDir, "--gateway", gateway.url, "--once"]).done;
      expect(after.code).toBe(0);
    } finally {
      await gateway.stop();
    }
  }, 90_000);
});
