// JetStream publisher over the raw NATS protocol (bench/queues/nats-wire.ts), so the peer's
// client is not the bottleneck (the `nats` npm client spends 29-58 us of CPU per message): PUB
// frames with a reply subject per message, written many to a socket write, every JetStream ack
// matched to its message by that reply subject. Several connections can share the load until
// nats-server itself is the limit. Acknowledgement: nats-server 2.9 answers a publish once the
// message is in its file store's write buffer, without fsync (sync_interval 2 min by default).
import { NatsWire, type NatsMessage } from "../queues/nats-wire.ts";

/** Creates a file-storage stream `name` (subjects `<name>.>`, limits retention, one replica). */
export async function createRawStream(wire: NatsWire, name: string): Promise<void> {
  const answer = (await wire.requestJson(`$JS.API.STREAM.CREATE.${name}`, { name, subjects: [`${name}.>`], storage: "file", retention: "limits", num_replicas: 1 })) as { error?: unknown };
  if (answer.error) throw new Error(`create stream ${name}: ${JSON.stringify(answer.error)}`);
}

export async function deleteRawStream(wire: NatsWire, name: string): Promise<void> {
  await wire.requestJson(`$JS.API.STREAM.DELETE.${name}`, {});
}

/** One connection publishing to one stream's subject; each publish resolves on its JetStream ack. */
export class RawJetStreamPublisher {
  readonly #wire: NatsWire;
  readonly #subject: string;
  readonly #inbox: string;
  readonly #waiting = new Map<number, { resolve(): void; reject(e: Error): void }>();
  #next = 0;

  private constructor(wire: NatsWire, stream: string) {
    this.#wire = wire;
    this.#subject = `${stream}.data`;
    this.#inbox = `_INBOX.${stream}.${Math.random().toString(36).slice(2)}`;
    wire.subscribe(`${this.#inbox}.*`, (m) => this.#acked(m));
  }

  static async open(url: string, stream: string): Promise<RawJetStreamPublisher> {
    const wire = await NatsWire.connect(url);
    const p = new RawJetStreamPublisher(wire, stream);
    await wire.flush(); // the subscription is in place before the first publish
    return p;
  }

  /** Publishes `payloads` in one socket write; resolves once every one is acknowledged. */
  publish(payloads: readonly Uint8Array[]): Promise<void> {
    const frames: Buffer[] = [];
    const acks: Promise<void>[] = [];
    for (const payload of payloads) {
      const id = this.#next++;
      frames.push(NatsWire.pubFrame(this.#subject, `${this.#inbox}.${id}`, payload));
      acks.push(new Promise<void>((resolve, reject) => this.#waiting.set(id, { resolve, reject })));
    }
    this.#wire.write(frames);
    return acks.length === 1 ? acks[0]! : Promise.all(acks).then(() => undefined);
  }

  close(): void {
    this.#wire.close();
  }

  #acked(m: NatsMessage): void {
    const id = Number(m.subject.slice(this.#inbox.length + 1));
    const waiter = this.#waiting.get(id);
    if (!waiter) return;
    this.#waiting.delete(id);
    // A PubAck is {"stream":..,"seq":..}; a failure carries "error" (or a 503 no-responders header).
    if (m.headers !== undefined || m.data.includes("error")) waiter.reject(new Error(`JetStream publish: ${m.headers ?? m.data.toString()}`));
    else waiter.resolve();
  }
}

/**
 * A JetStream push consumer over the raw protocol: every message stored in `stream` from now on
 * is delivered to `onMessage` (no acks: ack policy none), for publish-to-consumer latency.
 */
export async function rawPushConsumer(url: string, stream: string, onMessage: (data: Buffer) => void): Promise<{ close(): void }> {
  const wire = await NatsWire.connect(url);
  const deliver = `_DELIVER.${stream}.${Math.random().toString(36).slice(2)}`;
  wire.subscribe(deliver, (m) => {
    if (m.headers === undefined) onMessage(m.data); // heartbeats and flow control carry headers only
  });
  await wire.flush();
  const answer = (await wire.requestJson(`$JS.API.CONSUMER.CREATE.${stream}`, {
    stream_name: stream,
    config: { deliver_subject: deliver, deliver_policy: "new", ack_policy: "none", max_deliver: 1 },
  })) as { error?: unknown };
  if (answer.error) throw new Error(`push consumer on ${stream}: ${JSON.stringify(answer.error)}`);
  return { close: () => wire.close() };
}
