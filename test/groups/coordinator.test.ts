// The consumer-group coordinator against a real `strata serve` process, members heartbeating
// over HTTP from this process: joins one by one stay balanced with minimal movement, a partition
// is never owned by two members at once (checked on every answer), a silent member's partitions
// move after its session timeout, a static member comes back without movement, stale commits
// are refused, lag matches the log, `DELETE member` leaves at once, the group survives a
// gateway SIGKILL, and bad input is a 4xx.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { z } from "zod";
import { groupDescriptionSchema, groupListSchema, heartbeatResponseSchema, type GroupDescription } from "../../gateway/consumers/group-wire.ts";
import { waitFor } from "../edge/edge-fixtures.ts";
import { type GatewayProcess, removeDir, startGateway, tempDir } from "../helpers/gateway.ts";
import { anyAnswer, call, errorSchema, GroupMembers } from "./group-http.ts";

const PARTITIONS = 12;
const SESSION_MS = 1000;
let gw: GatewayProcess;
let dir: string;

async function startOn(dataDir: string): Promise<GatewayProcess> {
  const config = join(dir, "gateway.json");
  writeFileSync(config, JSON.stringify({ groups: { maxMembersPerGroup: 4, minSessionTimeoutMs: 200 } }));
  return startGateway({ dataDir, args: ["--config", config] });
}

async function describeGroup(group: string): Promise<GroupDescription> {
  const answer = await call(groupDescriptionSchema, "GET", `${gw.url}/v1/groups/${group}`);
  expect(answer.status).toBe(200);
  return answer.body;
}

function ownerOf(members: GroupMembers): Map<string, string> {
  const out = new Map<string, string>();
  for (const [m, keys] of members.owned) for (const k of keys) out.set(k, m);
  return out;
}

beforeAll(async () => {
  dir = tempDir("strata-groups-");
  gw = await startOn(join(dir, "data"));
  for (const [name, partitions] of [["events", PARTITIONS], ["other", 2], ["lagging", 3]] as const) {
    expect((await call(anyAnswer, "POST", `${gw.url}/v1/streams`, { name, partitions })).status).toBe(201);
  }
});

afterAll(async () => {
  await gw?.stop();
  removeDir(dir);
});

