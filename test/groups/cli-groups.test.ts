// `strata groups list|show` as real processes against a real gateway: a group with two members
// and committed offsets prints its members, assignments and lag, and --json is the gateway's answer.
import { afterAll, beforeAll, expect, setDefaultTimeout, test } from "bun:test";
import { spawnSync } from "node:child_process";
import { join } from "node:path";
import { groupDescriptionSchema, groupListSchema } from "../../gateway/consumers/group-wire.ts";
import { ROOT, type GatewayProcess, removeDir, startGateway } from "../helpers/gateway.ts";
import { anyAnswer, call, GroupMembers } from "./group-http.ts";

// Each test runs the CLI as child processes.
setDefaultTimeout(60_000);

let gateway: GatewayProcess;

function strata(args: string[]): { status: number; stdout: string; stderr: string } {
  const result = spawnSync(process.execPath, [join(ROOT, "cli/main.ts"), ...args, "--gateway", gateway.url], { encoding: "utf8" });
  return { status: result.status ?? -1, stdout: result.stdout, stderr: result.stderr };
}

beforeAll(async () => {
  gateway = await startGateway();
  expect((await call(anyAnswer, "POST", `${gateway.url}/v1/streams`, { name: "jobs", partitions: 2 })).status).toBe(201);
  const records = [0, 0, 0, 1].map((partition, i) => ({ partition, fields: { i } }));
  expect((await call(anyAnswer, "POST", `${gateway.url}/v1/streams/jobs/records`, { records })).status).toBe(200);
  const members = new GroupMembers(gateway.url, "train");
  await members.heartbeat("a", { streams: ["jobs"], sessionTimeoutMs: 60_000 });
  await members.heartbeat("b", { streams: ["jobs"], sessionTimeoutMs: 60_000, instance: "gpu-1" });
  await members.settle(["a", "b"], 2);
  const [owned] = [...members.owned.get("a")!];
  const partition = Number(owned!.split("/")[1]);
  expect((await call(anyAnswer, "POST", `${gateway.url}/v1/groups/train/offsets`, { stream: "jobs", partition, offset: 1, member: "a", member_epoch: members.epochOf("a") })).status).toBe(200);
});

afterAll(async () => {
  await gateway.stop();
  removeDir(gateway.dataDir);
});

test("groups list: one line per group; --json is the gateway's answer", () => {
  const run = strata(["groups", "list"]);
  expect(run.status).toBe(0);
  expect(run.stdout).toBe("train\tmembers=2\tepoch=2\tstreams=jobs\n");
  const json = strata(["groups", "list", "--json"]);
  expect(groupListSchema.parse(JSON.parse(json.stdout)).groups.map((g) => g.group)).toEqual(["train"]);
});

test("groups show: members with epoch, state and assignment, partitions with committed, end and lag", () => {
  const run = strata(["groups", "show", "train"]);
  expect(run.status).toBe(0);
  const lines = run.stdout.trim().split("\n");
  expect(lines[0]).toBe("group train\tepoch=2\tmembers=2");
  expect(lines[1]).toMatch(/^member a\tinstance=-\tepoch=2\tstate=stable\tlast_heartbeat=\S+Z\tassigned=jobs\/\d$/);
  expect(lines[2]).toMatch(/^member b\tinstance=gpu-1\tepoch=2\tstate=stable\tlast_heartbeat=\S+Z\tassigned=jobs\/\d$/);
  const json = groupDescriptionSchema.parse(JSON.parse(strata(["groups", "show", "train", "--json"]).stdout));
  for (const p of json.partitions) expect(lines).toContain(`partition jobs/${p.partition}\tcommitted=${p.committed ?? "-"}\tend=${p.end_offset}\tlag=${p.lag}`);
  expect(json.partitions.reduce((n, p) => n + p.lag, 0)).toBe(4 - 1);
});

test("groups show of an unknown group exits 1 naming it", () => {
  const run = strata(["groups", "show", "nope"]);
  expect(run.status).toBe(1);
  expect(run.stderr).toContain("nope");
});
