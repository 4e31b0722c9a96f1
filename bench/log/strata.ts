// Strata side of the log bench: HTTP publish of MessagePack bodies with several requests in
// flight, and a sequential MessagePack reader of one partition.
import { Decoder, Encoder } from "@msgpack/msgpack";

export const MSGPACK = "application/msgpack";
const encoder = new Encoder({ initialBufferSize: 2 * 1024 * 1024 });
const decoder = new Decoder({ maxBinLength: 1 << 30, maxArrayLength: 1_000_000 });

export interface Measured {
  readonly records: number;
  readonly payloadBytes: number;
  readonly seconds: number;
}

function assert(ok: boolean, message: string): asserts ok {
  if (!ok) throw new Error(message);
}

function streamPath(base: string, name: string): string {
  return `${base}/v1/streams/${encodeURIComponent(name)}`;
}

export async function createStream(base: string, name: string, partitions = 1): Promise<void> {
  const res = await fetch(`${base}/v1/streams`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ name, partitions }),
  });
  assert(res.status === 201, `create stream ${name}: HTTP ${res.status} ${await res.text()}`);
}

/**
 * Publishes `total` records of `payload` (one bin field `data`) in requests of `batch` records,
 * `concurrency` requests in flight. Each request's body is encoded when it is sent; `headers`
 * adds headers of each request (e.g. a traceparent).
 */
export async function publish(base: string, stream: string, opts: { total: number; batch: number; concurrency: number; payload: Uint8Array; headers?: () => Record<string, string> }): Promise<Measured> {
  const { total, batch, concurrency, payload } = opts;
  const requests = Math.ceil(total / batch);
  const url = `${streamPath(base, stream)}/records?acks=local`;
  const record = { fields: { data: payload } };
  let next = 0;
  let acked = 0;
  const worker = async (): Promise<void> => {
    while (next < requests) {
      const i = next++;
      const n = Math.min(batch, total - i * batch);
      const records = new Array<typeof record>(n).fill(record);
      const body = encoder.encode({ records });
      const res = await fetch(url, { method: "POST", headers: { "content-type": MSGPACK, accept: MSGPACK, ...opts.headers?.() }, body });
      const bytes = new Uint8Array(await res.arrayBuffer());
      assert(res.status === 200, `publish: HTTP ${res.status} ${new TextDecoder().decode(bytes)}`);
      const answer = decoder.decode(bytes) as { records: { partition: number; offset: number }[] };
      assert(answer.records.length === n, `publish: ${answer.records.length} positions for ${n} records`);
      acked += n;
    }
  };
  const t0 = performance.now();
  await Promise.all(Array.from({ length: Math.min(concurrency, requests) }, worker));
  const seconds = (performance.now() - t0) / 1000;
  assert(acked === total, `publish: ${acked} of ${total} acknowledged`);
  return { records: total, payloadBytes: total * payload.length, seconds };
}

/**
 * Reads partition 0 from offset 0 until `total` records came back, one GET at a time (one
 * reader), each asking for up to maxRecords / maxBytes, as MessagePack.
 */
export async function read(base: string, stream: string, opts: { total: number; maxRecords: number; maxBytes: number; payloadSize: number }): Promise<Measured & { requests: number }> {
  const { total, maxRecords, maxBytes, payloadSize } = opts;
  const prefix = `${streamPath(base, stream)}/partitions/0/records?max_records=${maxRecords}&max_bytes=${maxBytes}&offset=`;
  let offset = 0;
  let payloadBytes = 0;
  let requests = 0;
  const t0 = performance.now();
  while (offset < total) {
    const res = await fetch(prefix + offset, { headers: { accept: MSGPACK } });
    const bytes = new Uint8Array(await res.arrayBuffer());
    assert(res.status === 200, `read: HTTP ${res.status} ${new TextDecoder().decode(bytes.subarray(0, 300))}`);
    const answer = decoder.decode(bytes) as { records: { offset: number; fields: { data: Uint8Array } }[]; next_offset: number };
    const records = answer.records;
    assert(records.length > 0 && records[0]!.offset === offset, `read: expected offset ${offset}`);
    for (const r of records) {
      assert(r.fields.data.length === payloadSize, "read: payload size");
      payloadBytes += r.fields.data.length;
    }
    offset = answer.next_offset;
    requests++;
  }
  const seconds = (performance.now() - t0) / 1000;
  assert(offset === total, `read: ended at ${offset}, expected ${total}`);
  return { records: total, payloadBytes, seconds, requests };
}
