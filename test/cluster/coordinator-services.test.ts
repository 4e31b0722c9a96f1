// The stateful services in a cluster (gateway/cluster/coordinated-services.ts): three real
// `strata serve --cluster` processes on one libSQL server (sqld) and one radosgw bucket. Consumer
// group members joining through different gateways get one balanced assignment; queue workers
// claiming through two gateways never get one record twice; the coordinator SIGKILLed, the role
// moves to another gateway once its lock expires, and the group and queue state survive: members
// rejoin with their epochs and assignments, unacked claims are redelivered, nothing is lost.
import { afterAll, beforeAll, expect, test } from "bun:test";
import { sql } from "drizzle-orm";
import { z } from "zod";
import { COORDINATOR_LOCK } from "../../gateway/cluster/coordinator.ts";
import { openDatabase, type Database } from "../../gateway/db/database.ts";
import { FAST_CLUSTER, startTestCluster, waitUntil, type TestCluster } from "../helpers/cluster.ts";
import { GroupMembers } from "../groups/group-http.ts";

const LEASE_MS = FAST_CLUSTER.leaseMs;

let cluster: TestCluster;
let metadata: Database;
let NODES: string[] = [];

beforeAll(async () => {
  cluster = await startTestCluster({ gateways: 3 });
  NODES = cluster.gateways.map((g) => g.node);
  metadata = await openDatabase(cluster.dev.sqld.url);
}, 300_000);

afterAll(async () => {
  metadata?.close();
  await cluster?.stop();
}, 60_000);

const url = (node: string): string => cluster.gateway(node).url;

/** A JSON call, retried while the answer is 503 (leases or the coordinator moving: every Strata client retries those). */
async function call(base: string, method: string, path: string, body?: unknown, timeoutMs = 60_000): Promise<{ status: number; body: any }> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const response = await fetch(`${base}${path}`, { method, headers: body === undefined ? {} : { "content-type": "application/json" }, body: body === undefined ? undefined : JSON.stringify(body) }).catch(() => undefined);
    const answer = response === undefined ? { status: 599, body: null } : { status: response.status, body: await response.json() };
    if ((answer.status !== 503 && answer.status !== 599) || Date.now() > deadline) return answer;
    await Bun.sleep(100); // a retry's backoff, not a wait for a condition
  }
}

async function ok(base: string, method: string, path: string, body?: unknown): Promise<any> {
  const answer = await call(base, method, path, body);
  if (answer.status >= 300) throw new Error(`${method} ${path} on ${base}: ${answer.status} ${JSON.stringify(answer.body)}`);
  return answer.body;
}

const holderRow = z.object({ holder: z.string().nullable() });

async function coordinator(): Promise<string | null> {
  const rows = await metadata.db.all(sql`SELECT holder FROM cluster_locks WHERE name = ${COORDINATOR_LOCK} AND expires_at > CAST((julianday('now') - 2440587.5) * 86400000 AS INTEGER)`);
  return rows[0] === undefined ? null : holderRow.parse(rows[0]).holder;
}

async function publish(base: string, stream: string, count: number, from = 0): Promise<void> {
  const records = Array.from({ length: count }, (_, i) => ({ key: `k${from + i}`, fields: { n: from + i } }));
  await ok(base, "POST", `/v1/streams/${encodeURIComponent(stream)}/records?acks=durable`, { records });
}

interface Claimed {
  readonly receipt: string;
  readonly stream: string;
  readonly partition: number;
  readonly offset: number;
  readonly deliveries: number;
  readonly fields: { readonly n: number };
}

async function claim(base: string, group: string, body: Record<string, unknown>): Promise<Claimed[]> {
  return (await ok(base, "POST", `/v1/queues/${group}/claim`, body)).records;
}

/** One heartbeat of `member` through `node`, retried while the answer is 503 (the coordinator moving). */
async function heartbeatThrough(members: GroupMembers, member: string, node: string, options?: Parameters<GroupMembers["heartbeat"]>[1]) {
  const deadline = Date.now() + 60_000;
  for (;;) {
    members.url = url(node);
    const answer = await members.heartbeat(member, options);
    if (answer.status !== 503 || Date.now() > deadline) return answer;
    await Bun.sleep(100); // a retry's backoff
  }
}

/** Heartbeats each member through its own gateway until a round changes nothing and every partition is owned. */
async function settle(members: GroupMembers, gatewayOf: ReadonlyMap<string, string>, total: number): Promise<void> {
  for (let round = 0; round < 40; round++) {
    const before = JSON.stringify([...gatewayOf.keys()].map((m) => [...(members.owned.get(m) ?? [])].sort()));
    for (const [member, node] of gatewayOf) {
      members.url = url(node);
      const answer = await members.heartbeat(member);
      if (answer.status === 503) continue;
      if (answer.status !== 200) throw new Error(`heartbeat of ${member} through ${node}: ${answer.status} ${JSON.stringify(answer.body)}`);
    }
    const after = JSON.stringify([...gatewayOf.keys()].map((m) => [...(members.owned.get(m) ?? [])].sort()));
    const owned = [...gatewayOf.keys()].reduce((n, m) => n + (members.owned.get(m)?.size ?? 0), 0);
    if (before === after && owned === total) return;
  }
  throw new Error(`the group did not settle: ${JSON.stringify([...members.owned].map(([m, k]) => [m, [...k]]))}`);
}

