// Runs test/native/fixtures/ucx-peer.ts as a child process under Bun, Node or Deno, and waits for
// its ready line or its exit (never a fixed sleep).
import { spawn, type ChildProcess } from "node:child_process";
import { createInterface } from "node:readline";
import { join } from "node:path";
import { ROOT } from "../helpers/gateway.ts";
import { RUNTIME_BINARIES } from "../helpers/ucx.ts";

export type PeerRuntime = keyof typeof RUNTIME_BINARIES;

const PEER = join(ROOT, "test", "native", "fixtures", "ucx-peer.ts");

function command(runtime: PeerRuntime, args: string[]): [string, string[]] {
  // Deno needs FFI (the .node addon) and read (finding it); env and sys for UCX's and Node's APIs.
  if (runtime === "deno") return [RUNTIME_BINARIES.deno, ["run", "--allow-ffi", "--allow-read", "--allow-env", "--allow-sys", PEER, ...args]];
  return [RUNTIME_BINARIES[runtime], [PEER, ...args]];
}

export interface ServerPeer {
  readonly child: ChildProcess;
  readonly port: number;
  readonly address: bigint;
  readonly rkey: Uint8Array;
  alive(): boolean;
  kill(): Promise<void>;
}

export async function startServerPeer(runtime: PeerRuntime, transports: string, spinNs?: number): Promise<ServerPeer> {
  const [bin, args] = command(runtime, ["server", transports, ...(spinNs === undefined ? [] : [String(spinNs)])]);
  const child = spawn(bin, args, { cwd: ROOT, stdio: ["ignore", "pipe", "pipe"] });
  let stderr = "";
  child.stderr?.setEncoding("utf8").on("data", (d: string) => (stderr += d));
  let exited = false;
  const exit = new Promise<void>((resolve) => child.once("exit", () => ((exited = true), resolve())));
  const line = await new Promise<string>((resolve, reject) => {
    const lines = createInterface({ input: child.stdout! });
    lines.once("line", resolve);
    void exit.then(() => reject(new Error(`UCX server peer exited before it was ready: ${stderr}`)));
  });
  const ready = JSON.parse(line) as { port: number; address: string; rkey: string };
  return {
    child,
    port: ready.port,
    address: BigInt(ready.address),
    rkey: Uint8Array.from(Buffer.from(ready.rkey, "hex")),
    alive: () => !exited,
    kill: async () => {
      if (!exited) child.kill("SIGKILL");
      await exit;
    },
  };
}

export interface ClientRun {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

export function runClientPeer(runtime: PeerRuntime, server: ServerPeer, transports: string): Promise<ClientRun> {
  const [bin, args] = command(runtime, ["client", String(server.port), server.address.toString(), Buffer.from(server.rkey).toString("hex"), transports]);
  const child = spawn(bin, args, { cwd: ROOT, stdio: ["ignore", "pipe", "pipe"] });
  let stdout = "";
  let stderr = "";
  child.stdout?.setEncoding("utf8").on("data", (d: string) => (stdout += d));
  child.stderr?.setEncoding("utf8").on("data", (d: string) => (stderr += d));
  const timer = setTimeout(() => child.kill("SIGKILL"), 120_000);
  return new Promise((resolve) => child.once("close", (code) => (clearTimeout(timer), resolve({ code: code ?? -1, stdout, stderr }))));
}
