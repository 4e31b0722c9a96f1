// Helpers of the edge tests: the strata CLI as a child process (edge publish / run / status), a
// free TCP port, reading a whole stream back from a gateway, and waiting for a condition.
import { spawn, type ChildProcess } from "node:child_process";
import { createServer } from "node:net";
import { join } from "node:path";
import { ROOT } from "../helpers/gateway.ts";

export interface CliRun {
  readonly child: ChildProcess;
  /** stdout and stderr so far. */
  output(): string;
  readonly done: Promise<{ code: number | null; signal: NodeJS.Signals | null; stdout: string; stderr: string }>;
}

export function cli(args: string[], stdin?: string): CliRun {
  const child = spawn(process.execPath, [join(ROOT, "cli/main.ts"), ...args], { cwd: ROOT, stdio: [stdin === undefined ? "ignore" : "pipe", "pipe", "pipe"] });
  let stdout = "";
  let stderr = "";
  child.stdout!.on("data", (d: Buffer) => (stdout += d.toString()));
  child.stderr!.on("data", (d: Buffer) => (stderr += d.toString()));
  if (stdin !== undefined) child.stdin!.end(stdin);
  const done = new Promise<{ code: number | null; signal: NodeJS.Signals | null; stdout: string; stderr: string }>((resolve) =>
    child.once("exit", (code, signal) => resolve({ code, signal, stdout, stderr })),
  );
  return { child, done, output: () => stdout + stderr };
}

/** Runs the CLI to completion and fails unless it exits 0. */
export async function cliOk(args: string[], stdin?: string): Promise<string> {
  const r = await cli(args, stdin).done;
  if (r.code !== 0) throw new Error(`strata ${args.join(" ")} exited ${r.code} ${r.signal}:\n${r.stdout}${r.stderr}`);
  return r.stdout;
}

export interface StatusJson {
  outbox_records: number;
  outbox_bytes: number;
  last_sync: string | null;
  pins: { stream: string; path: string; artefact: string | null; updated: string | null }[];
}

export async function edgeStatus(dataDir: string): Promise<StatusJson> {
  return JSON.parse(await cliOk(["edge", "status", "--data", dataDir, "--json"])) as StatusJson;
}

/** JSON lines of fields {edge, i, pad} for i in [from, to). */
export function recordLines(edge: string, from: number, to: number, padBytes: number): string {
  const pad = "x".repeat(padBytes);
  let out = "";
  for (let i = from; i < to; i++) out += `${JSON.stringify({ edge, i, pad })}\n`;
  return out;
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      const port = typeof address === "object" && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

/** Every record of partition 0 of `stream` as its fields. */
export async function readStream(gateway: string, stream: string): Promise<Record<string, unknown>[]> {
  const out: Record<string, unknown>[] = [];
  let offset = 0;
  for (;;) {
    const response = await fetch(`${gateway}/v1/streams/${encodeURIComponent(stream)}/partitions/0/records?offset=${offset}&max_records=10000&fields=edge,i`);
    if (!response.ok) throw new Error(`read ${stream}: HTTP ${response.status} ${await response.text()}`);
    const body = (await response.json()) as { records: { fields: Record<string, unknown> }[]; next_offset: number; end_offset: number };
    out.push(...body.records.map((r) => r.fields));
    offset = body.next_offset;
    if (offset >= body.end_offset) return out;
  }
}

export async function endOffset(gateway: string, stream: string): Promise<number> {
  const response = await fetch(`${gateway}/v1/streams/${encodeURIComponent(stream)}`).catch(() => null);
  if (!response?.ok) return 0;
  const body = (await response.json()) as { partitions: { end_offset: number }[] };
  return body.partitions.reduce((n, p) => n + p.end_offset, 0);
}

/** Fails unless `records` hold, per edge, exactly the values 0..count-1 of `i` in order. */
export function exactlyOnceInOrder(records: readonly Record<string, unknown>[], counts: Readonly<Record<string, number>>): void {
  const seen = new Map<string, number[]>();
  for (const r of records) {
    const list = seen.get(String(r.edge)) ?? [];
    list.push(r.i as number);
    seen.set(String(r.edge), list);
  }
  for (const [edge, count] of Object.entries(counts)) {
    const list = seen.get(edge) ?? [];
    const expected = Array.from({ length: count }, (_, i) => i);
    if (list.length !== count || list.some((v, k) => v !== k)) {
      const dupes = list.length - new Set(list).size;
      throw new Error(`edge ${edge}: ${list.length} records (${dupes} duplicates), expected ${count} in order; first mismatch at ${list.findIndex((v, k) => v !== expected[k])}`);
    }
    seen.delete(edge);
  }
  if (seen.size > 0) throw new Error(`records of unexpected edges: ${[...seen.keys()].join(", ")}`);
}

export async function waitFor(check: () => boolean | Promise<boolean>, timeoutMs: number, what: string): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await Bun.sleep(50);
  }
}
