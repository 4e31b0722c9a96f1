// Any gateway accepts any request (docs/cluster.md), end to end: three `strata serve --cluster`
// processes with auth on, one shared libSQL server and one radosgw bucket. One administrator
// token (issued by the first gateway, verified by all through the shared signing key) and one
// scoped token are used on every gateway. Keyed records published through each gateway to
// partitions led by the others are forwarded to their leaders and answered with their
// positions; every partition reads back the same through every gateway (reads of partitions led
// elsewhere are proxied); describe names each partition's leader with the same offsets
// everywhere; a caller without scope is refused by the gateway it called; a request marked as
// forwarded is never forwarded again (503 NOT_LEADER, Retry-After: 1).
import { afterAll, beforeAll, expect, test } from "bun:test";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { z } from "zod";
import { buildClientBatch, CLIENT_BATCH_MEDIA_TYPE } from "../../core/log/client-batch.ts";
import { partitionForKey } from "../../core/log/partitioner.ts";
import type { ClusterGateway } from "../../cli/dev/cluster-gateway.ts";
import { clusterStatusSchema, type ClusterLease } from "../../gateway/cluster/cluster-wire.ts";
import { startTestCluster, waitUntil, type TestCluster } from "../helpers/cluster.ts";

const STREAM = "routing/e2e";
const PARTITIONS = 6;
const utf8 = new TextEncoder();

let cluster: TestCluster;
let admin: string;

const positionsSchema = z.object({ records: z.array(z.object({ partition: z.number(), offset: z.number() })) });
const readSchema = z.object({
  records: z.array(z.object({ offset: z.number(), fields: z.record(z.string(), z.unknown()).nullable() })),
  next_offset: z.number(),
  end_offset: z.number(),
});
const streamSchema = z.object({
  name: z.string(),
  partitions: z.array(
    z.object({
      partition: z.number(),
      start_offset: z.number(),
      end_offset: z.number(),
      leader: z.object({ node: z.string(), url: z.string().nullable() }).nullable(),
    }),
  ),
});

function call(via: ClusterGateway, path: string, init: RequestInit & { token?: string } = {}): Promise<Response> {
  const headers = new Headers(init.headers);
  headers.set("authorization", `Bearer ${init.token ?? admin}`);
  return fetch(`${via.url}${path}`, { ...init, headers, signal: AbortSignal.timeout(30_000) });
}

/**
 * A publish with an idempotent producer, retried (as every Strata client does) while the answer is
 * a retryable 503: right after a lease moves, the new leader may still be opening the partition
 * or another gateway's lease map may be a rebalance tick behind.
 */
async function publishRetrying(via: ClusterGateway, path: string, init: RequestInit & { token?: string }): Promise<Response> {
  return waitUntil(`a publish through ${via.node}`, async () => {
    const response = await call(via, path, init);
    if (response.status !== 503) return response;
    const { error } = (await response.json()) as { error: { code: string } };
    if (!["NOT_LEADER", "LEASE_LOST", "UNAVAILABLE"].includes(error.code)) throw new Error(`503 ${error.code}`);
    return undefined;
  });
}

async function leases(): Promise<ClusterLease[]> {
  const response = await call(cluster.gateways[0]!, "/v1/cluster");
  expect(response.status).toBe(200);
  return clusterStatusSchema.parse(await response.json()).leases.filter((l) => l.stream === STREAM && l.holder !== null && l.expires_in_ms > 0);
}

/** A key that hashes to partition `p` (distinct per `salt`). */
function keyFor(p: number, salt: string): string {
  for (let i = 0; ; i++) {
    const key = `${salt}-${i}`;
    if (partitionForKey(utf8.encode(key), PARTITIONS) === p) return key;
  }
}

async function readAll(via: ClusterGateway, partition: number, token = admin): Promise<{ offset: number; fields: Record<string, unknown> | null }[]> {
  const out: { offset: number; fields: Record<string, unknown> | null }[] = [];
  let offset = 0;
  for (;;) {
    const response = await call(via, `/v1/streams/${encodeURIComponent(STREAM)}/partitions/${partition}/records?offset=${offset}&max_records=1000`, { token });
    expect(response.status).toBe(200);
    const answer = readSchema.parse(await response.json());
    out.push(...answer.records);
    if (answer.next_offset >= answer.end_offset) return out;
    offset = answer.next_offset;
  }
}