test("one gateway coordinates; the others proxy the stateful services to it", async () => {
  const holder = await coordinator();
  expect(holder !== null && NODES.includes(holder)).toBe(true);
  // The same queue list through every gateway.
  await ok(url(NODES[0]!), "PUT", "/v1/queues/coord-listed", { max_deliveries: 3 });
  for (const node of NODES) {
    const queues = await ok(url(node), "GET", "/v1/queues");
    expect(queues.queues.map((q: { group: string }) => q.group)).toContain("coord-listed");
  }
}, 120_000);

test("consumer group members joining through different gateways get one balanced assignment", async () => {
  await ok(url(NODES[0]!), "POST", "/v1/streams", { name: "coord/events", partitions: 6 });
  const members = new GroupMembers(url(NODES[0]!), "coord-readers");
  const gatewayOf = new Map([
    ["m-a", NODES[0]!],
    ["m-b", NODES[1]!],
    ["m-c", NODES[2]!],
  ]);
  for (const [member, node] of gatewayOf) {
    const first = await heartbeatThrough(members, member, node, { streams: ["coord/events"], sessionTimeoutMs: 30_000 });
    expect(first.status).toBe(200);
  }
  await settle(members, gatewayOf, 6);
  for (const member of gatewayOf.keys()) expect(members.owned.get(member)!.size).toBe(2);
  // Every gateway describes the one group the coordinator holds.
  for (const node of NODES) {
    const described = await ok(url(node), "GET", "/v1/groups/coord-readers");
    expect(described.members.map((m: { member: string }) => m.member).sort()).toEqual(["m-a", "m-b", "m-c"]);
  }
}, 120_000);

test("queue workers claiming through two gateways never get one record twice", async () => {
  await ok(url(NODES[1]!), "POST", "/v1/streams", { name: "coord/tasks", partitions: 3 });
  await publish(url(NODES[1]!), "coord/tasks", 90);
  const seen = new Map<string, string>();
  const worker = async (node: string): Promise<number> => {
    let got = 0;
    for (let idle = 0; idle < 3; ) {
      const claimed = await claim(url(node), "coord-workers", { streams: ["coord/tasks"], max_records: 7, visibility_ms: 60_000 });
      if (claimed.length === 0) {
        idle++;
        continue;
      }
      idle = 0;
      for (const c of claimed) {
        const id = `${c.partition}:${c.offset}`;
        if (seen.has(id)) throw new Error(`record ${id} was handed to ${seen.get(id)} and to ${node}`);
        seen.set(id, node);
      }
      got += claimed.length;
      await ok(url(node), "POST", "/v1/queues/coord-workers/ack", { receipts: claimed.map((c) => c.receipt) });
    }
    return got;
  };
  const [a, c] = await Promise.all([worker(NODES[0]!), worker(NODES[2]!)]);
  expect(a + c).toBe(90);
  expect(seen.size).toBe(90);
  const described = await ok(url(NODES[1]!), "GET", "/v1/queues/coord-workers");
  expect(described.totals.acked).toBe(90);
}, 180_000);

test("a request already proxied once is never proxied again: 503 NOT_LEADER with Retry-After", async () => {
  const holder = await coordinator();
  const follower = NODES.find((n) => n !== holder)!;
  const response = await fetch(`${url(follower)}/v1/queues`, { headers: { "strata-forwarded": "1" } });
  expect(response.status).toBe(503);
  expect(response.headers.get("retry-after")).toBe("1");
  expect(((await response.json()) as { error: { code: string } }).error.code).toBe("NOT_LEADER");
  // Routes that are not the stateful services' are served where they arrive.
  expect((await fetch(`${url(follower)}/v1/streams`, { headers: { "strata-forwarded": "1" } })).status).toBe(200);
}, 60_000);

test("a dataset created through a follower pins every partition wherever it is led; its samples read through any gateway", async () => {
  await ok(url(NODES[2]!), "POST", "/v1/streams", { name: "coord/samples", partitions: 3 });
  await publish(url(NODES[2]!), "coord/samples", 60);
  const holder = await coordinator();
  const follower = NODES.find((n) => n !== holder)!;
  const all = await ok(url(follower), "POST", "/v1/datasets", { name: "coord-all", stream: "coord/samples" });
  expect(all.samples).toBe(60);
  const even = await ok(url(follower), "POST", "/v1/datasets", { name: "coord-even", stream: "coord/samples", filter: "fields.n % 2 == 0" });
  expect(even.samples).toBe(30);
  for (const node of NODES) {
    const read = await ok(url(node), "GET", "/v1/datasets/coord-even/versions/1/samples?start=0&count=30");
    expect(read.samples.map((f: { n: number }) => f.n).sort((a: number, b: number) => a - b)).toEqual(Array.from({ length: 30 }, (_, i) => i * 2));
  }
}, 120_000);

