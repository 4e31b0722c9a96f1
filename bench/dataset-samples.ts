// Dataset sample reads bench (issue 11, scope 4): one Bun reader of a dataset of 100 KiB samples
// with span reads (`GET …/samples?start&count`, about 8 MiB each) against the raw stream read of
// the same records (`GET …/records`, same max_bytes) and iperf3 loopback, side by side in one run.
//   bun bench/dataset-samples.ts
//   SAMPLES_BENCH_MIB=256 bun bench/dataset-samples.ts       (a smaller dataset for a quick look)
//   SAMPLES_BENCH_BASELINE=DIR bun bench/dataset-samples.ts  (also a gateway from another checkout,
//                                                            e.g. the commit before a change)
// Each checkout's `strata serve` gets 16 MiB segments, so the dataset is sealed into the segment
// cache: the records are published, the dataset version created, then a segment's worth of
// filler records is published so the pinned tail is sealed too, and the bench waits for the
// uploads. Each reader is fetch (keep-alive), then read-path.ts's keep-alive socket reader (whose
// body handling is one copy: fetch's body assembly caps one reader near 1 GB/s here); every answer
// is decoded with @msgpack/msgpack and each sample's size checked. Medians of 3 rounds (order alternating), GB/s of sample payload
// (10^9 bytes), ratios to the raw read of the same gateway and to iperf3, runtime and load.
import { cpus, loadavg } from "node:os";
import { fileURLToPath } from "node:url";
import { Decoder } from "@msgpack/msgpack";
import { createStream, publish } from "./log/strata.ts";
import { ensureIperf, iperfGBps, iperfVersion, RawHttpReader, startGateway, uploadsSettled } from "./read-path.ts";

const KiB = 1024;
const MiB = 1024 * KiB;
const SAMPLE_BYTES = 100 * KiB;
const SAMPLES = Math.floor((Number(process.env.SAMPLES_BENCH_MIB ?? 1024) * MiB) / SAMPLE_BYTES);
const SPAN_BYTES = 8 * MiB;
const SPAN_SAMPLES = Math.floor(SPAN_BYTES / SAMPLE_BYTES);
const SEGMENT_BYTES = 16 * MiB;
const ROUNDS = 3;
const ROOT = fileURLToPath(new URL("..", import.meta.url));
const STREAM = "samples-bench";
const DATASET = "samples-bench";
const decoder = new Decoder({ maxBinLength: 1 << 30, maxArrayLength: 1_000_000 });

type Gateway = Awaited<ReturnType<typeof startGateway>>;

async function prepare(g: Gateway): Promise<void> {
  await createStream(g.url, STREAM);
  const payload = new Uint8Array(SAMPLE_BYTES);
  for (let i = 0; i < payload.length; i += 4096) payload[i] = (i >>> 12) & 0xff;
  await publish(g.url, STREAM, { total: SAMPLES, batch: 16, concurrency: 2, payload });
  const created = await fetch(`${g.url}/v1/datasets`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ name: DATASET, stream: STREAM }) });
  if (created.status !== 201) throw new Error(`create dataset: HTTP ${created.status} ${await created.text()}`);
  // Filler past the version's end seals the segment holding its tail.
  await publish(g.url, STREAM, { total: Math.ceil(SEGMENT_BYTES / SAMPLE_BYTES) + 16, batch: 16, concurrency: 2, payload });
  await uploadsSettled(g.url);
}

type Form = "samples" | "records";
type Client = "fetch" | "socket";

/** One request's path: a span of samples, or the raw stream read of the same records. */
function pathOf(form: Form, next: number): string {
  const count = Math.min(SPAN_SAMPLES, SAMPLES - next);
  return form === "samples"
    ? `/v1/datasets/${DATASET}/versions/1/samples?start=${next}&count=${count}&max_bytes=${SPAN_BYTES}`
    : `/v1/streams/${STREAM}/partitions/0/records?offset=${next}&max_records=${count}&max_bytes=${SPAN_BYTES}`;
}

/**
 * Reads every sample (or record) with fetch (keep-alive) or read-path.ts's keep-alive socket
 * reader (one copy out of the socket), decoding each answer; returns GB/s of payload.
 */
