// Runs `strata push` / `strata pull` as child processes (the way users run them) and returns
// their --json summary with the wall time seen from outside.
import { spawn } from "node:child_process";
import { join } from "node:path";

export interface CliSummary {
  artefact: string;
  bytes_total: number;
  bytes_transferred: number;
  chunks_total: number;
  chunks_transferred: number;
  seconds: number;
}

export interface CliRun {
  readonly summary: CliSummary;
  /** Process start to exit, seconds. */
  readonly wall: number;
}

export function runCli(root: string, args: readonly string[], env: Record<string, string> = {}): Promise<CliRun> {
  const started = performance.now();
  const child = spawn(process.execPath, [join(root, "cli/main.ts"), ...args, "--json"], {
    cwd: root,
    env: { ...process.env, ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let stdout = "";
  let stderr = "";
  child.stdout.on("data", (d: Buffer) => (stdout += d.toString()));
  child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
  return new Promise((resolve, reject) => {
    child.once("error", reject);
    child.once("exit", (code, signal) => {
      const wall = (performance.now() - started) / 1000;
      if (code !== 0) return reject(new Error(`strata ${args.join(" ")} exited ${code ?? signal}: ${stderr.slice(-2000)}`));
      try {
        resolve({ summary: JSON.parse(stdout.trim()) as CliSummary, wall });
      } catch (e) {
        reject(new Error(`strata ${args.join(" ")}: not one JSON summary on stdout: ${stdout.slice(0, 500)} (${(e as Error).message})`));
      }
    });
  });
}
