// `strata consume --group` processes (each one consumeGroup member) against a real gateway: two
// then three members share a stream of 8 partitions while records keep arriving, balanced after
// each join; with clean leaves (SIGTERM) every record is printed exactly once. A member SIGKILLed
// mid-stream: its partitions go to the others after its session timeout and no record is
// skipped. A member keeps its place across a gateway SIGKILL and restart. --filter passes
// through, with and without --group.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import type { GroupDescription } from "../../gateway/consumers/group-wire.ts";
import { cli, type CliRun, freePort, waitFor } from "../edge/edge-fixtures.ts";
import { type GatewayProcess, removeDir, startGateway, tempDir } from "../helpers/gateway.ts";

interface Line {
  partition: number;
  offset: number;
  fields: { n: number; q?: number };
}

const PARTITIONS = 8;
const SESSION_MS = 1500;
let gateway: GatewayProcess;

const strata = (args: string[], stdin?: string) => cli([...args, "--gateway", gateway.url], stdin);

async function ok(args: string[], stdin?: string): Promise<string> {
  const r = await strata(args, stdin).done;
  if (r.code !== 0) throw new Error(`strata ${args.join(" ")} exited ${r.code}: ${r.stderr}`);
  return r.stdout;
}

function parse(stdout: string): Line[] {
  return stdout
    .split("\n")
    .filter((l) => l.length > 0)
    .map((l) => JSON.parse(l) as Line);
}

let published = 0;
/** Publishes `count` records spread round-robin over the partitions, fields {n, q}. */
async function publish(stream: string, count: number): Promise<void> {
  const lines = Array.from({ length: count }, (_, i) => {
    const n = published + i;
    return JSON.stringify({ partition: n % PARTITIONS, fields: { n, q: (n % 10) / 10 } });
  });
  published += count;
  await ok(["publish", stream, "--records", "--quiet"], lines.join("\n"));
}

async function describeGroup(group: string): Promise<GroupDescription | null> {
  const response = await fetch(`${gateway.url}/v1/groups/${group}`);
  if (response.status === 404) return null;
  return (await response.json()) as GroupDescription;
}

/** Every partition owned by exactly one of `members` live members, each holding floor or ceil of P/M. */
async function balanced(group: string, members: number): Promise<boolean> {
  const d = await describeGroup(group);
  if (d === null || d.members.length !== members) return false;
  const owned = d.members.flatMap((m) => m.assignment.map((p) => `${p.stream}/${p.partition}`));
  if (owned.length !== PARTITIONS || new Set(owned).size !== PARTITIONS) return false;
  if (d.members.some((m) => m.revoking.length > 0)) return false;
  return d.members.every((m) => m.assignment.length === Math.floor(PARTITIONS / members) || m.assignment.length === Math.ceil(PARTITIONS / members));
}

async function caughtUp(group: string, total: number): Promise<boolean> {
  const d = await describeGroup(group);
  return d !== null && d.partitions.reduce((sum, p) => sum + p.end_offset, 0) === total && d.partitions.every((p) => p.lag === 0);
}

function member(stream: string, group: string, extra: string[] = []): CliRun {
  return strata(["consume", stream, "--group", group, "--session-timeout", String(SESSION_MS), "--json", ...extra]);
}

beforeAll(async () => {
  gateway = await startGateway();
}, 60_000);

afterAll(async () => {
  await gateway?.stop();
  if (gateway) removeDir(gateway.dataDir);
});

