// Child processes for the log bench: a Strata gateway (`strata serve --port 0`, this runtime) and
// Debian's nats-server with JetStream (file storage, temp store dir, random loopback port).
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

export const ROOT = fileURLToPath(new URL("../..", import.meta.url));

export interface ServerProcess {
  readonly url: string;
  readonly pid: number;
  readonly dir: string;
  output(): string;
  stop(): Promise<void>;
}

function tempDir(prefix: string): string {
  return mkdtempSync(join(tmpdir(), prefix));
}

/** Waits for `pattern` on stdout or stderr (collected into `log` by the caller); its first group is the answer. */
export function waitForLine(child: ChildProcess, pattern: RegExp, what: string, timeoutMs: number, log: { text: string }): Promise<string> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${what} did not start within ${timeoutMs} ms:\n${log.text}`)), timeoutMs);
    const check = (): void => {
      const m = pattern.exec(log.text);
      if (m) {
        clearTimeout(timer);
        resolve(m[1]!);
      }
    };
    child.stdout!.on("data", check);
    child.stderr!.on("data", check);
    child.once("exit", (code) => {
      clearTimeout(timer);
      reject(new Error(`${what} exited with ${code} before listening:\n${log.text}`));
    });
  });
}

function stopper(child: ChildProcess, dir: string): () => Promise<void> {
  return async () => {
    if (child.exitCode === null && child.signalCode === null) {
      const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
      child.kill("SIGTERM");
      const timer = setTimeout(() => child.kill("SIGKILL"), 10_000);
      await exited;
      clearTimeout(timer);
    }
    rmSync(dir, { recursive: true, force: true });
  };
}

function capture(child: ChildProcess): { text: string } {
  const log = { text: "" };
  const keep = (d: Buffer): void => {
    log.text += d.toString();
    if (log.text.length > 64 * 1024) log.text = log.text.slice(-32 * 1024);
  };
  child.stdout!.on("data", keep);
  child.stderr!.on("data", keep);
  return log;
}

/** Starts `strata serve` under the running runtime (Bun) on a fresh temp data dir. */
export async function startGateway(extraArgs: string[] = [], env: Record<string, string> = {}): Promise<ServerProcess> {
  const dir = tempDir("strata-bench-");
  const child = spawn(process.execPath, [...extraArgs, join(ROOT, "cli/main.ts"), "serve", "--data", dir, "--port", "0"], {
    cwd: ROOT,
    env: { ...process.env, ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  const log = capture(child);
  const url = await waitForLine(child, /listening on (http:\/\/\S+)/, "strata gateway", 30_000, log);
  return { url, pid: child.pid!, dir, output: () => log.text, stop: stopper(child, dir) };
}

export function natsServerVersion(): string | undefined {
  const r = spawnSync("nats-server", ["--version"], { encoding: "utf8" });
  return r.status === 0 ? r.stdout.trim().replace(/^nats-server:\s*/, "") : undefined;
}

/**
 * Starts `nats-server -js` with file storage in a temp store dir on 127.0.0.1 and a random port.
 * Installs Debian's package with apt-get when the binary is missing (as root only).
 */
export async function startNats(): Promise<ServerProcess> {
  if (!natsServerVersion()) {
    const asRoot = process.getuid?.() === 0;
    if (!asRoot) throw new Error("nats-server is not installed (apt-get install nats-server)");
    for (const args of [["update"], ["install", "-y", "nats-server"]]) {
      const r = spawnSync("apt-get", args, { stdio: "inherit", env: { ...process.env, DEBIAN_FRONTEND: "noninteractive" } });
      if (r.status !== 0) throw new Error(`apt-get ${args.join(" ")} failed`);
    }
  }
  const dir = tempDir("nats-bench-");
  const child = spawn("nats-server", ["-js", "-sd", dir, "-a", "127.0.0.1", "-p", "-1"], { stdio: ["ignore", "pipe", "pipe"] });
  const log = capture(child);
  const hostPort = await waitForLine(child, /Listening for client connections on (\S+)/, "nats-server", 30_000, log);
  return { url: `nats://${hostPort}`, pid: child.pid!, dir, output: () => log.text, stop: stopper(child, dir) };
}

/** Resident set size of a process in MiB (Linux /proc), for the report. */
export function rssMiB(pid: number): number | undefined {
  const r = spawnSync("ps", ["-o", "rss=", "-p", String(pid)], { encoding: "utf8" });
  const kib = Number(r.stdout.trim());
  return r.status === 0 && kib > 0 ? kib / 1024 : undefined;
}
