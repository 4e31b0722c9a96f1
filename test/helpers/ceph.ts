// A real S3-compatible store for tests.
//
// With STRATA_TEST_S3_ENDPOINT set, tests use that store:
//   STRATA_TEST_S3_ENDPOINT    e.g. http://127.0.0.1:7480 (path-style addressing is used)
//   STRATA_TEST_S3_ACCESS_KEY  access key id      (default: AWS_ACCESS_KEY_ID)
//   STRATA_TEST_S3_SECRET_KEY  secret access key  (default: AWS_SECRET_ACCESS_KEY)
//   STRATA_TEST_S3_BUCKET      bucket, created if missing (default strata-test)
//   STRATA_TEST_S3_REGION      region (default: AWS_REGION, else us-east-1)
// Otherwise a throwaway single-node Ceph radosgw starts on loopback (installed with apt when
// missing, which needs root), by cli/dev/radosgw.ts (scripts/ceph/start-ceph-rgw.sh), on random
// free ports and under a fresh directory in the OS temp dir.
//
// One cluster serves every test file of a `bun test` run (bun runs them in one process):
// startS3() counts references, and when the last user calls stop() the cluster shuts down
// after a short grace period unless another file asks for it first. bun test fires no
// process exit hooks, so the start script also leaves a watchdog that stops the cluster once
// this process is gone, even after SIGKILL.

import { startRadosgw, type RadosgwServer } from "../../cli/dev/radosgw.ts";

export interface S3TestStore {
  endpoint: string;
  bucket: string;
  accessKeyId: string;
  secretAccessKey: string;
  region: string;
  stop(): Promise<void>;
}

type Cluster = RadosgwServer;

const ACCESS_KEY = "strata-test";
const SECRET_KEY = "strata-test-secret";
const BUCKET = "strata-test";
const IDLE_GRACE_MS = 3_000;

let shared: Promise<Cluster> | undefined;
let refs = 0;
let idleTimer: ReturnType<typeof setTimeout> | undefined;

export async function startS3(): Promise<S3TestStore> {
  const external = process.env.STRATA_TEST_S3_ENDPOINT;
  if (external) {
    const region = process.env.STRATA_TEST_S3_REGION ?? process.env.AWS_REGION ?? "us-east-1";
    const accessKeyId = process.env.STRATA_TEST_S3_ACCESS_KEY ?? process.env.AWS_ACCESS_KEY_ID;
    const secretAccessKey = process.env.STRATA_TEST_S3_SECRET_KEY ?? process.env.AWS_SECRET_ACCESS_KEY;
    if (!accessKeyId || !secretAccessKey) {
      throw new Error("STRATA_TEST_S3_ENDPOINT is set but STRATA_TEST_S3_ACCESS_KEY / STRATA_TEST_S3_SECRET_KEY are not");
    }
    return {
      endpoint: external,
      bucket: process.env.STRATA_TEST_S3_BUCKET ?? BUCKET,
      accessKeyId,
      secretAccessKey,
      region,
      stop: async () => {},
    };
  }

  if (idleTimer) clearTimeout(idleTimer);
  idleTimer = undefined;
  refs++;
  if (!shared) {
    const starting = startCluster();
    shared = starting;
    starting.catch(() => {
      if (shared === starting) shared = undefined;
    });
  }
  let cluster: Cluster;
  try {
    cluster = await shared;
  } catch (e) {
    refs--;
    throw e;
  }
  let stopped = false;
  return {
    endpoint: cluster.endpoint,
    bucket: BUCKET,
    accessKeyId: cluster.accessKeyId,
    secretAccessKey: cluster.secretAccessKey,
    region: "us-east-1", // radosgw's default zonegroup answers to any region name; this one needs no LocationConstraint
    stop: async () => {
      if (stopped) return;
      stopped = true;
      if (--refs > 0) return;
      idleTimer = setTimeout(() => {
        idleTimer = undefined;
        const current = shared;
        shared = undefined;
        void current?.then((c) => c.shutdown());
      }, IDLE_GRACE_MS);
      idleTimer.unref?.();
    },
  };
}

function startCluster(): Promise<Cluster> {
  return startRadosgw({ accessKeyId: ACCESS_KEY, secretAccessKey: SECRET_KEY, watchPid: process.pid });
}
