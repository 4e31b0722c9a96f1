// Redis Streams publisher, the peer that fsyncs before it acknowledges: XADD over a raw pipelined
// RESP connection (bench/queues/resp-wire.ts) to Debian's redis-server with `appendonly yes` and
// `appendfsync always` (bench/queues/redis.ts starts it). Redis writes and fsyncs the AOF once per
// event-loop turn before sending that turn's replies, so an answered XADD survives a machine
// crash, and pipelined XADDs share an fsync as Strata's group commit shares a WAL write.
import { encodeCommand, RespError, type RespReply, type RespWire } from "../queues/resp-wire.ts";

export class RedisStreamsPublisher {
  constructor(
    private readonly wire: RespWire,
    private readonly stream: string,
  ) {}

  /** XADDs every payload (field `data`) in one socket write; resolves once every one is answered (fsynced). */
  async publish(payloads: readonly Uint8Array[]): Promise<void> {
    const replies = await Promise.all(this.wire.sendEncoded(payloads.map((p) => encodeCommand(["XADD", this.stream, "*", "data", p]))));
    for (const r of replies) if (r instanceof RespError) throw r;
  }
}

/** One XREAD BLOCK answer: [[stream, [[id, [field, value, ...]], ...]]], or null on timeout. */
export function xreadEntries(reply: RespReply): { id: Buffer; fields: Buffer[] }[] {
  if (reply === null) return [];
  if (reply instanceof RespError) throw reply;
  const stream = Array.isArray(reply) ? reply[0] : undefined;
  if (!Array.isArray(stream) || !Array.isArray(stream[1])) throw new Error(`XREAD: unexpected reply ${String(reply)}`);
  return (stream[1] as [Buffer, Buffer[]][]).map(([id, fields]) => ({ id, fields }));
}

/**
 * Reads `stream` with XREAD BLOCK from its first entry (it may not exist yet), handing each
 * entry's `data` to `onEntry`, until stop() (it returns after the blocked read answers, at most `blockMs`).
 */
export function redisTail(wire: RespWire, stream: string, onEntry: (data: Buffer) => void, blockMs = 1_000): { stop(): Promise<void> } {
  let stopped = false;
  const loop = (async () => {
    let last = "0-0";
    while (!stopped) {
      const entries = xreadEntries(await wire.call("XREAD", "BLOCK", blockMs, "COUNT", 10_000, "STREAMS", stream, last));
      for (const e of entries) {
        last = e.id.toString("latin1");
        const data = e.fields[1];
        if (data) onEntry(data);
      }
    }
  })();
  return {
    stop: async () => {
      stopped = true;
      await loop;
    },
  };
}
