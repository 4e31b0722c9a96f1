// A queue worker as its own process, for tests that SIGKILL workers and the gateway: claims from
// the listed streams, prints `claim STREAM PARTITION OFFSET DELIVERIES` per record, nacks a
// record whose fields say `fail` (error "task N always fails"), acks the rest and prints
// `acked …` once the gateway answered that it acked. Survives gateway restarts: a failed call is
// retried; an ack whose first answer was lost and whose retry is stale prints `ack-unknown …`.
// With HANG_AFTER it hangs inside task number HANG_AFTER + 1 (printing `hang …`), to be killed
// there. Usage: bun queue-worker-process.ts URL GROUP STREAMS(comma-separated) [HANG_AFTER]
import type { AckResponse, ClaimResponse } from "../../gateway/queues/queue-wire.ts";

const [url, group, streamList, hangAfter] = process.argv.slice(2);
if (url === undefined || group === undefined || streamList === undefined) throw new Error("usage: queue-worker-process.ts URL GROUP STREAMS [HANG_AFTER]");
const streams = streamList.split(",");
const base = `${url}/v1/queues/${group}`;

/** POSTs until the gateway answers 200 (it may be restarting). */
async function post<T>(path: string, body: unknown): Promise<{ answer: T; retried: boolean }> {
  let retried = false;
  for (;;) {
    try {
      const response = await fetch(`${base}${path}`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body) });
      const text = await response.text();
      if (response.status === 200) return { answer: JSON.parse(text) as T, retried };
      process.stderr.write(`${path}: ${response.status} ${text}\n`);
    } catch (e) {
      process.stderr.write(`${path}: ${String(e)}\n`);
    }
    retried = true;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

let done = 0;
for (;;) {
  const { answer } = await post<ClaimResponse>("/claim", { streams, max_records: 4, visibility_ms: 5000, wait_ms: 1000 });
  for (const r of answer.records) {
    const where = `${r.stream} ${r.partition} ${r.offset}`;
    process.stdout.write(`claim ${where} ${r.deliveries}\n`);
    if (hangAfter !== undefined && done >= Number(hangAfter)) {
      process.stdout.write(`hang ${where}\n`);
      await new Promise(() => undefined);
    }
    if (r.fields?.fail === true) {
      await post("/nack", { receipts: [r.receipt], error: `task ${String(r.fields?.n)} always fails` });
      process.stdout.write(`nacked ${where}\n`);
      continue;
    }
    await new Promise((resolve) => setTimeout(resolve, 2)); // the work
    const { answer: acked, retried } = await post<AckResponse>("/ack", { receipts: [r.receipt] });
    if (acked.acked === 1) process.stdout.write(`acked ${where}\n`);
    else if (retried) process.stdout.write(`ack-unknown ${where}\n`);
    else process.stdout.write(`stale ${where}\n`);
    done++;
  }
}
