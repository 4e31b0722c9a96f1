// Starts a real gateway as a child process (`strata serve --port 0`) under Bun, Deno or Node,
// waits for its "listening on URL" line, and can stop it gently or kill it with SIGKILL.
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

export const ROOT = fileURLToPath(new URL("../..", import.meta.url));
export type Runtime = "bun" | "deno" | "node";

export interface GatewayProcess {
  readonly url: string;
  readonly child: ChildProcess;
  readonly dataDir: string;
  /** Everything the process printed so far (stdout and stderr). */
  output(): string;
  stop(): Promise<void>;
  kill(): Promise<void>;
}

function runtimeCommand(runtime: Runtime): string[] {
  switch (runtime) {
    case "bun":
      return [process.execPath, join(ROOT, "cli/main.ts")];
    case "deno":
      return [join(ROOT, "node_modules/.bin/deno"), "run", "-A", join(ROOT, "cli/main.ts")];
    case "node":
      return ["node", join(ROOT, "dist/node/strata.mjs")];
  }
}

/** Builds the Node bundle once per test run if it is missing. */
export function ensureNodeBuild(): void {
  const result = spawnSync("npm", ["run", "-s", "build:node"], { cwd: ROOT, stdio: "pipe", encoding: "utf8" });
  if (result.status !== 0) throw new Error(`npm run build:node failed:\n${result.stdout}${result.stderr}`);
}

export function tempDir(prefix = "strata-test-"): string {
  return mkdtempSync(join(tmpdir(), prefix));
}

export function removeDir(dir: string): void {
  rmSync(dir, { recursive: true, force: true });
}

export async function startGateway(options: { runtime?: Runtime; dataDir?: string; args?: string[]; env?: Record<string, string>; timeoutMs?: number } = {}): Promise<GatewayProcess> {
  const runtime = options.runtime ?? "bun";
  const dataDir = options.dataDir ?? tempDir();
  const [command, ...prefix] = runtimeCommand(runtime);
  const child = spawn(command!, [...prefix, "serve", "--data", dataDir, "--port", "0", ...(options.args ?? [])], {
    cwd: ROOT,
    env: { ...process.env, ...options.env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let output = "";
  child.stdout!.on("data", (d: Buffer) => (output += d.toString()));
  child.stderr!.on("data", (d: Buffer) => (output += d.toString()));
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`gateway (${runtime}) did not start in time:\n${output}`)), options.timeoutMs ?? 30_000);
    const check = () => {
      const match = /listening on (https?:\/\/\S+)/.exec(output);
      if (match) {
        clearTimeout(timer);
        resolve(match[1]!);
      }
    };
    child.stdout!.on("data", check);
    child.once("exit", (code) => {
      clearTimeout(timer);
      reject(new Error(`gateway (${runtime}) exited with ${code} before listening:\n${output}`));
    });
  });
  return {
    url,
    child,
    dataDir,
    output: () => output,
    async stop() {
      if (child.exitCode === null && child.signalCode === null) child.kill("SIGTERM");
      await exited;
    },
    async kill() {
      if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
      await exited;
    },
  };
}
