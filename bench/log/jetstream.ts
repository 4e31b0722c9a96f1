// NATS JetStream side of the log bench: async js.publish with a bounded window of outstanding
// acks into a file-storage stream, and an ordered consumer reading it back.
import { connect, RetentionPolicy, StorageType, type JetStreamClient, type NatsConnection, type PubAck } from "nats";
import type { Measured } from "./strata.ts";

export interface JetStream {
  readonly nc: NatsConnection;
  readonly js: JetStreamClient;
  createStream(name: string): Promise<void>;
  close(): Promise<void>;
}

export async function openJetStream(url: string): Promise<JetStream> {
  const nc = await connect({ servers: url, maxPingOut: 100 });
  const jsm = await nc.jetstreamManager();
  return {
    nc,
    js: nc.jetstream(),
    async createStream(name: string) {
      await jsm.streams.add({ name, subjects: [`${name}.>`], storage: StorageType.File, retention: RetentionPolicy.Limits, num_replicas: 1 });
    },
    async close() {
      await nc.drain();
    },
  };
}

/**
 * Publishes `total` messages of `payload`, keeping at most `window` acks outstanding; with
 * several streams, messages go to them in turn.
 */
export async function publish(js: JetStreamClient, streams: string | readonly string[], opts: { total: number; window: number; payload: Uint8Array }): Promise<Measured> {
  const { total, window, payload } = opts;
  const subjects = (typeof streams === "string" ? [streams] : streams).map((s) => `${s}.data`);
  const inflight: Promise<PubAck>[] = new Array(window);
  let acked = 0;
  const t0 = performance.now();
  for (let i = 0; i < total; i++) {
    const slot = i % window;
    if (i >= window) {
      await inflight[slot]!;
      acked++;
    }
    inflight[slot] = js.publish(subjects[i % subjects.length]!, payload);
  }
  for (let i = Math.max(0, total - window); i < total; i++) {
    await inflight[i % window]!;
    acked++;
  }
  const seconds = (performance.now() - t0) / 1000;
  if (acked !== total) throw new Error(`jetstream publish: ${acked} of ${total} acknowledged`);
  return { records: total, payloadBytes: total * payload.length, seconds };
}

/**
 * Reads the whole stream with an ordered consumer in fetches of up to `maxMessages` (the same
 * request/answer shape as Strata's GETs). A fetch that brings nothing (expired) is retried a few
 * times before the read is declared stalled, so the bench never hangs.
 */
export async function read(js: JetStreamClient, stream: string, opts: { total: number; maxMessages: number; payloadSize: number }): Promise<Measured & { requests: number }> {
  const { total, maxMessages, payloadSize } = opts;
  const consumer = await js.consumers.get(stream);
  const t0 = performance.now();
  let count = 0;
  let payloadBytes = 0;
  let requests = 0;
  let empty = 0;
  while (count < total) {
    const batch = await consumer.fetch({ max_messages: Math.min(maxMessages, total - count), expires: 5_000 });
    requests++;
    const before = count;
    for await (const m of batch) {
      if (m.data.length !== payloadSize) throw new Error("jetstream read: payload size");
      if (m.seq !== count + 1) throw new Error(`jetstream read: sequence ${m.seq}, expected ${count + 1}`);
      payloadBytes += m.data.length;
      count++;
    }
    if (count === before && ++empty >= 3) throw new Error(`jetstream read of ${stream} stalled at ${count} of ${total}`);
  }
  const seconds = (performance.now() - t0) / 1000;
  return { records: count, payloadBytes, seconds, requests };
}
