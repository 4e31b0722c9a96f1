// `strata serve --cluster` as a real process on a real libSQL server (sqld) and radosgw: the node
// name generated once into DATA/node-id survives a restart (a new incarnation of the same node),
// the startup line names node and incarnation, SIGTERM leaves the cluster cleanly, and the flags
// are checked (--node without --cluster is a usage error, cluster mode without a shared database
// stops start-up naming what is missing).
import { afterAll, beforeAll, expect, test } from "bun:test";
import { spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { clusterStatusSchema, type ClusterStatus } from "../../gateway/cluster/cluster-wire.ts";
import { NODE_ID_FILE } from "../../gateway/cluster/node-identity.ts";
import { startS3, type S3TestStore } from "../helpers/ceph.ts";
import { removeDir, ROOT, startGateway, tempDir } from "../helpers/gateway.ts";
import { startSqld, type SqldServer } from "../helpers/sqld.ts";

let sqld: SqldServer;
let s3: S3TestStore;
const dataDir = tempDir();

beforeAll(async () => {
  sqld = await startSqld();
  s3 = await startS3();
}, 120_000);

afterAll(async () => {
  await sqld?.stop();
  await s3?.stop();
  removeDir(dataDir);
});

function serveCluster() {
  const prefix = `membership-serve-${process.pid}`;
  return startGateway({
    dataDir,
    args: ["--db-url", sqld.url, "--s3-endpoint", s3.endpoint, "--s3-bucket", s3.bucket, "--s3-prefix", prefix, "--s3-region", s3.region],
    env: { STRATA_CLUSTER: "1", AWS_ACCESS_KEY_ID: s3.accessKeyId, AWS_SECRET_ACCESS_KEY: s3.secretAccessKey },
    timeoutMs: 60_000,
  });
}

async function status(url: string): Promise<ClusterStatus> {
  return clusterStatusSchema.parse(await (await fetch(`${url}/v1/cluster`)).json());
}

test("a gateway keeps its generated node name across restarts, as a new incarnation, and leaves cleanly on SIGTERM", async () => {
  const first = await serveCluster();
  const node = readFileSync(join(dataDir, NODE_ID_FILE), "utf8").trim();
  expect(node).toMatch(/^gw-[0-9a-f]{16}$/);
  expect(first.output()).toContain(`cluster node ${node}, incarnation 1`);
  const seen = await status(first.url);
  expect(seen.node).toBe(node);
  expect(seen.gateways).toEqual([{ node, url: first.url, state: "up", live: true, incarnation: 1, leases: 0 }]);
  await first.stop();

  const second = await serveCluster();
  try {
    expect(second.output()).toContain(`cluster node ${node}, incarnation 2`);
    expect((await status(second.url)).gateways).toEqual([{ node, url: second.url, state: "up", live: true, incarnation: 2, leases: 0 }]);
  } finally {
    await second.stop();
  }
  // Left cleanly: the row says so at once, no waiting for the membership to expire.
  const witness = await serveClusterOther();
  try {
    const gone = (await status(witness.url)).gateways.find((g) => g.node === node);
    expect(gone).toMatchObject({ state: "leaving", live: false });
  } finally {
    await witness.stop();
    removeDir(witness.dataDir);
  }
}, 180_000);

/** Another gateway of the same cluster (its own data directory) to look with. */
function serveClusterOther() {
  return startGateway({
    args: ["--cluster", "--node", "witness", "--db-url", sqld.url, "--s3-endpoint", s3.endpoint, "--s3-bucket", s3.bucket, "--s3-prefix", `membership-serve-${process.pid}`, "--s3-region", s3.region],
    env: { AWS_ACCESS_KEY_ID: s3.accessKeyId, AWS_SECRET_ACCESS_KEY: s3.secretAccessKey },
    timeoutMs: 60_000,
  });
}

function strata(args: string[], env: Record<string, string> = {}) {
  return spawnSync(process.execPath, [join(ROOT, "cli/main.ts"), ...args], { cwd: ROOT, env: { ...process.env, ...env }, encoding: "utf8" });
}

test("--node and --advertise need --cluster; cluster mode needs a libSQL server", () => {
  const dir = tempDir();
  try {
    const usage = strata(["serve", "--data", dir, "--port", "0", "--node", "n1"]);
    expect(usage.status).toBe(2);
    expect(usage.stderr).toContain("--node and --advertise need --cluster");
    const noServer = strata(["serve", "--data", dir, "--port", "0", "--cluster"], { STRATA_DB_URL: "" });
    expect(noServer.status).toBe(1);
    expect(noServer.stderr).toContain("clusterMode needs dbUrl");
  } finally {
    removeDir(dir);
  }
});
