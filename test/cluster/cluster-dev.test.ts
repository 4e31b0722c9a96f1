// `strata cluster dev --gateways 3`: starts radosgw, the libSQL server and three gateways in
// cluster mode, prints one JSON line per gateway; a stream created through one gateway takes a
// publish through another and is read back through the third; SIGINT stops every child process
// (none is left that names the run's directory) and the command exits 0.
import { afterAll, expect, test } from "bun:test";
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { z } from "zod";
import { startCli } from "../helpers/cli-process.ts";
import { removeDir, tempDir } from "../helpers/gateway.ts";
import { waitUntil } from "../helpers/cluster.ts";

const dirs: string[] = [];

afterAll(() => dirs.forEach(removeDir));

const gatewayLine = z.strictObject({ url: z.string().url(), node: z.string() });

/** Pids of the processes whose command line names `dir` (the gateways, sqld, radosgw and Ceph's daemons of this run). */
function processesUsing(dir: string): number[] {
  const pids: number[] = [];
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry) || Number(entry) === process.pid) continue;
    try {
      if (readFileSync(join("/proc", entry, "cmdline"), "utf8").includes(dir)) pids.push(Number(entry));
    } catch {
      // the process ended meanwhile
    }
  }
  return pids;
}

test("strata cluster dev --gateways 3 prints three gateways that serve, and SIGINT stops every child", async () => {
  const parent = tempDir("strata-cluster-dev-test-");
  dirs.push(parent);
  // Absent at start, as --data wants it (empty or absent).
  const dir = join(parent, "run");
  const cli = startCli("http://127.0.0.1:9", ["cluster", "dev", "--gateways", "3", "--data", dir]);
  try {
    const gateways = await waitUntil(
      "three JSON lines from strata cluster dev",
      async () => {
        if (cli.child.exitCode !== null) throw new Error(`strata cluster dev exited with ${cli.child.exitCode}: ${cli.stderr()}`);
        const lines = cli.stdout().split("\n").filter((l) => l.trim() !== "");
        return lines.length >= 3 ? lines.map((l) => gatewayLine.parse(JSON.parse(l))) : undefined;
      },
      240_000,
      200,
    );
    expect(gateways.length).toBe(3);
    expect(new Set(gateways.map((g) => g.node)).size).toBe(3);
    // sqld, radosgw (and Ceph's mon and osd) and three gateways run under the run's directory.
    expect(processesUsing(dir).length).toBeGreaterThanOrEqual(5);

    const [a, b, c] = gateways as [z.infer<typeof gatewayLine>, z.infer<typeof gatewayLine>, z.infer<typeof gatewayLine>];
    const created = await fetch(`${a.url}/v1/streams`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ name: "dev-demo", partitions: 3 }) });
    expect(created.status).toBe(201);
    // Published through b once every partition has a leader (503 NOT_LEADER until then).
    const positions = await waitUntil(
      "a publish through the second gateway",
      async () => {
        const r = await fetch(`${b.url}/v1/streams/dev-demo/records`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ records: [{ key: "k", fields: { hello: "cluster" } }] }) });
        if (r.status === 503) return undefined;
        expect(r.status).toBe(200);
        return z.object({ records: z.array(z.object({ partition: z.number(), offset: z.number() })) }).parse(await r.json()).records;
      },
      60_000,
      250,
    );
    const [position] = positions;
    const read = await fetch(`${c.url}/v1/streams/dev-demo/partitions/${position!.partition}/records?offset=${position!.offset}&max_records=1`);
    expect(read.status).toBe(200);
    const body = z.object({ records: z.array(z.object({ fields: z.record(z.string(), z.unknown()).nullable() })) }).parse(await read.json());
    expect(body.records[0]?.fields).toEqual({ hello: "cluster" });
  } finally {
    cli.child.kill("SIGINT");
    const code = await cli.exited;
    expect(code).toBe(0);
    // Ceph's daemons leave through their stop script; nothing of the run survives the command.
    await waitUntil(`no process left naming ${dir}`, async () => (processesUsing(dir).length === 0 ? true : undefined), 30_000, 200);
  }
}, 300_000);

test("strata cluster dev killed with SIGKILL leaves no child behind (watchdogs)", async () => {
  const parent = tempDir("strata-cluster-dev-test-");
  dirs.push(parent);
  // Absent at start, as --data wants it (empty or absent).
  const dir = join(parent, "run");
  const cli = startCli("http://127.0.0.1:9", ["cluster", "dev", "--gateways", "1", "--data", dir]);
  await waitUntil(
    "one JSON line from strata cluster dev",
    async () => {
      if (cli.child.exitCode !== null) throw new Error(`strata cluster dev exited with ${cli.child.exitCode}: ${cli.stderr()}`);
      return cli.stdout().includes("\n") ? true : undefined;
    },
    240_000,
    200,
  );
  expect(processesUsing(dir).length).toBeGreaterThanOrEqual(3);
  cli.child.kill("SIGKILL");
  await cli.exited;
  await waitUntil(`no process left naming ${dir}`, async () => (processesUsing(dir).length === 0 ? true : undefined), 30_000, 200);
}, 300_000);
