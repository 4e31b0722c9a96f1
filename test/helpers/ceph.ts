// A real S3-compatible store for tests.
//
// With STRATA_TEST_S3_ENDPOINT set, tests use that store:
//   STRATA_TEST_S3_ENDPOINT    e.g. http://127.0.0.1:7480 (path-style addressing is used)
//   STRATA_TEST_S3_ACCESS_KEY  access key id      (default: AWS_ACCESS_KEY_ID)
//   STRATA_TEST_S3_SECRET_KEY  secret access key  (default: AWS_SECRET_ACCESS_KEY)
//   STRATA_TEST_S3_BUCKET      bucket, created if missing (default strata-test)
//   STRATA_TEST_S3_REGION      region (default: AWS_REGION, else us-east-1)
// Otherwise a throwaway single-node Ceph radosgw starts on loopback (installed with apt when
// missing, which needs root), from test/helpers/ceph/start-ceph-rgw.sh, on random free ports
// and under a fresh directory in the OS temp dir.
//
// One cluster serves every test file of a `bun test` run (bun runs them in one process):
// startS3() counts references, and when the last user calls stop() the cluster shuts down
// after a short grace period unless another file asks for it first. bun test fires no
// process exit hooks, so the start script also leaves a watchdog that stops the cluster once
// this process is gone, even after SIGKILL.

import { spawn, spawnSync } from "node:child_process";
import { createServer } from "node:net";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { openSync, closeSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

export interface S3TestStore {
  endpoint: string;
  bucket: string;
  accessKeyId: string;
  secretAccessKey: string;
  region: string;
  stop(): Promise<void>;
}

interface Cluster {
  endpoint: string;
  accessKeyId: string;
  secretAccessKey: string;
  shutdown(): Promise<void>;
}

const SCRIPTS = fileURLToPath(new URL("./ceph/", import.meta.url));
const ACCESS_KEY = "strata-test";
const SECRET_KEY = "strata-test-secret";
const BUCKET = "strata-test";
const IDLE_GRACE_MS = 3_000;
const START_ATTEMPTS = 3;
const CEPH_PACKAGES = ["radosgw", "ceph-mon", "ceph-osd", "ceph-common"];
const CEPH_BINARIES = ["radosgw", "ceph-mon", "ceph-osd", "ceph", "radosgw-admin", "monmaptool", "ceph-authtool"];

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

async function startCluster(): Promise<Cluster> {
  ensureCephInstalled();
  let lastError: unknown;
  for (let attempt = 1; attempt <= START_ATTEMPTS; attempt++) {
    try {
      return await startOnce();
    } catch (e) {
      lastError = e; // most likely a port taken between probing and binding: retry on new ports
    }
  }
  throw lastError;
}

async function startOnce(): Promise<Cluster> {
  // The cluster owns `base` (the start script wipes it; stop, or the watchdog, removes it).
  // The start log sits beside it and is kept only when the start fails.
  const base = await mkdtemp(join(tmpdir(), "strata-ceph-"));
  const logPath = `${base}.log`;
  const [rgwPort, monPort] = await freePorts(2);
  const env = {
    ...process.env,
    CEPH_BASE: base,
    RGW_PORT: String(rgwPort),
    MON_PORT: String(monPort),
    S3_ACCESS_KEY: ACCESS_KEY,
    S3_SECRET_KEY: SECRET_KEY,
    WATCH_PID: String(process.pid),
  };
  const shutdown = async (): Promise<void> => {
    await runScript("stop-ceph-rgw.sh", env, "/dev/null").catch(() => {});
    await rm(base, { recursive: true, force: true });
  };
  const code = await runScript("start-ceph-rgw.sh", env, logPath);
  if (code !== 0) {
    const log = await readFile(logPath, "utf8").catch(() => "");
    await shutdown();
    throw new Error(`start-ceph-rgw.sh failed (exit ${code}; log ${logPath}):\n${log.slice(-4000)}`);
  }
  await rm(logPath, { force: true });
  return { endpoint: `http://127.0.0.1:${rgwPort}`, accessKeyId: ACCESS_KEY, secretAccessKey: SECRET_KEY, shutdown };
}

/** Run a helper script with stdio going to a file: daemons it starts may keep inherited fds open. */
function runScript(name: string, env: NodeJS.ProcessEnv, logPath: string): Promise<number> {
  const fd = openSync(logPath, "a");
  try {
    const child = spawn("bash", [join(SCRIPTS, name)], { env, stdio: ["ignore", fd, fd] });
    return new Promise((resolve, reject) => {
      child.on("error", reject);
      child.on("exit", (code, signal) => resolve(code ?? (signal ? 128 : 1)));
    });
  } finally {
    closeSync(fd);
  }
}

function ensureCephInstalled(): void {
  const missing = CEPH_BINARIES.filter((b) => spawnSync("sh", ["-c", `command -v ${b}`]).status !== 0);
  if (missing.length === 0) return;
  if (process.getuid?.() !== 0) {
    throw new Error(
      `Ceph is not installed (missing ${missing.join(", ")}) and installing it needs root: run ` +
        `apt-get install -y --no-install-recommends ${CEPH_PACKAGES.join(" ")}, or set STRATA_TEST_S3_ENDPOINT`,
    );
  }
  const env = { ...process.env, DEBIAN_FRONTEND: "noninteractive" };
  // Wait for the dpkg lock rather than fail when another run (or unattended-upgrades) holds it.
  const lock = ["-o", "DPkg::Lock::Timeout=300"];
  for (const args of [[...lock, "update"], [...lock, "install", "-y", "--no-install-recommends", ...CEPH_PACKAGES]]) {
    const r = spawnSync("apt-get", args, { env, encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] });
    if (r.status !== 0) throw new Error(`apt-get ${args.join(" ")} failed (exit ${r.status}):\n${(r.stderr || r.stdout || "").slice(-4000)}`);
  }
}

/** Distinct free TCP ports on 127.0.0.1, held open together so they differ. */
async function freePorts(n: number): Promise<number[]> {
  const servers = await Promise.all(
    Array.from({ length: n }, () =>
      new Promise<ReturnType<typeof createServer>>((resolve, reject) => {
        const s = createServer();
        s.once("error", reject);
        s.listen(0, "127.0.0.1", () => resolve(s));
      }),
    ),
  );
  const ports = servers.map((s) => {
    const addr = s.address();
    if (addr === null || typeof addr === "string") throw new Error("no port");
    return addr.port;
  });
  await Promise.all(servers.map((s) => new Promise<void>((resolve) => s.close(() => resolve()))));
  return ports;
}
