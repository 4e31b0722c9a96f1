// Strata side of the queue bench: workers that claim a batch (POST /v1/queues/{group}/claim,
// the answer as MessagePack), check each task, and ack the batch's receipts in one request, then
// claim again (or, overlapped, claim again while the ack is in flight). An ack is answered once
// the settle is committed in the metadata database.
import { Decoder } from "@msgpack/msgpack";
import { MSGPACK } from "../log/strata.ts";
import type { QueueRun } from "./jetstream.ts";

const decoder = new Decoder({ maxBinLength: 1 << 30, maxArrayLength: 1_000_000 });

function assert(ok: boolean, message: string): asserts ok {
  if (!ok) throw new Error(message);
}

interface Claimed {
  receipt: string;
  fields: { data: Uint8Array };
}

/**
 * `workers` workers take `total` tasks of `stream` for `group` in claims of `batch` and ack each
 * claim's receipts together. With `overlap`, a claim's ack is sent with the next claim (at most
 * one ack outstanding per worker, as the Redis and JetStream workers send their acks with the
 * next read); without it, a worker claims again only once its ack is answered. Either way the
 * time runs until every ack is answered, i.e. committed.
 */
export async function work(base: string, group: string, stream: string, opts: { total: number; batch: number; workers: number; payloadSize: number; overlap?: boolean }): Promise<QueueRun> {
  const claimUrl = `${base}/v1/queues/${encodeURIComponent(group)}/claim`;
  const ackUrl = `${base}/v1/queues/${encodeURIComponent(group)}/ack`;
  let received = 0;
  let acked = 0;
  const ack = async (receipts: string[]): Promise<void> => {
    const answer = await fetch(ackUrl, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ receipts }) });
    const settled = (await answer.json()) as { acked: number; stale: string[] };
    assert(answer.status === 200 && settled.acked === receipts.length, `ack: HTTP ${answer.status} ${JSON.stringify(settled).slice(0, 300)}`);
    acked += settled.acked;
  };
  const t0 = performance.now();
  const worker = async (): Promise<void> => {
    let outstanding: Promise<void> | undefined;
    while (received < opts.total) {
      const res = await fetch(claimUrl, {
        method: "POST",
        headers: { "content-type": "application/json", accept: MSGPACK },
        // A short long-poll: near the end the other workers hold the last tasks.
        body: JSON.stringify({ streams: [stream], max_records: opts.batch, visibility_ms: 60_000, wait_ms: 50 }),
      });
      const bytes = new Uint8Array(await res.arrayBuffer());
      assert(res.status === 200, `claim: HTTP ${res.status} ${new TextDecoder().decode(bytes.subarray(0, 300))}`);
      const { records } = decoder.decode(bytes) as { records: Claimed[] };
      if (records.length === 0) continue;
      for (const r of records) assert(r.fields.data.length === opts.payloadSize, "claim: payload size");
      received += records.length;
      await outstanding;
      outstanding = ack(records.map((r) => r.receipt));
      outstanding.catch(() => undefined); // awaited before the next ack or at the end; not unhandled meanwhile
      if (!opts.overlap) await outstanding;
    }
    await outstanding;
  };
  await Promise.all(Array.from({ length: opts.workers }, worker));
  const seconds = (performance.now() - t0) / 1000;
  assert(acked === opts.total, `strata: ${acked} of ${opts.total} tasks acked`);
  return { tasks: acked, seconds };
}

/** The queue's totals (to check that every task was acked exactly once). */
export async function totals(base: string, group: string): Promise<{ acked: number; in_flight: number; pending: number; redelivered: number }> {
  const res = await fetch(`${base}/v1/queues/${encodeURIComponent(group)}`);
  assert(res.status === 200, `describe ${group}: HTTP ${res.status}`);
  return ((await res.json()) as { totals: { acked: number; in_flight: number; pending: number; redelivered: number } }).totals;
}