test("gradient contributions through different gateways meet one step signature on the coordinator", async () => {
  const tensors = (values: number[]) => ({ w: { $tensor: { dtype: "F32", shape: [values.length], data: { $base64: Buffer.from(new Float32Array(values).buffer).toString("base64") } } } });
  const first = await call(url(NODES[0]!), "POST", "/v1/gradients/coord%2Fgrads/steps/0", { rank: 0, world_size: 2, tensors: tensors([1, 2]) });
  expect(first.status).toBe(200);
  const mismatch = await call(url(NODES[1]!), "POST", "/v1/gradients/coord%2Fgrads/steps/0", { rank: 1, world_size: 2, tensors: tensors([1, 2, 3]) });
  expect(mismatch.status).toBe(400);
  expect(mismatch.body.error.code).toBe("TENSOR_MISMATCH");
  const second = await call(url(NODES[2]!), "POST", "/v1/gradients/coord%2Fgrads/steps/0", { rank: 1, world_size: 2, tensors: tensors([3, 4]) });
  expect(second.status).toBe(200);
}, 60_000);

test("the coordinator SIGKILLed: the role moves after its lease; members rejoin, unacked claims are redelivered", async () => {
  await ok(url(NODES[2]!), "POST", "/v1/streams", { name: "coord/jobs", partitions: 3 });
  await publish(url(NODES[2]!), "coord/jobs", 30);
  // 10 claimed and never acked (they must come back), 10 claimed and acked (they must not).
  const unacked = await claim(url(NODES[0]!), "coord-failover", { streams: ["coord/jobs"], max_records: 10, visibility_ms: LEASE_MS });
  const acked = await claim(url(NODES[1]!), "coord-failover", { streams: ["coord/jobs"], max_records: 10, visibility_ms: 60_000 });
  expect(unacked.length + acked.length).toBe(20);
  await ok(url(NODES[1]!), "POST", "/v1/queues/coord-failover/ack", { receipts: acked.map((c) => c.receipt) });

  const old = await coordinator();
  expect(old).not.toBeNull();
  const survivors = NODES.filter((n) => n !== old);
  const members = new GroupMembers(url(survivors[0]!), "coord-failover-readers");
  const gatewayOf = new Map(survivors.map((node, i) => [`f-${i}`, node]));
  for (const [member, node] of gatewayOf) {
    expect((await heartbeatThrough(members, member, node, { streams: ["coord/jobs"], sessionTimeoutMs: 60_000 })).status).toBe(200);
  }
  await settle(members, gatewayOf, 3);
  const before = new Map([...members.owned].map(([m, keys]) => [m, [...keys].sort()]));
  const epochs = new Map([...gatewayOf.keys()].map((m) => [m, members.epochOf(m)]));

  await cluster.gateway(old!).kill();
  // Another gateway takes the role once the lock expires; meanwhile calls answer 503 and are retried.
  const next = await waitUntil("another gateway takes the coordinator role", async () => {
    const holder = await coordinator();
    return holder !== null && holder !== old ? holder : undefined;
  }, 60_000);
  expect(survivors).toContain(next);

  // Members rejoin with the epoch and assignment they had: their state came back from the database.
  // (First wait until each survivor reaches the new coordinator: a 503 heartbeat would make the
  // helper forget the member's epoch, as a real member does when its session is in doubt.)
  for (const node of survivors) {
    await waitUntil(`${node} reaches the new coordinator`, async () => ((await fetch(`${url(node)}/v1/groups/coord-failover-readers`)).status === 200 ? true : undefined), 30_000);
  }
  for (const [member, node] of gatewayOf) {
    members.url = url(node);
    const answer = await members.heartbeat(member);
    expect(answer.status).toBe(200);
    expect(members.epochOf(member)).toBe(epochs.get(member)!);
    expect([...members.owned.get(member)!].sort()).toEqual(before.get(member)!);
  }

  // Every record not acked is delivered again (the unacked ones a second time), none acked comes back.
  const delivered = new Map<number, Claimed>();
  for (let idle = 0; idle < 3 && delivered.size < 20; ) {
    const claimed = await claim(url(survivors[0]!), "coord-failover", { streams: ["coord/jobs"], max_records: 10, visibility_ms: 60_000, wait_ms: 1_000 });
    if (claimed.length === 0) idle++;
    for (const c of claimed) {
      expect(delivered.has(c.fields.n)).toBe(false);
      delivered.set(c.fields.n, c);
    }
  }
  const ackedNumbers = new Set(acked.map((c) => c.fields.n));
  const unackedNumbers = new Set(unacked.map((c) => c.fields.n));
  expect(delivered.size).toBe(20);
  for (const [n, c] of delivered) {
    expect(ackedNumbers.has(n)).toBe(false);
    expect(c.deliveries).toBe(unackedNumbers.has(n) ? 2 : 1);
  }
}, 240_000);