beforeAll(async () => {
  cluster = await startTestCluster({ gateways: 3, config: { auth: { enabled: true } } });
  const tokenFile = join(cluster.gateways[0]!.spec.dataDir, "admin.token");
  admin = await waitUntil("the first gateway's administrator token", async () => (existsSync(tokenFile) ? readFileSync(tokenFile, "utf8").trim() || undefined : undefined));
  const created = await call(cluster.gateways[1]!, "/v1/streams", { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ name: STREAM, partitions: PARTITIONS }) });
  expect(created.status).toBe(201);
  // Every partition led, by more than one gateway (rendezvous hashing decides which), so every
  // gateway has partitions led elsewhere.
  await waitUntil("every partition led, by several gateways", async () => {
    const held = await leases();
    const holders = new Set(held.map((l) => l.holder));
    return new Set(held.map((l) => l.partition)).size === PARTITIONS && holders.size >= 2 ? held : undefined;
  }, 60_000);
}, 180_000);

afterAll(async () => {
  await cluster?.stop();
}, 60_000);

test("keyed records published through each gateway to partitions led elsewhere reach their leaders, and read back the same everywhere", async () => {
  const held = await leases();
  const leaderOf = new Map(held.map((l) => [l.partition, l.holder!]));
  const sent = new Map<number, { offset: number; fields: Record<string, unknown> }[]>();
  for (const [g, via] of cluster.gateways.entries()) {
    const remote = [...leaderOf].filter(([, holder]) => holder !== via.node).map(([p]) => p);
    expect(remote.length).toBeGreaterThan(0);
    // One request over every partition led elsewhere, with an idempotent producer.
    const records = remote.map((p) => ({ key: keyFor(p, `g${g}`), fields: { via: via.node, p } }));
    const body = JSON.stringify({ records, producer: { id: 900 + g, epoch: 0, seq: 0 } });
    const response = await publishRetrying(via, `/v1/streams/${encodeURIComponent(STREAM)}/records`, { method: "POST", headers: { "content-type": "application/json" }, body });
    expect(response.status).toBe(200);
    const { records: positions } = positionsSchema.parse(await response.json());
    expect(positions.map((r) => r.partition)).toEqual(remote);
    positions.forEach((at, i) => {
      const list = sent.get(at.partition) ?? [];
      list.push({ offset: at.offset, fields: records[i]!.fields });
      sent.set(at.partition, list);
    });
    // The same request again (a retry through the same gateway): the same positions, nothing new.
    const again = await call(via, `/v1/streams/${encodeURIComponent(STREAM)}/records`, { method: "POST", headers: { "content-type": "application/json" }, body });
    expect(again.status).toBe(200);
    expect(positionsSchema.parse(await again.json()).records).toEqual(positions);
  }
  // A client-built batch through gateway 0 to a partition gateway 2 leads.
  const batchPartition = [...leaderOf].find(([, holder]) => holder !== cluster.gateways[0]!.node)![0];
  const batch = buildClientBatch([{ key: utf8.encode(keyFor(batchPartition, "batch")), headers: {}, fields: { via: "batch", p: batchPartition } }], { id: 990, epoch: 0, baseSequence: 0 });
  const batchAnswer = await publishRetrying(cluster.gateways[0]!, `/v1/streams/${encodeURIComponent(STREAM)}/records`, { method: "POST", headers: { "content-type": CLIENT_BATCH_MEDIA_TYPE }, body: new Uint8Array(batch) });
  expect(batchAnswer.status).toBe(200);
  const [batchAt] = positionsSchema.parse(await batchAnswer.json()).records;
  expect(batchAt!.partition).toBe(batchPartition);
  sent.set(batchPartition, [...(sent.get(batchPartition) ?? []), { offset: batchAt!.offset, fields: { via: "batch", p: batchPartition } }]);

  for (let p = 0; p < PARTITIONS; p++) {
    const expected = (sent.get(p) ?? []).sort((a, b) => a.offset - b.offset);
    const views = await Promise.all(cluster.gateways.map((via) => readAll(via, p)));
    for (const view of views) expect(view).toEqual(expected);
  }

  // Describe through every gateway: the same leaders and offsets (the remote ones from the shared state).
  const described = await Promise.all(
    cluster.gateways.map(async (via) => {
      const response = await call(via, `/v1/streams/${encodeURIComponent(STREAM)}`);
      expect(response.status).toBe(200);
      return { via, info: streamSchema.parse(await response.json()) };
    }),
  );
  for (const { via, info } of described) {
    for (const part of info.partitions) {
      const leader = leaderOf.get(part.partition)!;
      expect(part.leader?.node).toBe(leader);
      expect(part.leader?.url).toBe(leader === via.node ? null : cluster.gateway(leader).url);
      expect(part.end_offset).toBe((sent.get(part.partition) ?? []).length);
    }
  }
}, 120_000);

