// The three publishers of the log and latency benches behind one shape, each with what its
// acknowledgement guarantees, and the processes behind them.
import { readFileSync } from "node:fs";
import { RespWire } from "../queues/resp-wire.ts";
import { startRedis, type RedisServer } from "../queues/redis.ts";
import { NatsWire } from "../queues/nats-wire.ts";
import { createRawStream, RawJetStreamPublisher } from "./jetstream-raw.ts";
import { startGateway, startNats, type ServerProcess } from "./processes.ts";
import { RedisStreamsPublisher } from "./redis-streams.ts";
import { clientBatchSupported, StrataPublisher, type PublishForm } from "./strata-client.ts";

/** Publishes a batch of payloads as one request (or one socket write); resolves once every one is acknowledged. */
export interface Publisher {
  publish(payloads: readonly Uint8Array[]): Promise<void>;
}

export type PeerName = "strata-client-batch" | "strata-msgpack" | "jetstream" | "redis";

export const GUARANTEES: Record<PeerName, string> = {
  "strata-client-batch": "Strata, client-built batch, acks=local: acknowledged once the batch is written to the WAL with O_DSYNC",
  "strata-msgpack": "Strata, MessagePack request, acks=local: acknowledged once the batch is written to the WAL with O_DSYNC",
  jetstream: "nats-server JetStream (raw protocol publisher, file storage): acknowledged once in the file store's buffer, no fsync before the ack",
  redis: "Redis Streams XADD, appendonly yes + appendfsync always: acknowledged after the AOF write and fsync of that event-loop turn",
};

export const LABEL: Record<PeerName, string> = {
  "strata-client-batch": "Strata (client batch)",
  "strata-msgpack": "Strata (MessagePack)",
  jetstream: "raw JetStream (no fsync before ack)",
  redis: "Redis Streams (appendfsync always)",
};

/** The three servers of one bench run, with their process ids for CPU accounting. */
export interface Servers {
  readonly gateway: ServerProcess;
  readonly natsUrl: string;
  readonly natsPid: number;
  readonly redis: RedisServer;
  readonly redisPid: number;
  /** Whether the gateway takes client-built batches (checked once on a probe stream). */
  readonly clientBatch: boolean;
  pid(peer: PeerName): number;
  stop(): Promise<void>;
}

export async function startServers(probePayload: Uint8Array): Promise<Servers> {
  const gateway = await startGateway();
  const nats = await startNats();
  const redis = await startRedis();
  const admin = await RespWire.connect("127.0.0.1", redis.port);
  const info = String(await admin.call("INFO", "server"));
  admin.close();
  const redisPid = Number(/process_id:(\d+)/.exec(info)?.[1] ?? 0);
  await createStrataStream(gateway.url, "probe");
  const clientBatch = await clientBatchSupported(gateway.url, "probe", probePayload);
  return {
    gateway,
    natsUrl: nats.url,
    natsPid: nats.pid,
    redis,
    redisPid,
    clientBatch,
    pid: (peer) => (peer === "jetstream" ? nats.pid : peer === "redis" ? redisPid : gateway.pid),
    stop: async () => {
      await gateway.stop();
      await nats.stop();
      await redis.stop();
    },
  };
}

export async function createStrataStream(base: string, name: string): Promise<void> {
  const res = await fetch(`${base}/v1/streams`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ name, partitions: 1 }) });
  if (res.status !== 201) throw new Error(`create stream ${name}: HTTP ${res.status} ${await res.text()}`);
}

/**
 * A fresh stream `name` on `peer` and `connections` publishers to it (Strata: one publisher,
 * HTTP keep-alive connections come from fetch's pool). close() releases the connections and
 * deletes what the peer holds for it (Redis keeps the stream in memory).
 */
export async function openPublishers(servers: Servers, peer: PeerName, name: string, connections: number): Promise<{ publishers: Publisher[]; close(): Promise<void> }> {
  switch (peer) {
    case "strata-client-batch":
    case "strata-msgpack": {
      await createStrataStream(servers.gateway.url, name);
      const form: PublishForm = peer === "strata-msgpack" ? "msgpack" : "client-batch";
      return { publishers: [new StrataPublisher(servers.gateway.url, name, form)], close: async () => undefined };
    }
    case "jetstream": {
      const admin = await NatsWire.connect(servers.natsUrl);
      await createRawStream(admin, name);
      const ps = await Promise.all(Array.from({ length: connections }, () => RawJetStreamPublisher.open(servers.natsUrl, name)));
      return {
        publishers: ps,
        close: async () => {
          for (const p of ps) p.close();
          admin.close();
        },
      };
    }
    case "redis": {
      const wires = await Promise.all(Array.from({ length: connections }, () => RespWire.connect("127.0.0.1", servers.redis.port)));
      return {
        publishers: wires.map((w) => new RedisStreamsPublisher(w, name)),
        close: async () => {
          await wires[0]!.call("DEL", name);
          for (const w of wires) w.close();
        },
      };
    }
  }
}

/** CPU seconds (user + system) a process has used so far, from /proc (Linux). */
export function cpuSeconds(pid: number): number {
  const stat = readProcStat(pid);
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return (Number(fields[11]) + Number(fields[12])) / 100; // utime, stime in clock ticks (USER_HZ 100)
}

function readProcStat(pid: number): string {
  return readFileSync(`/proc/${pid}/stat`, "utf8");
}

export function selfCpuSeconds(): number {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1e6;
}
