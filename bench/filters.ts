// Filter bench: the scan rate of a filtered read against an unfiltered read of the same records,
// side by side in one run against one gateway process (Bun).
//   bun bench/filters.ts                       (200,000 records of about 200 bytes)
//   FILTER_BENCH_SCALE=0.1 bun bench/filters.ts (a quick look)
// Publishes the records to one partition, then reads the whole partition from offset 0 to its
// end, one GET at a time, in four ways per round: unfiltered and filtered, each as MessagePack
// (stored record bytes forwarded; a filter decodes only what it reads) and as JSON (records
// decoded). The filters select 10% of the records. Rounds alternate the kinds; the table shows
// the median of the rounds: records scanned per second (the partition's records / time), records
// returned, and the filtered rate over the unfiltered one.
import { cpus, loadavg } from "node:os";
import { Decoder, Encoder } from "@msgpack/msgpack";
import { extensionCodec } from "../core/log/extensions.ts";
import { startGateway } from "./log/processes.ts";
import { createStream, MSGPACK } from "./log/strata.ts";

const SCALE = Number(process.env.FILTER_BENCH_SCALE ?? 1);
const RECORDS = Math.max(10_000, Math.round(200_000 * SCALE));
const PUBLISH_BATCH = 5_000;
const ROUNDS = 3;
const MAX_RECORDS = 10_000;
const STREAM = "bench/filters";

const encoder = new Encoder({ extensionCodec });
const decoder = new Decoder({ extensionCodec });

function assert(ok: boolean, message: string): asserts ok {
  if (!ok) throw new Error(message);
}

/** About 200 bytes encoded: a score (10% above 0.9), tags (a third verified), a label and text. */
function sample(i: number) {
  return {
    key: null,
    partition: 0,
    headers: { source: `cam-${i % 8}` },
    fields: { i, quality_score: (i % 10) / 10 + 0.05, tags: i % 3 === 0 ? ["verified", "day"] : ["raw"], label: ["cat", "dog", "bird"][i % 3]!, caption: `sample ${i} `.padEnd(110, "x") },
  };
}

interface Scan {
  readonly seconds: number;
  readonly returned: number;
  readonly requests: number;
}

async function scan(base: string, filter: string | undefined, form: "msgpack" | "json"): Promise<Scan> {
  const query = new URLSearchParams({ max_records: String(MAX_RECORDS) });
  if (filter !== undefined) query.set("filter", filter);
  const prefix = `${base}/v1/streams/${encodeURIComponent(STREAM)}/partitions/0/records?${query}&offset=`;
  let offset = 0;
  let returned = 0;
  let requests = 0;
  const t0 = performance.now();
  while (offset < RECORDS) {
    const res = await fetch(prefix + offset, { headers: { accept: form === "msgpack" ? MSGPACK : "application/json" } });
    if (res.status !== 200) throw new Error(`read: HTTP ${res.status} ${await res.text()}`);
    const page = (form === "msgpack" ? decoder.decode(new Uint8Array(await res.arrayBuffer())) : await res.json()) as { records: unknown[]; next_offset: number };
    assert(page.next_offset > offset, `read at ${offset} did not advance`);
    returned += page.records.length;
    offset = page.next_offset;
    requests++;
  }
  return { seconds: (performance.now() - t0) / 1000, returned, requests };
}

const KINDS = [
  { name: "unfiltered", filter: undefined },
  { name: "`fields.quality_score > 0.9`", filter: "fields.quality_score > 0.9" },
  { name: '`fields.quality_score > 0.6 && "verified" in fields.tags`', filter: 'fields.quality_score > 0.6 && "verified" in fields.tags' },
  { name: '`headers.source == "cam-3" && size(fields) == 5` (whole maps)', filter: 'headers.source == "cam-3" && size(fields) == 5' },
] as const;
const FORMS = ["msgpack", "json"] as const;

const median = (xs: readonly number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

async function main(): Promise<void> {
  const loadBefore = loadavg();
  const gateway = await startGateway();
  try {
    await createStream(gateway.url, STREAM, 1);
    for (let start = 0; start < RECORDS; start += PUBLISH_BATCH) {
      const records = Array.from({ length: Math.min(PUBLISH_BATCH, RECORDS - start) }, (_, j) => sample(start + j));
      const res = await fetch(`${gateway.url}/v1/streams/${encodeURIComponent(STREAM)}/records?acks=local`, { method: "POST", headers: { "content-type": MSGPACK, accept: MSGPACK }, body: encoder.encode({ records }) });
      if (res.status !== 200) throw new Error(`publish: HTTP ${res.status} ${await res.text()}`);
      await res.arrayBuffer();
    }
    const bytesPerRecord = encoder.encode(sample(RECORDS / 2).fields).length + 20;
    // One warm-up pass of each form, then rounds in alternating order.
    for (const form of FORMS) await scan(gateway.url, undefined, form);
    const results = new Map<string, Scan[]>();
    for (let round = 0; round < ROUNDS; round++) {
      const order = round % 2 === 0 ? KINDS : [...KINDS].reverse();
      for (const form of FORMS) {
        for (const kind of order) {
          const key = `${form} ${kind.name}`;
          results.set(key, [...(results.get(key) ?? []), await scan(gateway.url, kind.filter, form)]);
        }
      }
    }
    const loadAfter = loadavg();
    console.log(`## Filtered scan: ${RECORDS.toLocaleString("en")} records of about ${bytesPerRecord} bytes, one partition, one reader, max_records ${MAX_RECORDS}\n`);
    console.log("| answer | read | records scanned/s | returned | GETs | scanned/s vs unfiltered |");
    console.log("| --- | --- | ---: | ---: | ---: | ---: |");
    for (const form of FORMS) {
      const base = median(results.get(`${form} unfiltered`)!.map((s) => RECORDS / s.seconds));
      for (const kind of KINDS) {
        const runs = results.get(`${form} ${kind.name}`)!;
        const rate = median(runs.map((s) => RECORDS / s.seconds));
        console.log(`| ${form === "msgpack" ? "MessagePack" : "JSON"} | ${kind.name} | ${Math.round(rate).toLocaleString("en")} | ${runs[0]!.returned.toLocaleString("en")} | ${runs[0]!.requests} | ${(rate / base).toFixed(2)} |`);
      }
    }
    console.log(`\nMachine: ${cpus().length} cores (${cpus()[0]?.model.trim() ?? "?"}); Bun ${Bun.version}; load average before ${loadBefore.map((l) => l.toFixed(2)).join(" ")}, after ${loadAfter.map((l) => l.toFixed(2)).join(" ")}; median of ${ROUNDS} rounds; scale ${SCALE}.`);
  } finally {
    await gateway.stop();
  }
}

await main();