describe("strata consume --group", () => {
  test("two then three members share 8 partitions, balanced after each join; clean leaves print every record exactly once", async () => {
    const stream = "grp/shared";
    published = 0;
    await ok(["streams", "create", stream, "--partitions", String(PARTITIONS)]);
    await publish(stream, 400);
    const a = member(stream, "shared");
    await waitFor(() => balanced("shared", 1), 20_000, "member a owns every partition");
    const b = member(stream, "shared");
    await waitFor(() => balanced("shared", 2), 20_000, "two members, 4 partitions each");
    await publish(stream, 400);
    const c = member(stream, "shared");
    await waitFor(() => balanced("shared", 3), 20_000, "three members, 3/3/2 partitions");
    await publish(stream, 400);
    await waitFor(() => caughtUp("shared", published), 30_000, "the group committed every record");
    const runs = [a, b, c];
    for (const run of runs) run.child.kill("SIGTERM");
    const results = await Promise.all(runs.map((r) => r.done));
    for (const r of results) expect(r.code).toBe(0);
    expect(await describeGroup("shared").then((d) => d?.members.length)).toBe(0);
    const lines = results.flatMap((r) => parse(r.stdout));
    const printed = lines.map((l) => l.fields.n).sort((x, y) => x - y);
    expect(printed).toEqual(Array.from({ length: published }, (_, i) => i));
    // Each member printed something, and a partition's records in offset order within a member.
    for (const r of results) expect(parse(r.stdout).length).toBeGreaterThan(0);
  }, 120_000);

  test("a member SIGKILLed mid-stream: its partitions go to the others after the session timeout, no record is skipped", async () => {
    const stream = "grp/kill";
    published = 0;
    await ok(["streams", "create", stream, "--partitions", String(PARTITIONS)]);
    await publish(stream, 400);
    const a = member(stream, "kill");
    const b = member(stream, "kill");
    await waitFor(() => balanced("kill", 2), 20_000, "two members");
    await publish(stream, 400);
    b.child.kill("SIGKILL");
    const killed = await b.done;
    expect(killed.signal).toBe("SIGKILL");
    await waitFor(() => balanced("kill", 1), 20_000, "the survivor owns every partition");
    await publish(stream, 400);
    await waitFor(() => caughtUp("kill", published), 30_000, "the group committed every record");
    a.child.kill("SIGTERM");
    const survivor = await a.done;
    expect(survivor.code).toBe(0);
    // At-least-once: every record printed by someone; duplicates only of what the killed member had not committed.
    const seen = new Set([...parse(survivor.stdout), ...parse(killed.stdout)].map((l) => l.fields.n));
    expect(seen.size).toBe(published);
  }, 120_000);

  test("a member rides out a gateway SIGKILL and restart: every record printed, the group caught up", async () => {
    const port = await freePort();
    const dataDir = tempDir();
    const original = gateway;
    gateway = await startGateway({ dataDir, args: ["--port", String(port)] });
    try {
      const stream = "grp/restart";
      published = 0;
      await ok(["streams", "create", stream, "--partitions", String(PARTITIONS)]);
      await publish(stream, 200);
      const run = member(stream, "restart", ["--quiet"]);
      await waitFor(() => caughtUp("restart", published), 30_000, "the first 200 committed");
      await gateway.kill();
      gateway = await startGateway({ dataDir, args: ["--port", String(port)] });
      await publish(stream, 200);
      await waitFor(() => caughtUp("restart", published), 30_000, "all 400 committed after the restart");
      run.child.kill("SIGTERM");
      const done = await run.done;
      expect(done.code).toBe(0);
      expect(new Set(parse(done.stdout).map((l) => l.fields.n)).size).toBe(published);
    } finally {
      await gateway.stop();
      gateway = original;
      removeDir(dataDir);
    }
  }, 120_000);

  test("--filter passes through, with and without --group; a bad expression is BAD_FILTER", async () => {
    const stream = "grp/filter";
    published = 0;
    await ok(["streams", "create", stream, "--partitions", String(PARTITIONS)]);
    await publish(stream, 200);
    const expected = Array.from({ length: 200 }, (_, n) => n).filter((n) => (n % 10) / 10 > 0.75);
    const plain = parse(await ok(["consume", stream, "--filter", "fields.q > 0.75"]));
    expect(plain.map((l) => l.fields.n).sort((x, y) => x - y)).toEqual(expected);

    const run = member(stream, "filtered", ["--filter", "fields.q > 0.75"]);
    // Filtered-out records are committed past too: the group catches up to the end.
    await waitFor(() => caughtUp("filtered", published), 30_000, "the filtered group committed to the end");
    run.child.kill("SIGTERM");
    const done = await run.done;
    expect(done.code).toBe(0);
    expect(parse(done.stdout).map((l) => l.fields.n).sort((x, y) => x - y)).toEqual(expected);

    const bad = await strata(["consume", stream, "--group", "bad-filter", "--filter", "fields.q >"]).done;
    expect(bad.code).not.toBe(0);
    expect(bad.stderr).toContain("BAD_FILTER");
  }, 120_000);
});