async function readAll(g: Gateway, form: Form, client: Client): Promise<number> {
  const socket = client === "socket" ? await RawHttpReader.open(g.url) : undefined;
  const get = async (path: string): Promise<{ status: number; body: Uint8Array }> => {
    if (socket) return socket.get(path);
    const response = await fetch(g.url + path, { headers: { accept: "application/msgpack" } });
    return { status: response.status, body: new Uint8Array(await response.arrayBuffer()) };
  };
  let next = 0;
  let payloadBytes = 0;
  const t0 = performance.now();
  try {
    while (next < SAMPLES) {
      const { status, body } = await get(pathOf(form, next));
      if (status !== 200) throw new Error(`${form}: HTTP ${status} ${new TextDecoder().decode(body)}`);
      const answer = decoder.decode(body) as { samples?: { data: Uint8Array }[]; records?: { fields: { data: Uint8Array } }[] };
      const datas = form === "samples" ? answer.samples!.map((s) => s.data) : answer.records!.map((r) => r.fields.data);
      if (datas.length === 0) throw new Error(`${form}: empty answer at ${next}`);
      for (const d of datas) {
        if (d.length !== SAMPLE_BYTES) throw new Error(`${form}: sample of ${d.length} bytes`);
        payloadBytes += d.length;
      }
      next += datas.length;
    }
  } finally {
    socket?.close();
  }
  return payloadBytes / ((performance.now() - t0) / 1000) / 1e9;
}

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const fmt = (x: number): string => x.toFixed(2);

async function main(): Promise<void> {
  ensureIperf();
  const loadBefore = loadavg();
  const checkouts: Array<[string, string]> = [["this checkout", ROOT]];
  if (process.env.SAMPLES_BENCH_BASELINE) checkouts.push(["baseline", process.env.SAMPLES_BENCH_BASELINE]);
  const gateways: Gateway[] = [];
  try {
    for (const [label, root] of checkouts) gateways.push(await startGateway(label, root, { segmentBytes: SEGMENT_BYTES }));
    for (const g of gateways) await prepare(g);
    const runs = new Map<string, number[]>();
    const add = (name: string, v: number): void => void runs.set(name, [...(runs.get(name) ?? []), v]);
    for (let round = 0; round < ROUNDS; round++) {
      const order = round % 2 === 0 ? gateways : [...gateways].reverse();
      for (const client of ["fetch", "socket"] as const) {
        for (const g of order) {
          add(`${client}: span reads, samples (${g.label})`, await readAll(g, "samples", client));
          add(`${client}: raw stream read, records (${g.label})`, await readAll(g, "records", client));
        }
      }
      add("iperf3 loopback (1 stream)", await iperfGBps(SAMPLES * SAMPLE_BYTES));
    }
    const iperf = median(runs.get("iperf3 loopback (1 stream)")!);
    const loadAfter = loadavg();
    console.log(`\n### Dataset sample reads: one Bun reader (fetch, or a keep-alive socket reader) of ${SAMPLES} samples of 100 KiB, ${SPAN_SAMPLES}-sample spans (max_bytes ${SPAN_BYTES / MiB} MiB), from the segment cache; medians of ${ROUNDS} rounds\n`);
    console.log("| reader | GB/s | vs raw read (same gateway) | vs iperf3 | rounds |");
    console.log("|---|---:|---:|---:|---|");
    for (const [name, xs] of runs) {
      const m = median(xs);
      const peer = name.replace("span reads, samples", "raw stream read, records");
      const raw = peer.includes("raw stream read") ? median(runs.get(peer)!) : undefined;
      console.log(`| ${name} | ${fmt(m)} | ${raw ? `${fmt(m / raw)}x` : "–"} | ${fmt(m / iperf)}x | ${xs.map(fmt).join(", ")} |`);
    }
    console.log(
      `\nMachine: ${cpus().length} cores, ${cpus()[0]?.model ?? "unknown CPU"}; runtime Bun ${Bun.version}; ${iperfVersion()}; ` +
        `load average ${loadBefore.map(fmt).join(" ")} before, ${loadAfter.map(fmt).join(" ")} after.`,
    );
  } finally {
    for (const g of gateways) await g.stop();
  }
}

await main();