describe("a group of members heartbeating over HTTP", () => {
  const members = new GroupMembers("", "pipeline");
  const ids = ["m1", "m2", "m3", "m4"];

  test("four members join one by one: balanced after each join, only the newcomer's share moves", async () => {
    members.url = gw.url;
    for (let n = 1; n <= 4; n++) {
      const id = ids[n - 1]!;
      const before = ownerOf(members);
      const first = await members.heartbeat(id, { streams: ["events"], sessionTimeoutMs: SESSION_MS });
      expect(first.status).toBe(200);
      await members.settle(ids.slice(0, n), PARTITIONS);
      const sizes = ids.slice(0, n).map((m) => members.owned.get(m)!.size);
      for (const size of sizes) expect([Math.floor(PARTITIONS / n), Math.ceil(PARTITIONS / n)]).toContain(size);
      const after = ownerOf(members);
      const moved = [...after].filter(([k, m]) => before.get(k) !== undefined && before.get(k) !== m).length;
      expect(moved).toBe(n === 1 ? 0 : members.owned.get(id)!.size);
    }
    const described = await describeGroup("pipeline");
    expect(described.members.map((m) => m.member)).toEqual(ids);
    for (const m of described.members) {
      expect(m.state).toBe("stable");
      expect(m.member_epoch).toBe(described.group_epoch);
      expect(new Set(m.assignment.map((p) => `${p.stream}/${p.partition}`))).toEqual(members.owned.get(m.member)!);
    }
  });

  test("a fifth member is refused: the group is at groups.maxMembersPerGroup", async () => {
    const answer = await call(errorSchema, "POST", `${gw.url}/v1/groups/pipeline/heartbeat`, { member: "m5", streams: ["events"] });
    expect(answer.status).toBe(400);
    expect(answer.body.error.message).toContain("maxMembersPerGroup");
  });

  test("commits: the owner at its epoch is accepted; another member, a stale epoch or no member is 409", async () => {
    const [mine] = [...members.owned.get("m1")!];
    const [theirs] = [...members.owned.get("m2")!];
    const [stream, partition] = mine!.split("/");
    const [, otherPartition] = theirs!.split("/");
    const commit = (body: object) => call(errorSchema, "POST", `${gw.url}/v1/groups/pipeline/offsets`, { stream, offset: 0, ...body });
    const accepted = await call(anyAnswer, "POST", `${gw.url}/v1/groups/pipeline/offsets`, { stream, offset: 0, partition: Number(partition), member: "m1", member_epoch: members.epochOf("m1") });
    expect(accepted.status).toBe(200);
    const refused = await commit({ partition: Number(otherPartition), member: "m1", member_epoch: members.epochOf("m1") });
    expect([refused.status, refused.body.error.code]).toEqual([409, "STALE_MEMBER_EPOCH"]);
    // An epoch past the member's own is no epoch it held anything at.
    const future = await commit({ partition: Number(partition), member: "m1", member_epoch: members.epochOf("m1") + 1 });
    expect([future.status, future.body.error.code]).toEqual([409, "STALE_MEMBER_EPOCH"]);
    const plain = await commit({ partition: Number(partition) });
    expect([plain.status, plain.body.error.code]).toEqual([409, "STALE_MEMBER_EPOCH"]);
    const unknown = await commit({ partition: Number(partition), member: "nobody", member_epoch: 1 });
    expect([unknown.status, unknown.body.error.code]).toEqual([404, "UNKNOWN_MEMBER"]);
  });

  test("a member that stops heartbeating leaves after its session timeout and its partitions move to the others", async () => {
    const orphaned = members.owned.get("m4")!;
    members.forget("m4"); // it stops: its process is gone
    const alive = ["m1", "m2", "m3"];
    await waitFor(
      async () => {
        for (const m of alive) expect((await members.heartbeat(m)).status).toBe(200);
        return alive.reduce((n, m) => n + members.owned.get(m)!.size, 0) === PARTITIONS;
      },
      20_000,
      "m4's partitions to move",
    );
    for (const m of alive) expect(members.owned.get(m)!.size).toBe(4);
    const owner = ownerOf(members);
    for (const k of orphaned) expect(alive).toContain(owner.get(k)!);
    expect((await describeGroup("pipeline")).members.map((m) => m.member)).toEqual(alive);
    const gone = await call(errorSchema, "POST", `${gw.url}/v1/groups/pipeline/heartbeat`, { member: "m4", streams: ["events"], member_epoch: 1 });
    expect([gone.status, gone.body.error.code]).toEqual([404, "UNKNOWN_MEMBER"]);
  });

  test("a heartbeat with an old epoch is 409 STALE_MEMBER_EPOCH", async () => {
    const stale = await call(errorSchema, "POST", `${gw.url}/v1/groups/pipeline/heartbeat`, { member: "m1", streams: ["events"], member_epoch: members.epochOf("m1") - 1, session_timeout_ms: SESSION_MS });
    expect([stale.status, stale.body.error.code]).toEqual([409, "STALE_MEMBER_EPOCH"]);
  });

  test("DELETE member leaves at once: the next heartbeats of the others take its partitions", async () => {
    const left = await call(z.object({ left: z.literal(true) }), "DELETE", `${gw.url}/v1/groups/pipeline/members/m3`);
    expect(left.status).toBe(200);
    members.forget("m3");
    expect((await describeGroup("pipeline")).members.map((m) => m.member)).toEqual(["m1", "m2"]);
    await members.settle(["m1", "m2"], PARTITIONS);
    expect(members.owned.get("m1")!.size).toBe(6);
    const again = await call(errorSchema, "DELETE", `${gw.url}/v1/groups/pipeline/members/m3`);
    expect([again.status, again.body.error.code]).toEqual([404, "UNKNOWN_MEMBER"]);
  });
});

describe("static membership", () => {
  test("a static member back under a new member id within its session gets its partitions back; nothing moves", async () => {
    const members = new GroupMembers(gw.url, "static");
    await members.heartbeat("w1-a", { streams: ["events"], instance: "worker-1", sessionTimeoutMs: 5000 });
    await members.heartbeat("w2-a", { streams: ["events"], instance: "worker-2", sessionTimeoutMs: 5000 });
    await members.settle(["w1-a", "w2-a"], PARTITIONS);
    const before = await describeGroup("static");
    const held = members.owned.get("w1-a")!;
    members.forget("w1-a"); // the process restarts
    const back = await members.heartbeat("w1-b", { streams: ["events"], instance: "worker-1", sessionTimeoutMs: 5000 });
    expect(back.status).toBe(200);
    expect(members.owned.get("w1-b")).toEqual(held);
    const after = await describeGroup("static");
    expect(after.group_epoch).toBe(before.group_epoch);
    expect(after.members.map((m) => m.member)).toEqual(["w1-b", "w2-a"]);
    await members.settle(["w1-b", "w2-a"], PARTITIONS);
    expect(members.owned.get("w1-b")).toEqual(held);
    // The old member id is fenced.
    const old = await call(errorSchema, "POST", `${gw.url}/v1/groups/static/heartbeat`, { member: "w1-a", streams: ["events"], instance: "worker-1", member_epoch: before.group_epoch });
    expect([old.status, old.body.error.code]).toEqual([404, "UNKNOWN_MEMBER"]);
  });
});

