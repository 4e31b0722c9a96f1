// Members as their own processes (member-process.ts) committing after they print each record:
// one is SIGKILLed while records keep coming; after its session timeout the other owns every
// partition and resumes from the committed offsets, so no record is skipped (at-least-once).
import { afterAll, beforeAll, expect, test } from "bun:test";
import { spawn, type ChildProcess } from "node:child_process";
import { join } from "node:path";
import { groupDescriptionSchema, type GroupDescription } from "../../gateway/consumers/group-wire.ts";
import { waitFor } from "../edge/edge-fixtures.ts";
import { type GatewayProcess, removeDir, ROOT, startGateway, tempDir } from "../helpers/gateway.ts";
import { anyAnswer, call } from "./group-http.ts";

const PARTITIONS = 4;
let gw: GatewayProcess;
let dir: string;
const children: ChildProcess[] = [];

interface Member {
  readonly child: ChildProcess;
  output(): string;
}

function member(id: string): Member {
  const child = spawn(process.execPath, [join(ROOT, "test/groups/member-process.ts"), gw.url, "workers", id, "jobs", "1500"], { stdio: ["ignore", "pipe", "pipe"] });
  children.push(child);
  let out = "";
  child.stdout!.on("data", (d: Buffer) => (out += d.toString()));
  child.stderr!.on("data", (d: Buffer) => (out += d.toString()));
  return { child, output: () => out };
}

async function publish(from: number, count: number): Promise<void> {
  const records = Array.from({ length: count }, (_, i) => ({ partition: (from + i) % PARTITIONS, fields: { n: from + i } }));
  expect((await call(anyAnswer, "POST", `${gw.url}/v1/streams/jobs/records`, { records })).status).toBe(200);
}

/** The group, or an empty one before the first member joined (404). */
async function group(): Promise<GroupDescription> {
  const answer = await call(anyAnswer, "GET", `${gw.url}/v1/groups/workers`);
  return answer.status === 404 ? { group: "workers", group_epoch: 0, members: [], partitions: [] } : groupDescriptionSchema.parse(answer.body);
}

beforeAll(async () => {
  dir = tempDir("strata-group-kill-");
  gw = await startGateway({ dataDir: dir });
  expect((await call(anyAnswer, "POST", `${gw.url}/v1/streams`, { name: "jobs", partitions: PARTITIONS })).status).toBe(201);
});

afterAll(async () => {
  for (const child of children) if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
  await gw?.stop();
  removeDir(dir);
});

test("a SIGKILLed member's partitions go to the other after the session timeout, from the committed offsets: no record is skipped", async () => {
  const a = member("a");
  const b = member("b");
  await waitFor(async () => (await group()).members.filter((m) => m.state === "stable" && m.assignment.length === PARTITIONS / 2).length === 2, 20_000, "two members with two partitions each");
  await publish(0, 200);
  await waitFor(async () => (await group()).partitions.every((p) => p.lag === 0 && p.end_offset > 0), 20_000, "the first 200 records consumed");
  await publish(200, 200);
  b.child.kill("SIGKILL");
  await publish(400, 200);
  await waitFor(
    async () => {
      const g = await group();
      return g.members.length === 1 && g.members[0]!.assignment.length === PARTITIONS && g.partitions.every((p) => p.lag === 0);
    },
    30_000,
    "a to own every partition and consume everything",
  );
  const seen = new Set<string>();
  for (const line of (a.output() + b.output()).split("\n")) {
    const match = /^record jobs (\d+) (\d+)$/.exec(line);
    if (match) seen.add(`${match[1]}/${match[2]}`);
  }
  const g = await group();
  let total = 0;
  for (const p of g.partitions) {
    expect(p.committed).toBe(p.end_offset);
    for (let offset = 0; offset < p.end_offset; offset++) expect(seen.has(`${p.partition}/${offset}`)).toBe(true);
    total += p.end_offset;
  }
  expect(total).toBe(600);
});
