// Strata publisher and long-poll tail for the log and latency benches. Publish over HTTP with
// `acks=local` (acknowledged once the batch is in the WAL, written with O_DSYNC) in one of two
// forms: a MessagePack request the gateway decodes and re-encodes record by record, or a
// client-built batch (core/log/client-batch.ts: the client lays out the stored batch, header and
// CRC32C, and the gateway validates it and appends its bytes as they are).
import { Decoder, Encoder } from "@msgpack/msgpack";
import { buildClientBatch, CLIENT_BATCH_MEDIA_TYPE } from "../../core/log/client-batch.ts";

export const MSGPACK = "application/msgpack";
export type PublishForm = "msgpack" | "client-batch";

const encoder = new Encoder({ initialBufferSize: 2 * 1024 * 1024 });
const decoder = new Decoder({ maxBinLength: 1 << 30, maxArrayLength: 1_000_000 });

export class StrataPublisher {
  readonly #url: string;

  constructor(
    base: string,
    stream: string,
    readonly form: PublishForm,
  ) {
    this.#url = `${base}/v1/streams/${encodeURIComponent(stream)}/records?acks=local`;
  }

  /** One request of `payloads` as records with one bin field `data`; resolves once it is acknowledged. */
  async publish(payloads: readonly Uint8Array[]): Promise<void> {
    const records = payloads.map((data) => ({ fields: { data } }));
    const body = this.form === "msgpack" ? encoder.encode({ records }) : buildClientBatch(records.map((r) => ({ key: null, headers: {}, fields: r.fields })));
    const res = await fetch(this.#url, {
      method: "POST",
      headers: { "content-type": this.form === "msgpack" ? MSGPACK : CLIENT_BATCH_MEDIA_TYPE, accept: MSGPACK },
      body: body.buffer instanceof ArrayBuffer ? new Uint8Array(body.buffer, body.byteOffset, body.byteLength) : body.slice(),
    });
    const answer = new Uint8Array(await res.arrayBuffer());
    if (res.status !== 200) throw new Error(`Strata publish (${this.form}): HTTP ${res.status} ${new TextDecoder().decode(answer.subarray(0, 300))}`);
  }
}

/** Whether the gateway takes client-built batches (the route may be absent in an older build). */
export async function clientBatchSupported(base: string, stream: string, payload: Uint8Array): Promise<boolean> {
  try {
    await new StrataPublisher(base, stream, "client-batch").publish([payload]);
    return true;
  } catch {
    return false;
  }
}

/**
 * Long-polls partition 0 of `stream` from `offset` (GET .../records?wait_ms=), handing each
 * record's `data` field to `onRecord`, until stop().
 */
export function strataTail(base: string, stream: string, offset: number, onRecord: (data: Uint8Array) => void, waitMs = 1_000): { stop(): Promise<void> } {
  let stopped = false;
  const prefix = `${base}/v1/streams/${encodeURIComponent(stream)}/partitions/0/records?max_records=10000&wait_ms=${waitMs}&offset=`;
  const loop = (async () => {
    let next = offset;
    while (!stopped) {
      const res = await fetch(prefix + next, { headers: { accept: MSGPACK } });
      const bytes = new Uint8Array(await res.arrayBuffer());
      if (res.status !== 200) throw new Error(`Strata long-poll: HTTP ${res.status} ${new TextDecoder().decode(bytes.subarray(0, 300))}`);
      const answer = decoder.decode(bytes) as { records: { fields: { data: Uint8Array } }[]; next_offset: number };
      for (const r of answer.records) onRecord(r.fields.data);
      next = answer.next_offset;
    }
  })();
  return {
    stop: async () => {
      stopped = true;
      await loop;
    },
  };
}
