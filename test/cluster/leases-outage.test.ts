// The metadata database away, for a gateway in cluster mode (real sqld killed and started again):
// with no lease renewal for leaseMs - renewMs, the gateway resigns every partition it led (it must
// stop acknowledging before its leases can expire in the database and another gateway takes
// them), GET /v1/cluster answers 503 METADATA_UNAVAILABLE, nothing crashes; once the database is
// back it leads its partitions again under new epochs.
import { afterAll, beforeAll, expect, test } from "bun:test";
import { clusterStatusSchema } from "../../gateway/cluster/cluster-wire.ts";
import { startS3, type S3TestStore } from "../helpers/ceph.ts";
import { liveGateway, type LiveGateway } from "../helpers/in-process-gateway.ts";
import { startSqld, type SqldServer } from "../helpers/sqld.ts";

const STREAM = "outage/leases";
const PARTITIONS = 4;

let sqld: SqldServer;
let s3: S3TestStore;
let gateway: LiveGateway | undefined;

beforeAll(async () => {
  sqld = await startSqld();
  s3 = await startS3();
  process.env.AWS_ACCESS_KEY_ID = s3.accessKeyId;
  process.env.AWS_SECRET_ACCESS_KEY = s3.secretAccessKey;
}, 120_000);

afterAll(async () => {
  await gateway?.close().catch(() => undefined);
  await sqld?.stop();
  await s3?.stop();
});

async function waitFor(what: string, check: () => boolean | Promise<boolean>, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await check()) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`timed out waiting for ${what}`);
}

async function epochs(url: string): Promise<number[]> {
  const status = clusterStatusSchema.parse(await (await fetch(`${url}/v1/cluster`)).json());
  return status.leases.filter((l) => l.stream === STREAM).map((l) => l.epoch);
}

test("a gateway cut off from the metadata database resigns its partitions before its leases expire, and leads again once it is back", async () => {
  const prefix = `outage-${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 8)}`;
  const g = await liveGateway({
    dbUrl: sqld.url,
    s3: { endpoint: s3.endpoint, bucket: s3.bucket, region: s3.region, prefix, forcePathStyle: true },
    clusterMode: { enabled: true, node: "outage-1" },
    cluster: { leaseMs: 3_000, renewMs: 500, rebalanceMs: 250 },
  });
  gateway = g;
  const cluster = g.gateway.cluster!;
  const created = await fetch(`${g.url}/v1/streams`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ name: STREAM, partitions: PARTITIONS }) });
  expect(created.status).toBe(201);
  await waitFor("the gateway leading every partition", () => cluster.localPartitions(STREAM).length === PARTITIONS);
  const before = await epochs(g.url);

  await sqld.kill();
  await waitFor("the gateway resigning its partitions", () => cluster.localPartitions(STREAM).length === 0);
  for (let p = 0; p < PARTITIONS; p++) expect(() => cluster.route(STREAM, p)).toThrow(expect.objectContaining({ code: "NOT_LEADER" }));
  const refused = await fetch(`${g.url}/v1/cluster`);
  expect(refused.status).toBe(503);
  expect(((await refused.json()) as { error: { code: string } }).error.code).toBe("METADATA_UNAVAILABLE");

  await sqld.start();
  await waitFor("the gateway leading every partition again", () => cluster.localPartitions(STREAM).length === PARTITIONS);
  const after = await epochs(g.url);
  for (let p = 0; p < PARTITIONS; p++) expect(after[p]!).toBeGreaterThan(before[p]!);
}, 120_000);
