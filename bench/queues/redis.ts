// Redis Streams side of the queue bench, the fsyncing peer: Debian's redis-server with
// `appendonly yes` + `appendfsync always` (temp dir, loopback, no RDB snapshots), a stream filled
// with XADD and a consumer group read with XREADGROUP COUNT <batch> and settled with XACK, over a
// raw pipelined RESP client (resp-wire.ts). With appendfsync always Redis writes and fsyncs the
// AOF (which holds the XACK, and the XREADGROUP's delivery to the pending list) before it sends
// the replies of that event-loop turn, so an answered XACK survives a machine crash.
import { spawn, spawnSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { QueueRun } from "./jetstream.ts";
import { encodeCommand, RespError, RespWire, type RespReply } from "./resp-wire.ts";

const HOST = "127.0.0.1";
/** How long an empty XREADGROUP waits (the other workers may hold the last tasks). */
const BLOCK_MS = 50;

export interface RedisServer {
  readonly port: number;
  stop(): Promise<void>;
}

export function redisServerVersion(): string | undefined {
  const r = spawnSync("redis-server", ["--version"], { encoding: "utf8" });
  return r.status === 0 ? /v=(\S+)/.exec(r.stdout)?.[1] : undefined;
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once("error", reject);
    s.listen(0, HOST, () => {
      const address = s.address();
      const port = typeof address === "object" && address !== null ? address.port : 0;
      s.close(() => resolve(port));
    });
  });
}

/** Installs Debian's redis-server with apt-get when missing (as root only), as test/helpers/ceph.ts does. */
function ensureInstalled(): void {
  if (redisServerVersion() !== undefined) return;
  if (process.getuid?.() !== 0) throw new Error("redis-server is not installed (apt-get install redis-server)");
  const env = { ...process.env, DEBIAN_FRONTEND: "noninteractive" };
  const lock = ["-o", "DPkg::Lock::Timeout=300"];
  for (const args of [[...lock, "update"], [...lock, "install", "-y", "--no-install-recommends", "redis-server"]]) {
    const r = spawnSync("apt-get", args, { env, encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] });
    if (r.status !== 0) throw new Error(`apt-get ${args.join(" ")} failed (exit ${r.status}):\n${(r.stderr || r.stdout || "").slice(-4000)}`);
  }
}

