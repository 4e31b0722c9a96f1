// The `strata` CLI as a child process of the test runner (cli/main.ts under this runtime), with
// its output collected and its exit awaited.
import { spawn, type ChildProcess } from "node:child_process";
import { join } from "node:path";
import { ROOT } from "./gateway.ts";

export interface CliProcess {
  readonly child: ChildProcess;
  stdout(): string;
  stderr(): string;
  /** Resolves with the exit code once the process has exited. */
  readonly exited: Promise<number | null>;
}

/** Runs `strata ARGS…` against `gatewayUrl` (STRATA_GATEWAY). */
export function startCli(gatewayUrl: string, args: readonly string[]): CliProcess {
  const child = spawn(process.execPath, [join(ROOT, "cli/main.ts"), ...args], { cwd: ROOT, stdio: ["ignore", "pipe", "pipe"], env: { ...process.env, STRATA_GATEWAY: gatewayUrl } });
  let out = "";
  let err = "";
  child.stdout!.on("data", (d: Buffer) => (out += d.toString()));
  child.stderr!.on("data", (d: Buffer) => (err += d.toString()));
  const exited = new Promise<number | null>((resolve) => child.once("close", (code) => resolve(code)));
  return { child, stdout: () => out, stderr: () => err, exited };
}
