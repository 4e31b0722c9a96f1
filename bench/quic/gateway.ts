// Starts `strata serve --quic-port 0` under Bun or Deno for the QUIC benchmark and reads the
// HTTP URL, QUIC port and certificate file from what it prints.
import { spawn } from "node:child_process";
import { readFileSync } from "node:fs";
import { join } from "node:path";

export interface BenchGateway {
  readonly http: string;
  readonly quicPort: number;
  readonly caFile: string;
  /** The gateway process's CPU time so far (user + system, ms; Linux /proc). */
  cpuMs(): number;
  stop(): Promise<void>;
}

export async function startBenchGateway(root: string, runtime: "bun" | "deno", dataDir: string): Promise<BenchGateway> {
  const deno = join(root, "node_modules/.bin/deno");
  const command = runtime === "bun" ? [process.execPath, "cli/main.ts"] : [deno, "run", "-A", "--unstable-net", "cli/main.ts"];
  const child = spawn(command[0]!, [...command.slice(1), "serve", "--data", dataDir, "--port", "0", "--quic-port", "0"], { cwd: root, stdio: ["ignore", "pipe", "pipe"] });
  let output = "";
  let exited = false;
  child.stdout!.on("data", (d: Buffer) => (output += d.toString()));
  child.stderr!.on("data", (d: Buffer) => (output += d.toString()));
  const gone = new Promise<void>((resolve) => child.once("exit", () => ((exited = true), resolve())));
  const deadline = Date.now() + 60_000;
  let match: RegExpExecArray | null = null;
  while (!(match = /quic:\/\/127\.0\.0\.1:(\d+) .*certificate (\S+?)(?:,|;)/.exec(output))) {
    if (exited || Date.now() > deadline) throw new Error(`gateway (${runtime}) did not start QUIC:\n${output}`);
    await new Promise((r) => setTimeout(r, 50));
  }
  return {
    http: /listening on (http:\/\/\S+)/.exec(output)![1]!,
    quicPort: Number(match[1]),
    caFile: match[2]!,
    cpuMs() {
      // Fields 14 and 15 of /proc/PID/stat (after the parenthesised name) are utime and stime in clock ticks (100 Hz).
      const fields = readFileSync(`/proc/${child.pid}/stat`, "utf8").replace(/^.*\) /, "").split(" ");
      return (Number(fields[11]) + Number(fields[12])) * 10;
    },
    async stop() {
      child.kill("SIGTERM");
      await gone;
    },
  };
}
