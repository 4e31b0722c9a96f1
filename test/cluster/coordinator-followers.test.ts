// What the gateways that do not coordinate read of the stateful services (gateway/cluster/
// coordinated-services.ts): two in-process gateways in cluster mode on a real libSQL server and
// radosgw. A dataset version and a checkpoint created through the coordinator reach the
// follower's retention pins (DatasetService.pinnedFloor) and GC holder (JobService.heldManifests)
// from the database; the follower refuses changes itself (NOT_LEADER), and when the coordinator
// closes the follower takes the role and serves the same state.
import { afterAll, beforeAll, expect, test } from "bun:test";
import { isStrataError } from "../../core/errors.ts";
import { liveGateway, type LiveGateway } from "../helpers/in-process-gateway.ts";
import { startS3, type S3TestStore } from "../helpers/ceph.ts";
import { startSqld, type SqldServer } from "../helpers/sqld.ts";
import { FAST_CLUSTER, waitUntil } from "../helpers/cluster.ts";
import { call, shardBytes, uploadShard } from "../jobs/job-fixture.ts";

let sqld: SqldServer;
let s3: S3TestStore;
let coordinatorGateway: LiveGateway;
let follower: LiveGateway;

async function clusterGateway(node: string): Promise<LiveGateway> {
  const live = await liveGateway({
    dbUrl: sqld.url,
    s3: { endpoint: s3.endpoint, bucket: s3.bucket, region: s3.region, prefix: `coordinator-followers-${process.pid}` },
    clusterMode: { enabled: true, node },
    cluster: FAST_CLUSTER,
  });
  await live.gateway.startCluster(live.url);
  return live;
}

beforeAll(async () => {
  [sqld, s3] = await Promise.all([startSqld(), startS3()]);
  process.env.AWS_ACCESS_KEY_ID = s3.accessKeyId;
  process.env.AWS_SECRET_ACCESS_KEY = s3.secretAccessKey;
  // The first gateway takes the free coordinator lock as it opens.
  coordinatorGateway = await clusterGateway("follow-a");
  follower = await clusterGateway("follow-b");
}, 300_000);

afterAll(async () => {
  await follower?.close().catch(() => undefined);
  await coordinatorGateway?.close().catch(() => undefined);
  await sqld?.stop();
  await s3?.stop();
});

async function ok(base: string, method: string, path: string, body?: unknown): Promise<any> {
  return waitUntil(`${method} ${path}`, async () => {
    const answer = await call(base, method, path, body);
    if (answer.status === 503) return undefined;
    if (answer.status >= 300) throw new Error(`${method} ${path}: ${answer.status} ${JSON.stringify(answer.body)}`);
    return answer.body;
  });
}

test("a dataset created through the follower pins the follower's retention once it reloads the versions", async () => {
  expect(coordinatorGateway.gateway.services.coordination?.route()).toEqual({ kind: "local" });
  await ok(follower.url, "POST", "/v1/streams", { name: "follow/data", partitions: 2 });
  await ok(follower.url, "POST", "/v1/streams/follow%2Fdata/records?acks=durable", { records: Array.from({ length: 20 }, (_, i) => ({ key: `k${i}`, fields: { i } })) });
  const datasets = follower.gateway.services.datasets;
  expect([datasets.pinnedFloor("follow/data", 0), datasets.pinnedFloor("follow/data", 1)]).toEqual([undefined, undefined]);
  const version = await ok(follower.url, "POST", "/v1/datasets", { name: "follow-set", stream: "follow/data" });
  expect(version.samples).toBe(20);
  await waitUntil("the follower's retention sees the pins", async () => (version.partitions.every((p: { partition: number; start: number; samples: number }) => p.samples === 0 || datasets.pinnedFloor("follow/data", p.partition) === p.start) ? true : undefined), 10_000);
  // The follower's own service refuses changes: only the coordinator creates versions.
  const refused = await datasets.create({ name: "follow-direct", stream: "follow/data" }).catch((e: unknown) => e);
  expect(isStrataError(refused) && refused.code).toBe("NOT_LEADER");
}, 60_000);

test("a checkpoint committed through the follower is held against GC on the follower too", async () => {
  const artefact = await uploadShard(follower.url, shardBytes(100_000, 7));
  await ok(follower.url, "PUT", "/v1/jobs/follow-job/checkpoints/c1/ranks/0", { artefact, world_size: 2, step: 1 });
  // Open (one rank of two): held by the coordinator's service, and by the follower's once it reloads.
  expect(coordinatorGateway.gateway.services.jobs.heldManifests().has(artefact)).toBe(true);
  await waitUntil("the follower's GC holder sees the open checkpoint", async () => (follower.gateway.services.jobs.heldManifests().has(artefact) ? true : undefined), 10_000);
}, 60_000);

test("the coordinator closing hands the role to the follower, which serves the same state", async () => {
  await coordinatorGateway.close();
  await waitUntil("the follower coordinates", async () => (follower.gateway.services.coordination?.route().kind === "local" ? true : undefined), 10_000);
  const described = await ok(follower.url, "GET", "/v1/datasets/follow-set");
  expect(described.versions.map((v: { version: number }) => v.version)).toEqual([1]);
  const job = await ok(follower.url, "GET", "/v1/jobs");
  expect(job.jobs.map((j: { job: string }) => j.job)).toContain("follow-job");
  const next = await ok(follower.url, "POST", "/v1/datasets", { name: "follow-set", stream: "follow/data" });
  expect(next.version).toBe(2);
}, 60_000);
