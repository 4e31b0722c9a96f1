// Membership and partition leases of in-process gateways in cluster mode on one real libSQL
// server (sqld) and one radosgw bucket: three gateways share the partitions of a 12-partition
// stream, a fourth joining takes its share, one closing cleanly hands its partitions over at
// once (leases last 60 s here, so nothing is taken by expiry), and GET /v1/cluster shows it all.
import { afterAll, beforeAll, expect, test } from "bun:test";
import { clusterStatusSchema, type ClusterStatus } from "../../gateway/cluster/cluster-wire.ts";
import { startS3, type S3TestStore } from "../helpers/ceph.ts";
import { liveGateway, type LiveGateway } from "../helpers/in-process-gateway.ts";
import { startSqld, type SqldServer } from "../helpers/sqld.ts";

const STREAM = "membership/leases";
const PARTITIONS = 12;
/** Long leases: any partition that moves within the test moved by hand-over, not by expiry. */
const LIMITS = { leaseMs: 60_000, renewMs: 300, rebalanceMs: 150 };

let sqld: SqldServer;
let s3: S3TestStore;
const gateways: LiveGateway[] = [];
let prefix = "";

beforeAll(async () => {
  sqld = await startSqld();
  s3 = await startS3();
  // The S3 client's credentials come from the SDK's default chain.
  process.env.AWS_ACCESS_KEY_ID = s3.accessKeyId;
  process.env.AWS_SECRET_ACCESS_KEY = s3.secretAccessKey;
  prefix = `membership-${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 8)}`;
}, 120_000);

afterAll(async () => {
  for (const g of gateways) await g.close().catch(() => undefined);
  await sqld?.stop();
  await s3?.stop();
});

function join(node: string): Promise<LiveGateway> {
  return liveGateway({
    dbUrl: sqld.url,
    s3: { endpoint: s3.endpoint, bucket: s3.bucket, region: s3.region, prefix, forcePathStyle: true },
    clusterMode: { enabled: true, node },
    cluster: LIMITS,
  });
}

async function status(via: LiveGateway): Promise<ClusterStatus> {
  const response = await fetch(`${via.url}/v1/cluster`);
  expect(response.status).toBe(200);
  return clusterStatusSchema.parse(await response.json());
}

/** Live leases of the stream per holder. */
function holders(s: ClusterStatus): Map<string, number[]> {
  const out = new Map<string, number[]>();
  for (const l of s.leases) {
    if (l.stream !== STREAM || l.holder === null || l.expires_in_ms <= 0) continue;
    out.set(l.holder, [...(out.get(l.holder) ?? []), l.partition]);
  }
  return out;
}

async function waitFor(what: string, check: () => Promise<boolean>, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await check()) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`timed out waiting for ${what}`);
}

/** Every partition held by exactly the gateways named, each holding at least one, and each leading what the database says it holds. */
async function shared(via: LiveGateway, nodes: string[]): Promise<boolean> {
  const byHolder = holders(await status(via));
  const held = [...byHolder.values()].flat().sort((a, b) => a - b);
  if (held.length !== PARTITIONS || new Set(held).size !== PARTITIONS) return false;
  if (byHolder.size !== nodes.length || !nodes.every((n) => (byHolder.get(n)?.length ?? 0) > 0)) return false;
  return gateways.filter((g) => nodes.includes(g.gateway.cluster?.node ?? "")).every((g) => {
    const cluster = g.gateway.cluster!;
    return JSON.stringify(cluster.localPartitions(STREAM)) === JSON.stringify((byHolder.get(cluster.node) ?? []).sort((a, b) => a - b));
  });
}

