// A throwaway single-node Ceph radosgw on loopback (scripts/ceph/start-ceph-rgw.sh: one mon, one
// memstore OSD, radosgw and one S3 user), for the tests (test/helpers/ceph.ts) and `strata
// cluster dev`. Ceph is installed with apt when missing (as root), else the error says what to
// install. The start script leaves a watchdog that stops the daemons once `watchPid` is gone, so
// they never outlive their user, even after SIGKILL. Needs a clone of Strata (the scripts are not
// in the npm package).
import { spawn, spawnSync } from "node:child_process";
import { closeSync, existsSync, openSync } from "node:fs";
import { mkdir, mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { freePorts } from "./free-ports.ts";

export interface RadosgwServer {
  /** http://127.0.0.1:<port>, path-style addressing. */
  readonly endpoint: string;
  readonly accessKeyId: string;
  readonly secretAccessKey: string;
  /** radosgw's default zonegroup answers to any region name; this one needs no LocationConstraint. */
  readonly region: string;
  /** Stops the daemons and removes their directory. */
  shutdown(): Promise<void>;
}

export interface RadosgwOptions {
  readonly accessKeyId: string;
  readonly secretAccessKey: string;
  /** The daemons stop once this process is gone (default: this process). */
  readonly watchPid?: number;
  /** The cluster's own directory (wiped at start, removed at shutdown); default a fresh one in the OS temp dir. */
  readonly dir?: string;
  /** Called before Ceph is installed with apt-get (it takes a while). */
  readonly onInstall?: (packages: readonly string[]) => void;
}

const SCRIPTS = fileURLToPath(new URL("../../scripts/ceph/", import.meta.url));
const START_ATTEMPTS = 3;
export const CEPH_PACKAGES: readonly string[] = ["radosgw", "ceph-mon", "ceph-osd", "ceph-common"];
const CEPH_BINARIES = ["radosgw", "ceph-mon", "ceph-osd", "ceph", "radosgw-admin", "monmaptool", "ceph-authtool"];

export async function startRadosgw(options: RadosgwOptions): Promise<RadosgwServer> {
  if (!existsSync(join(SCRIPTS, "start-ceph-rgw.sh"))) {
    throw new Error(`the radosgw start script is missing (${join(SCRIPTS, "start-ceph-rgw.sh")}): it comes with a clone of Strata, not with the npm package`);
  }
  ensureCephInstalled(options.onInstall);
  let lastError: unknown;
  for (let attempt = 1; attempt <= START_ATTEMPTS; attempt++) {
    try {
      return await startOnce(options);
    } catch (e) {
      lastError = e; // most likely a port taken between probing and binding: retry on new ports
    }
  }
  throw lastError;
}

async function startOnce(options: RadosgwOptions): Promise<RadosgwServer> {
  // The cluster owns `base` (the start script wipes it; stop, or the watchdog, removes it).
  // The start log sits beside it and is kept only when the start fails.
  const base = options.dir ?? (await mkdtemp(join(tmpdir(), "strata-ceph-")));
  if (options.dir) await mkdir(options.dir, { recursive: true });
  const logPath = `${base}.log`;
  const [rgwPort, monPort] = await freePorts(2);
  const env = {
    ...process.env,
    CEPH_BASE: base,
    RGW_PORT: String(rgwPort),
    MON_PORT: String(monPort),
    S3_ACCESS_KEY: options.accessKeyId,
    S3_SECRET_KEY: options.secretAccessKey,
    WATCH_PID: String(options.watchPid ?? process.pid),
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
  return { endpoint: `http://127.0.0.1:${rgwPort}`, accessKeyId: options.accessKeyId, secretAccessKey: options.secretAccessKey, region: "us-east-1", shutdown };
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

/** Installs Ceph's daemons with apt-get when missing (root only); otherwise says what to install. */
export function ensureCephInstalled(onInstall?: (packages: readonly string[]) => void): void {
  const missing = CEPH_BINARIES.filter((b) => spawnSync("sh", ["-c", `command -v ${b}`]).status !== 0);
  if (missing.length === 0) return;
  if (process.getuid?.() !== 0) {
    throw new Error(
      `Ceph is not installed (missing ${missing.join(", ")}) and installing it needs root: run ` +
        `apt-get install -y --no-install-recommends ${CEPH_PACKAGES.join(" ")} (tests can use another S3 store through STRATA_TEST_S3_ENDPOINT)`,
    );
  }
  onInstall?.(CEPH_PACKAGES);
  const env = { ...process.env, DEBIAN_FRONTEND: "noninteractive" };
  // Wait for the dpkg lock rather than fail when another run (or unattended-upgrades) holds it.
  const lock = ["-o", "DPkg::Lock::Timeout=300"];
  for (const args of [[...lock, "update"], [...lock, "install", "-y", "--no-install-recommends", ...CEPH_PACKAGES]]) {
    const r = spawnSync("apt-get", args, { env, encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] });
    if (r.status !== 0) throw new Error(`apt-get ${args.join(" ")} failed (exit ${r.status}):\n${(r.stderr || r.stdout || "").slice(-4000)}`);
  }
}