describe("lag", () => {
  test("per partition: end offset from the log, committed from the group, lag = end - committed (from the start offset when none)", async () => {
    const records = [0, 0, 0, 0, 0, 1, 1, 2].map((partition, i) => ({ partition, fields: { i } }));
    expect((await call(anyAnswer, "POST", `${gw.url}/v1/streams/lagging/records`, { records })).status).toBe(200);
    expect((await call(anyAnswer, "POST", `${gw.url}/v1/groups/lag-plain/offsets`, { stream: "lagging", partition: 0, offset: 3 })).status).toBe(200);
    expect((await call(anyAnswer, "POST", `${gw.url}/v1/groups/lag-plain/offsets`, { stream: "lagging", partition: 1, offset: 2 })).status).toBe(200);
    const stream = await call(z.object({ partitions: z.array(z.object({ partition: z.number(), end_offset: z.number() })) }), "GET", `${gw.url}/v1/streams/lagging`);
    const described = await describeGroup("lag-plain");
    expect(described.partitions).toEqual([
      { stream: "lagging", partition: 0, committed: 3, end_offset: stream.body.partitions[0]!.end_offset, lag: 2 },
      { stream: "lagging", partition: 1, committed: 2, end_offset: stream.body.partitions[1]!.end_offset, lag: 0 },
      { stream: "lagging", partition: 2, committed: null, end_offset: stream.body.partitions[2]!.end_offset, lag: 1 },
    ]);
    const listed = await call(groupListSchema, "GET", `${gw.url}/v1/groups`);
    expect(listed.body.groups.map((g) => g.group)).toEqual(expect.arrayContaining(["lag-plain", "pipeline", "static"]));
  });
});

describe("bad input", () => {
  const heartbeat = (group: string, body: object) => call(errorSchema, "POST", `${gw.url}/v1/groups/${group}/heartbeat`, body);
  test.each([
    ["a group name with a space", "bad%20group", { member: "x", streams: ["events"] }, 400],
    ["a member id with a slash", "g", { member: "a/b", streams: ["events"] }, 400],
    ["no streams", "g", { member: "x", streams: [] }, 400],
    ["a negative session timeout", "g", { member: "x", streams: ["events"], session_timeout_ms: -5 }, 400],
    ["a session timeout below the minimum", "g", { member: "x", streams: ["events"], session_timeout_ms: 10 }, 400],
    ["a session timeout above the maximum", "g", { member: "x", streams: ["events"], session_timeout_ms: 3_600_000 }, 400],
    ["a negative epoch", "g", { member: "x", streams: ["events"], member_epoch: -1 }, 400],
    ["an unknown stream", "g", { member: "x", streams: ["nope"] }, 404],
    ["an epoch for a member never joined", "g", { member: "x", streams: ["events"], member_epoch: 3 }, 404],
  ])("%s", async (_what, group, body, status) => {
    expect((await heartbeat(group, body)).status).toBe(status);
  });

  test("GET of a group that has neither members nor offsets is 404", async () => {
    expect((await call(anyAnswer, "GET", `${gw.url}/v1/groups/never-seen`)).status).toBe(404);
  });
});

describe("persistence", () => {
  test("members, epochs and assignments survive a gateway SIGKILL; members carry on with their epochs", async () => {
    const members = new GroupMembers(gw.url, "durable");
    await members.heartbeat("d1", { streams: ["events", "other"], sessionTimeoutMs: 30_000 });
    await members.heartbeat("d2", { streams: ["events"], sessionTimeoutMs: 30_000 });
    await members.settle(["d1", "d2"], PARTITIONS + 2);
    const before = await describeGroup("durable");
    await gw.kill();
    gw = await startOn(gw.dataDir);
    members.url = gw.url;
    const after = await describeGroup("durable");
    expect(after.group_epoch).toBe(before.group_epoch);
    expect(after.members.map(({ member, member_epoch, state, assignment, streams }) => ({ member, member_epoch, state, assignment, streams }))).toEqual(
      before.members.map(({ member, member_epoch, state, assignment, streams }) => ({ member, member_epoch, state, assignment, streams })),
    );
    for (const m of ["d1", "d2"]) {
      const held = members.owned.get(m)!;
      const answer = await members.heartbeat(m);
      expect(answer.status).toBe(200);
      expect(heartbeatResponseSchema.parse(answer.body).member_epoch).toBe(before.group_epoch);
      expect(members.owned.get(m)).toEqual(held);
    }
  });
});
