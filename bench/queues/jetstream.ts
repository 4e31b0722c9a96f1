// JetStream side of the queue bench, over the raw protocol (nats-wire.ts): a work-queue stream
// (retention workqueue, file storage) with a durable pull consumer with explicit acks. Each worker
// has its own connection and asks `$JS.API.CONSUMER.MSG.NEXT.<stream>.<consumer>` for a batch,
// receives it, then acks every message with `+ACK` on its reply subject (all acks of a batch in
// one socket write) and asks for the next batch.
import { NatsWire } from "./nats-wire.ts";

export interface QueueRun {
  readonly tasks: number;
  readonly seconds: number;
}

const SUBJECT = "tasks";
const ACK = Buffer.from("+ACK");

/** Creates the work-queue stream `name` (subjects `<name>.>`) and its durable pull consumer `workers`. */
export async function createWorkQueue(wire: NatsWire, name: string, maxAckPending: number): Promise<void> {
  const stream = (await wire.requestJson(`$JS.API.STREAM.CREATE.${name}`, { name, subjects: [`${name}.>`], retention: "workqueue", storage: "file", num_replicas: 1 })) as { error?: unknown };
  if (stream.error) throw new Error(`create stream ${name}: ${JSON.stringify(stream.error)}`);
  const consumer = (await wire.requestJson(`$JS.API.CONSUMER.DURABLE.CREATE.${name}.workers`, {
    stream_name: name,
    config: { durable_name: "workers", ack_policy: "explicit", deliver_policy: "all", max_ack_pending: maxAckPending, ack_wait: 30e9 },
  })) as { error?: unknown };
  if (consumer.error) throw new Error(`create consumer on ${name}: ${JSON.stringify(consumer.error)}`);
}

/** Publishes `total` tasks of `payload` with JetStream publish acks, `window` outstanding. */
export async function publishTasks(wire: NatsWire, name: string, total: number, payload: Uint8Array, window: number): Promise<void> {
  const inbox = `_INBOX.pub.${name}`;
  let acked = 0;
  let wake: (() => void) | undefined;
  wire.subscribe(inbox, (m) => {
    if (m.headers !== undefined || m.data.includes("error")) throw new Error(`publish to ${name}: ${m.headers ?? m.data.toString()}`);
    acked++;
    wake?.();
  });
  const frame = NatsWire.pubFrame(`${name}.${SUBJECT}`, inbox, payload);
  for (let sent = 0; sent < total; ) {
    const n = Math.min(total - sent, window - (sent - acked));
    if (n > 0) {
      wire.write(new Array<Buffer>(n).fill(frame));
      sent += n;
    } else await new Promise<void>((resolve) => (wake = resolve));
  }
  while (acked < total) await new Promise<void>((resolve) => (wake = resolve));
}

/** Messages in the stream now (a work-queue stream deletes each message its consumer acks). */
export async function messagesLeft(wire: NatsWire, name: string): Promise<number> {
  const info = (await wire.requestJson(`$JS.API.STREAM.INFO.${name}`, {})) as { state: { messages: number } };
  return info.state.messages;
}

/**
 * `workers` pull workers (one connection each) take `total` tasks in batches of `batch` and ack
 * them; the time runs until the server has applied every ack (the stream holds no message).
 */
export async function work(url: string, name: string, opts: { total: number; batch: number; workers: number; payloadSize: number }): Promise<QueueRun> {
  const wires = await Promise.all(Array.from({ length: opts.workers }, () => NatsWire.connect(url)));
  let received = 0;
  let acked = 0;
  /** Ends every worker's pull in progress: called once all tasks have arrived. */
  const wakers = new Set<() => void>();
  const t0 = performance.now();
  const worker = async (wire: NatsWire, w: number): Promise<void> => {
    const inbox = `_INBOX.work.${w}`;
    let acks: Buffer[] = [];
    let done: (() => void) | undefined;
    wire.subscribe(inbox, (m) => {
      if (m.headers !== undefined) {
        // A status (404 no messages, 408 request timeout): this pull request is over.
        done?.();
        return;
      }
      if (m.data.length !== opts.payloadSize) throw new Error(`jetstream: payload of ${m.data.length} bytes`);
      acks.push(NatsWire.pubFrame(m.reply!, undefined, ACK));
      if (++received === opts.total) for (const wake of wakers) wake();
      if (acks.length === opts.batch) done?.();
    });
    while (received < opts.total) {
      const { promise: batchDone, resolve: finish } = Promise.withResolvers<void>();
      done = finish;
      wakers.add(finish);
      wire.publish(`$JS.API.CONSUMER.MSG.NEXT.${name}.workers`, inbox, JSON.stringify({ batch: opts.batch, expires: 500_000_000 }));
      await batchDone;
      wakers.delete(finish);
      const batch = acks;
      acks = [];
      acked += batch.length;
      if (batch.length > 0) wire.write(batch);
    }
    await wire.flush();
  };
  await Promise.all(wires.map(worker));
  // The server applies acks asynchronously (after answering the PING): the run ends when the
  // work-queue stream has deleted every acked message.
  const deadline = performance.now() + 30_000;
  while ((await messagesLeft(wires[0]!, name)) > 0) {
    if (performance.now() > deadline) throw new Error(`jetstream: acks of ${name} not applied within 30 s`);
    await new Promise((resolve) => setTimeout(resolve, 2));
  }
  const seconds = (performance.now() - t0) / 1000;
  for (const wire of wires) wire.close();
  if (acked !== opts.total) throw new Error(`jetstream: ${acked} of ${opts.total} tasks acked`);
  return { tasks: acked, seconds };
}
