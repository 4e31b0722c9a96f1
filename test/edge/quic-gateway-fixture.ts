// A gateway process serving HTTP and QUIC on given ports under Bun or Deno (Deno with
// --unstable-net), with the fingerprint and CA file of its QUIC certificate, and the edge CLI
// (`strata edge run`) under Bun or Deno as a child process.
import { spawn, type ChildProcess } from "node:child_process";
import { join } from "node:path";
import { expect } from "bun:test";
import { ROOT } from "../helpers/gateway.ts";
import { edgeStatus, endOffset, exactlyOnceInOrder, readStream, waitFor } from "./edge-fixtures.ts";

export const DENO = join(ROOT, "node_modules/.bin/deno");

export interface QuicGatewayProcess {
  readonly url: string;
  readonly quicPort: number;
  readonly fingerprint: string;
  readonly caFile: string;
  readonly child: ChildProcess;
  alive(): boolean;
  output(): string;
  kill(): Promise<void>;
  stop(): Promise<void>;
}

function command(runtime: "bun" | "deno"): string[] {
  return runtime === "bun" ? [process.execPath, join(ROOT, "cli/main.ts")] : [DENO, "run", "-A", "--unstable-net", join(ROOT, "cli/main.ts")];
}

export async function startQuicGateway(options: { runtime: "bun" | "deno"; dataDir: string; httpPort: number; quicPort: number; timeoutMs?: number }): Promise<QuicGatewayProcess> {
  const [cmd, ...prefix] = command(options.runtime);
  const child = spawn(cmd!, [...prefix, "serve", "--data", options.dataDir, "--port", String(options.httpPort), "--quic-port", String(options.quicPort)], {
    cwd: ROOT,
    stdio: ["ignore", "pipe", "pipe"],
  });
  let output = "";
  let exited = false;
  child.stdout!.on("data", (d: Buffer) => (output += d.toString()));
  child.stderr!.on("data", (d: Buffer) => (output += d.toString()));
  const gone = new Promise<void>((resolve) => child.once("exit", () => ((exited = true), resolve())));
  const deadline = Date.now() + (options.timeoutMs ?? 30_000);
  let match: RegExpExecArray | null = null;
  while (!(match = /quic:\/\/\S+:(\d+) .*certificate (\S+?)(?:,|;).*fingerprint ([0-9a-f]{64})/.exec(output)) || !/listening on http:\/\//.test(output)) {
    if (exited || Date.now() > deadline) {
      if (!exited) child.kill("SIGKILL");
      throw new Error(`gateway (${options.runtime}) did not start QUIC:\n${output}`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  const kill = async (signal: NodeJS.Signals) => {
    if (!exited) child.kill(signal);
    await gone;
  };
  return {
    url: /listening on (http:\/\/\S+)/.exec(output)![1]!,
    quicPort: Number(match[1]),
    caFile: match[2]!,
    fingerprint: match[3]!,
    child,
    alive: () => !exited,
    output: () => output,
    kill: () => kill("SIGKILL"),
    stop: () => kill("SIGTERM"),
  };
}

export interface EdgeProcess {
  readonly child: ChildProcess;
  alive(): boolean;
  output(): string;
  readonly done: Promise<{ code: number | null; signal: NodeJS.Signals | null; output: string }>;
  kill(signal?: NodeJS.Signals): Promise<void>;
}

/** `strata edge run ARGS` under Bun or Deno. */
export function edgeRunUnder(runtime: "bun" | "deno", args: string[]): EdgeProcess {
  const [cmd, ...prefix] = command(runtime);
  const child = spawn(cmd!, [...prefix, "edge", "run", ...args], { cwd: ROOT, stdio: ["ignore", "pipe", "pipe"] });
  let output = "";
  let exited = false;
  child.stdout!.on("data", (d: Buffer) => (output += d.toString()));
  child.stderr!.on("data", (d: Buffer) => (output += d.toString()));
  const done = new Promise<{ code: number | null; signal: NodeJS.Signals | null; output: string }>((resolve) =>
    child.once("exit", (code, signal) => ((exited = true), resolve({ code, signal, output }))),
  );
  return {
    child,
    done,
    alive: () => !exited,
    output: () => output,
    async kill(signal: NodeJS.Signals = "SIGKILL") {
      if (!exited) child.kill(signal);
      await done;
    },
  };
}

/** Waits until the edge's outbox is empty, then checks both processes still run and the stream is exact. */
export async function drainedExactly(run: EdgeProcess, gw: () => QuicGatewayProcess, dataDir: string, stream: string, counts: Record<string, number>, timeoutMs: number): Promise<void> {
  const total = Object.values(counts).reduce((a, b) => a + b, 0);
  await waitFor(async () => {
    if (!run.alive()) throw new Error(`edge run exited:\n${run.output()}`);
    return (await endOffset(gw().url, stream)) >= total && (await edgeStatus(dataDir)).outbox_records === 0;
  }, timeoutMs, `the drain of ${stream}\n${run.output()}`);
  exactlyOnceInOrder(await readStream(gw().url, stream), counts);
  expect(run.alive()).toBe(true);
  expect(gw().alive()).toBe(true);
  await run.kill("SIGTERM");
  expect((await run.done).code).toBe(0);
  const status = await edgeStatus(dataDir);
  expect(status.outbox_records).toBe(0);
  expect(status.last_sync).not.toBeNull();
}