/** Starts redis-server (AOF on, fsync on every write, no RDB) on a free loopback port in a temp dir. */
export async function startRedis(): Promise<RedisServer> {
  ensureInstalled();
  const dir = mkdtempSync(join(tmpdir(), "redis-bench-"));
  const port = await freePort();
  const args = ["--port", String(port), "--bind", HOST, "--dir", dir, "--appendonly", "yes", "--appendfsync", "always", "--save", "", "--protected-mode", "no", "--daemonize", "no"];
  const child = spawn("redis-server", args, { stdio: ["ignore", "pipe", "pipe"] });
  let output = "";
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`redis-server did not start within 30 s:\n${output}`)), 30_000);
    const check = (d: Buffer): void => {
      output += d.toString();
      if (output.includes("Ready to accept connections")) {
        clearTimeout(timer);
        resolve();
      }
    };
    child.stdout.on("data", check);
    child.stderr.on("data", check);
    child.once("exit", (code) => {
      clearTimeout(timer);
      reject(new Error(`redis-server exited with ${code}:\n${output}`));
    });
  });
  const check = await RespWire.connect(HOST, port);
  try {
    const fsync = await check.call("CONFIG", "GET", "appendfsync");
    if (!Array.isArray(fsync) || String(fsync[1]) !== "always") throw new Error(`redis-server: appendfsync is ${JSON.stringify(fsync)}, not always`);
  } finally {
    check.close();
  }
  return {
    port,
    stop: async () => {
      if (child.exitCode === null && child.signalCode === null) {
        const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
        child.kill("SIGTERM");
        await exited;
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

export function connect(server: RedisServer): Promise<RespWire> {
  return RespWire.connect(HOST, server.port);
}

/** Creates stream `name` with consumer group `group` and XADDs `total` tasks, `window` commands per write. */
export async function fill(wire: RespWire, name: string, group: string, total: number, payload: Uint8Array, window: number): Promise<void> {
  await wire.call("XGROUP", "CREATE", name, group, "0", "MKSTREAM");
  const frame = encodeCommand(["XADD", name, "*", "data", payload]);
  for (let sent = 0; sent < total; ) {
    const n = Math.min(window, total - sent);
    const replies = await Promise.all(wire.sendEncoded(new Array<Buffer>(n).fill(frame)));
    for (const r of replies) if (r instanceof RespError) throw r;
    sent += n;
  }
}

/** Entries of the consumer group delivered and not acked yet (XPENDING's summary count). */
export async function pendingCount(wire: RespWire, name: string, group: string): Promise<number> {
  const summary = await wire.call("XPENDING", name, group);
  if (!Array.isArray(summary) || typeof summary[0] !== "number") throw new Error(`XPENDING: ${JSON.stringify(summary)}`);
  return summary[0];
}

/** The entries of an XREADGROUP reply for one stream: [id, [field, value, ...]] pairs. */
function entriesOf(reply: RespReply): [Buffer, Buffer[]][] {
  if (reply === null) return [];
  if (reply instanceof RespError) throw reply;
  if (!Array.isArray(reply) || reply.length !== 1) throw new Error(`XREADGROUP: unexpected reply ${String(reply)}`);
  const stream = reply[0];
  if (!Array.isArray(stream) || !Array.isArray(stream[1])) throw new Error("XREADGROUP: unexpected stream reply");
  return stream[1] as [Buffer, Buffer[]][];
}

/**
 * `workers` workers (own connection each) take `total` tasks in reads of `batch` and XACK each
 * read's ids; a read's XACK goes out in the same write as the next XREADGROUP (pipelined, as the
 * JetStream workers send their acks with the next pull). The time runs until every XACK is
 * answered, i.e. fsynced.
 */
export async function work(server: RedisServer, name: string, group: string, opts: { total: number; batch: number; workers: number; payloadSize: number }): Promise<QueueRun> {
  const wires = await Promise.all(Array.from({ length: opts.workers }, () => connect(server)));
  let received = 0;
  let acked = 0;
  const t0 = performance.now();
  const worker = async (wire: RespWire, w: number): Promise<void> => {
    const read = encodeCommand(["XREADGROUP", "GROUP", group, `c${w}`, "COUNT", opts.batch, "BLOCK", BLOCK_MS, "STREAMS", name, ">"]);
    const acks: Promise<void>[] = [];
    const settle = (reply: Promise<RespReply>, n: number): void => {
      acks.push(
        reply.then((r) => {
          if (r !== n) throw new Error(`XACK: ${String(r)} of ${n} acked`);
          acked += n;
        }),
      );
    };
    let ack: { frame: Buffer; n: number } | undefined;
    while (received < opts.total) {
      const replies = wire.sendEncoded(ack ? [ack.frame, read] : [read]);
      if (ack) settle(replies[0]!, ack.n);
      const entries = entriesOf(await replies[replies.length - 1]!);
      ack = undefined;
      if (entries.length === 0) continue;
      for (const [, fields] of entries) if (fields[1]?.length !== opts.payloadSize) throw new Error(`redis: payload of ${fields[1]?.length} bytes`);
      received += entries.length;
      ack = { frame: encodeCommand(["XACK", name, group, ...entries.map(([id]) => id)]), n: entries.length };
    }
    if (ack) settle(wire.sendEncoded([ack.frame])[0]!, ack.n);
    await Promise.all(acks);
  };
  try {
    await Promise.all(wires.map(worker));
  } finally {
    for (const wire of wires) wire.close();
  }
  const seconds = (performance.now() - t0) / 1000;
  if (acked !== opts.total) throw new Error(`redis: ${acked} of ${opts.total} tasks acked`);
  return { tasks: acked, seconds };
}
