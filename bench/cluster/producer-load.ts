// The cluster bench's publish load: idempotent producers, each with its own producer id and
// partition, each sending client-built batches of `batch` 1 KiB records in a closed loop (the next
// request once the last is acknowledged) to one gateway of the setup (producer i to gateway i mod
// N, as a load balancer would spread them, so in a cluster most requests are forwarded to the
// partition's leader). A producer's sequence continues across runs on the same stream. Any answer
// but 200 fails the run: the bench measures a healthy cluster.
import { buildClientBatch, CLIENT_BATCH_MEDIA_TYPE, type ClientBatchRecord } from "../../core/log/client-batch.ts";

export const RECORD_BYTES = 1024;

export interface Producer {
  readonly id: number;
  readonly partition: number;
  seq: number;
}

export interface LoadRun {
  readonly records: number;
  readonly requests: number;
  readonly seconds: number;
  /** Each request's send-to-acknowledgement time, ms. */
  readonly latenciesMs: readonly number[];
}

const payload = new Uint8Array(RECORD_BYTES - 16).fill(0x5a);

/** `count` producers of a stream with `count` partitions; ids unique per bench run. */
export function producersFor(count: number, idBase: number): Producer[] {
  return Array.from({ length: count }, (_, i) => ({ id: idBase + i, partition: i, seq: 0 }));
}

function body(producer: Producer, batch: number): Uint8Array {
  const records: ClientBatchRecord[] = Array.from({ length: batch }, (_, i) => ({ key: null, headers: {}, fields: { s: producer.seq, i, data: payload } }));
  return buildClientBatch(records, { id: producer.id, epoch: 0, baseSequence: producer.seq });
}

/**
 * Runs every producer for `seconds` against `urls` (with `acks`), and answers the records
 * acknowledged and each request's latency.
 */
export async function runLoad(options: {
  readonly urls: readonly string[];
  readonly stream: string;
  readonly producers: readonly Producer[];
  readonly batch: number;
  readonly acks: "local" | "durable";
  readonly seconds: number;
}): Promise<LoadRun> {
  const latencies: number[] = [];
  let records = 0;
  const started = performance.now();
  const until = started + options.seconds * 1000;
  const one = async (producer: Producer, index: number): Promise<void> => {
    const base = options.urls[index % options.urls.length]!;
    const url = `${base}/v1/streams/${encodeURIComponent(options.stream)}/records?acks=${options.acks}&partition=${producer.partition}`;
    while (performance.now() < until) {
      const bytes = body(producer, options.batch);
      const sent = performance.now();
      const response = await fetch(url, {
        method: "POST",
        headers: { "content-type": CLIENT_BATCH_MEDIA_TYPE },
        body: bytes.slice(),
        signal: AbortSignal.timeout(60_000),
      });
      const text = await response.text();
      if (response.status !== 200) throw new Error(`publish to ${url} (producer ${producer.id}, seq ${producer.seq}): ${response.status} ${text.slice(0, 300)}`);
      latencies.push(performance.now() - sent);
      records += options.batch;
      producer.seq++;
    }
  };
  await Promise.all(options.producers.map((p, i) => one(p, i)));
  return { records, requests: latencies.length, seconds: (performance.now() - started) / 1000, latenciesMs: latencies };
}