test("unkeyed records without a producer stay on a partition the called gateway leads", async () => {
  const held = await leases();
  const leading = cluster.gateways.filter((g) => held.some((l) => l.holder === g.node));
  expect(leading.length).toBeGreaterThanOrEqual(2);
  for (const via of leading) {
    const mine = new Set(held.filter((l) => l.holder === via.node).map((l) => l.partition));
    const response = await call(via, `/v1/streams/${encodeURIComponent(STREAM)}/records`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ records: [{ fields: { unkeyed: via.node } }] }) });
    expect(response.status).toBe(200);
    const [at] = positionsSchema.parse(await response.json()).records;
    expect(mine.has(at!.partition)).toBe(true);
  }
}, 60_000);

test("a scoped token works through any gateway; one without the scope is refused where it calls", async () => {
  const issue = async (subject: string, scopes: { action: string; streams: string }[]) => {
    const response = await call(cluster.gateways[2]!, "/v1/tokens", { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ scopes, ttl_s: 600, subject }) });
    expect(response.status).toBe(201);
    return z.object({ token: z.string() }).parse(await response.json()).token;
  };
  const writer = await issue("writer", [
    { action: "publish", streams: STREAM },
    { action: "consume", streams: STREAM },
  ]);
  const outsider = await issue("outsider", [{ action: "consume", streams: "other/>" }]);
  const held = await leases();
  const via = cluster.gateways[0]!;
  const p = held.find((l) => l.holder !== via.node)!.partition;
  const publish = (token: string) =>
    publishRetrying(via, `/v1/streams/${encodeURIComponent(STREAM)}/records`, { token, method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ records: [{ key: keyFor(p, "scoped"), fields: { scoped: true } }], producer: { id: 777, epoch: 0, seq: 0 } }) });
  const ok = await publish(writer);
  expect(ok.status).toBe(200);
  expect(positionsSchema.parse(await ok.json()).records[0]!.partition).toBe(p);
  const refused = await publish(outsider);
  expect(refused.status).toBe(403);
  const read = await call(via, `/v1/streams/${encodeURIComponent(STREAM)}/partitions/${p}/records?offset=0`, { token: outsider });
  expect(read.status).toBe(403);
  expect((await readAll(via, p, writer)).some((r) => r.fields?.scoped === true)).toBe(true);
}, 60_000);

test("a request marked as forwarded is never forwarded again: 503 NOT_LEADER with Retry-After", async () => {
  const held = await leases();
  const via = cluster.gateways[1]!;
  const p = held.find((l) => l.holder !== via.node)!.partition;
  const forwarded = { "strata-forwarded": "1" };
  const write = await call(via, `/v1/streams/${encodeURIComponent(STREAM)}/records`, { method: "POST", headers: { ...forwarded, "content-type": "application/json" }, body: JSON.stringify({ records: [{ key: keyFor(p, "fwd"), fields: {} }] }) });
  expect(write.status).toBe(503);
  expect(write.headers.get("retry-after")).toBe("1");
  expect(((await write.json()) as { error: { code: string } }).error.code).toBe("NOT_LEADER");
  const read = await call(via, `/v1/streams/${encodeURIComponent(STREAM)}/partitions/${p}/records?offset=0`, { headers: forwarded });
  expect(read.status).toBe(503);
  expect(((await read.json()) as { error: { code: string } }).error.code).toBe("NOT_LEADER");
}, 60_000);