test("three gateways share a 12-partition stream, a fourth takes its share, one leaving hands over at once", async () => {
  for (const node of ["gw-a", "gw-b", "gw-c"]) gateways.push(await join(node));
  const [a, b, c] = gateways as [LiveGateway, LiveGateway, LiveGateway];
  const created = await fetch(`${b.url}/v1/streams`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ name: STREAM, partitions: PARTITIONS }) });
  expect(created.status).toBe(201);
  await waitFor("three gateways sharing the partitions", () => shared(a, ["gw-a", "gw-b", "gw-c"]));

  // Every gateway routes every partition (once its lease map caught up): to itself or to the leader's URL.
  const leaders = new Map([...holders(await status(a))].flatMap(([node, ps]) => ps.map((p) => [p, node] as const)));
  const urlOf = new Map(gateways.map((g) => [g.gateway.cluster!.node, g.url]));
  await waitFor("every gateway routing every partition to its leader", async () =>
    gateways.every((g) =>
      Array.from({ length: PARTITIONS }, (_, p) => p).every((p) => {
        const route = (() => {
          try {
            return g.gateway.cluster!.route(STREAM, p);
          } catch {
            return undefined;
          }
        })();
        const leader = leaders.get(p)!;
        return leader === g.gateway.cluster!.node ? route?.kind === "local" : route?.kind === "remote" && route.node === leader && route.url === urlOf.get(leader);
      }),
    ),
  );

  // Each gateway's metrics count the partitions it leads.
  for (const g of gateways) {
    const metrics = await (await fetch(`${g.url}/metrics`)).text();
    expect(metrics).toContain(`strata_cluster_partitions_led ${g.gateway.cluster!.localPartitions(STREAM).length}\n`);
  }

  const before = await status(a);
  expect(before.gateways.map((x) => [x.node, x.state, x.live])).toEqual([
    ["gw-a", "up", true],
    ["gw-b", "up", true],
    ["gw-c", "up", true],
  ]);
  expect(before.gateways.find((x) => x.node === "gw-b")?.url).toBe(b.url);

  gateways.push(await join("gw-d"));
  await waitFor("a fourth gateway taking its share", () => shared(c, ["gw-a", "gw-b", "gw-c", "gw-d"]));
  const epochsBefore = new Map((await status(a)).leases.map((l) => [l.partition, l.epoch]));

  // A clean stop: gw-b's partitions move to the others now, not after the 60 s lease.
  const leaving = gateways.splice(1, 1)[0]!;
  const bHeld = holders(await status(a)).get("gw-b") ?? [];
  expect(bHeld.length).toBeGreaterThan(0);
  await leaving.close();
  const right = await status(a);
  const gone = right.gateways.find((x) => x.node === "gw-b");
  expect(gone?.state).toBe("leaving");
  expect(gone?.live).toBe(false);
  expect(right.leases.filter((l) => l.holder === "gw-b")).toEqual([]);
  await waitFor("the others taking gw-b's partitions", () => shared(a, ["gw-a", "gw-c", "gw-d"]));
  // Each moved partition has a new epoch: the new leader's commits are fenced from gw-b's.
  const after = await status(c);
  for (const p of bHeld) expect(after.leases.find((l) => l.partition === p)!.epoch).toBeGreaterThan(epochsBefore.get(p)!);
}, 120_000);

test("GET /v1/cluster answers 404 outside cluster mode", async () => {
  const single = await liveGateway();
  try {
    const response = await fetch(`${single.url}/v1/cluster`);
    expect(response.status).toBe(404);
    expect(((await response.json()) as { error: { code: string } }).error.code).toBe("NOT_FOUND");
  } finally {
    await single.close();
  }
});

test("GET /v1/cluster needs metrics or admin:> with --auth: a consume token is refused", async () => {
  const adminToken = "membership-test-administrator-token-0123456789";
  const g = await liveGateway({
    dbUrl: sqld.url,
    s3: { endpoint: s3.endpoint, bucket: s3.bucket, region: s3.region, prefix, forcePathStyle: true },
    clusterMode: { enabled: true, node: "gw-auth" },
    cluster: LIMITS,
    auth: { enabled: true, adminToken },
  });
  gateways.push(g);
  const issue = async (action: string): Promise<string> => {
    const response = await fetch(`${g.url}/v1/tokens`, {
      method: "POST",
      headers: { "content-type": "application/json", authorization: `Bearer ${adminToken}` },
      body: JSON.stringify({ scopes: [{ action, streams: ">" }], ttl_s: 600 }),
    });
    expect(response.status).toBe(201);
    return ((await response.json()) as { token: string }).token;
  };
  const get = (token?: string) => fetch(`${g.url}/v1/cluster`, token === undefined ? {} : { headers: { authorization: `Bearer ${token}` } });
  expect((await get()).status).toBe(401);
  expect((await get(await issue("consume"))).status).toBe(403);
  const viaMetrics = await get(await issue("metrics"));
  expect(viaMetrics.status).toBe(200);
  expect(clusterStatusSchema.parse(await viaMetrics.json()).node).toBe("gw-auth");
  expect((await get(adminToken)).status).toBe(200);
}, 60_000);