test("a compacted stream's latest records are answered through any gateway: per key by the key's leader, the whole map by the gateway leading every partition", async () => {
  const create = async (name: string, partitions: number) => {
    const response = await call(cluster.gateways[0]!, "/v1/streams", { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ name, partitions, cleanup: "compact" }) });
    expect(response.status).toBe(201);
  };
  const single = "routing/params";
  const spread = "routing/kv";
  await create(single, 1);
  await create(spread, 3);
  const held = await waitUntil("the compacted streams' partitions led", async () => {
    const response = await call(cluster.gateways[0]!, "/v1/cluster");
    const all = clusterStatusSchema.parse(await response.json()).leases.filter((l) => l.holder !== null && l.expires_in_ms > 0);
    const of = (s: string) => all.filter((l) => l.stream === s);
    return of(single).length === 1 && of(spread).length === 3 ? all : undefined;
  });
  const publish = async (via: ClusterGateway, stream: string, key: string, value: number) => {
    const response = await publishRetrying(via, `/v1/streams/${encodeURIComponent(stream)}/records`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ records: [{ key, fields: { value } }], producer: { id: 5000 + value, epoch: 0, seq: 0 } }) });
    expect(response.status).toBe(200);
  };
  const latest = (via: ClusterGateway, stream: string, key?: string) => call(via, `/v1/streams/${encodeURIComponent(stream)}/latest${key === undefined ? "" : `?key=${key}`}`);
  const latestSchema = z.object({ records: z.array(z.object({ key: z.object({ $base64: z.string() }), fields: z.object({ value: z.number() }) })) });
  const values = async (response: Response) => {
    expect(response.status).toBe(200);
    return latestSchema
      .parse(await response.json())
      .records.map((r) => `${Buffer.from(r.key.$base64, "base64").toString()}=${r.fields.value}`)
      .sort();
  };
  const [g0, g1, g2] = cluster.gateways as [ClusterGateway, ClusterGateway, ClusterGateway];
  for (const stream of [single, spread]) {
    await publish(g0, stream, "alpha", 1);
    await publish(g1, stream, "alpha", 2);
    await publish(g2, stream, "beta", 7);
  }
  for (const via of cluster.gateways) {
    expect(await values(await latest(via, single))).toEqual(["alpha=2", "beta=7"]);
    expect(await values(await latest(via, spread, "alpha"))).toEqual(["alpha=2"]);
    expect(await values(await latest(via, spread, "beta"))).toEqual(["beta=7"]);
  }
  // The whole map of the spread stream: from a gateway that leads all three partitions, else NOT_LEADER.
  const spreadLeaders = new Set(held.filter((l) => l.stream === spread).map((l) => l.holder));
  const whole = await latest(g0, spread);
  if (spreadLeaders.size === 1) expect(await values(whole)).toEqual(["alpha=2", "beta=7"]);
  else {
    expect(whole.status).toBe(503);
    expect(((await whole.json()) as { error: { code: string } }).error.code).toBe("NOT_LEADER");
  }
  // Compaction on demand through any gateway compacts the partitions that gateway leads.
  for (const via of cluster.gateways) {
    const compact = await call(via, "/v1/admin/compact", { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ stream: spread }) });
    expect(compact.status).toBe(200);
  }
}, 60_000);

test("a long poll through a gateway that does not lead the partition wakes when the leader takes a record", async () => {
  const held = await leases();
  const via = cluster.gateways.find((g) => held.some((l) => l.holder !== g.node))!;
  const lease = held.find((l) => l.holder !== via.node)!;
  const end = (await readAll(via, lease.partition)).length;
  const poll = call(via, `/v1/streams/${encodeURIComponent(STREAM)}/partitions/${lease.partition}/records?offset=${end}&wait_ms=20000`);
  // Published through the leader itself while the poll is (most likely) waiting there; either way the poll answers with it.
  const leader = cluster.gateway(lease.holder!);
  const published = await publishRetrying(leader, `/v1/streams/${encodeURIComponent(STREAM)}/records`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ records: [{ key: keyFor(lease.partition, "poll"), fields: { polled: true } }], producer: { id: 31337, epoch: 0, seq: 0 } }),
  });
  expect(published.status).toBe(200);
  const response = await poll;
  expect(response.status).toBe(200);
  const answer = readSchema.parse(await response.json());
  // Had the poll timed out instead, it would answer no record.
  expect(answer.records.map((r) => r.fields)).toEqual([{ polled: true }]);
}, 60_000);
