// MessagePack sample answers built from parts (framing copied, stored fields maps of
// VIEW_MIN_BYTES or more as views of their batches) must be byte-identical to the single-buffer
// encoding they replace, for a mix of sample sizes, ranges crossing partitions, reads by index,
// empty and edge cases; over HTTP the body (streamed when large) is exactly those bytes, and JSON
// and projected answers keep their encodings.
import { afterAll, beforeAll, expect, test } from "bun:test";
import { decode } from "@msgpack/msgpack";
import { encodeBatch, encodeRecord, readBatchHeader, scanBatchRecords } from "../../core/log/batch.ts";
import { extensionCodec } from "../../core/log/extensions.ts";
import { writeMsgpackArrayHeader, writeMsgpackUint } from "../../core/log/msgpack-writer.ts";
import type { Fields } from "../../core/log/record.ts";
import { decodeSampleFields, type Sample, type SampleBatch } from "../../gateway/datasets/sample-reader.ts";
import { sampleResponseParts, samplesJson } from "../../gateway/datasets/sample-wire.ts";
import { encodeMsgpack, MSGPACK } from "../../gateway/http/negotiate.ts";
import { joinParts, VIEW_MIN_BYTES } from "../../gateway/streams/read-wire.ts";
import { liveGateway, type LiveGateway } from "../helpers/in-process-gateway.ts";

const ascii = (s: string): number[] => [0xa0 | s.length, ...Array.from(s, (c) => c.charCodeAt(0))];

/** The encoding before parts, written out independently: one buffer, every fields map (stored or re-encoded) copied in order. */
function singleBufferEncoding(batch: SampleBatch, fields?: readonly string[]): Buffer {
  const scratch = new Uint8Array(9);
  const view = new DataView(scratch.buffer);
  const bytes: number[] = [0x83, ...ascii("start")];
  const uint = (n: number) => bytes.push(...scratch.subarray(0, writeMsgpackUint(scratch, view, 0, n)));
  const arrayHeader = (n: number) => bytes.push(...scratch.subarray(0, writeMsgpackArrayHeader(scratch, view, 0, n)));
  if (batch.start === null) bytes.push(0xc0);
  else uint(batch.start);
  bytes.push(...ascii("samples"));
  arrayHeader(batch.samples.length);
  const out: Uint8Array[] = [Uint8Array.from(bytes)];
  for (const s of batch.samples) {
    out.push(fields === undefined ? s.record.batch.slice(s.record.fields[0], s.record.fields[1]) : encodeMsgpack(decodeSampleFields(s, fields)));
  }
  bytes.length = 0;
  bytes.push(...ascii("offsets"));
  arrayHeader(batch.samples.length);
  for (const s of batch.samples) {
    bytes.push(0x92);
    uint(s.partition);
    uint(s.offset);
  }
  out.push(Uint8Array.from(bytes));
  return Buffer.concat(out);
}

/** Sample i: sizes cycle through tiny, just under and at VIEW_MIN_BYTES, 100 KiB and empty. */
function fieldsOf(i: number): Fields {
  const sizes = [3, VIEW_MIN_BYTES - 30, VIEW_MIN_BYTES, 100 * 1024, 0, 70_000];
  return { i, image: new Uint8Array(sizes[i % sizes.length]!).fill(i & 0xff), label: `class-${i % 7}` };
}

/** Two partitions of stored batches (1..5 records each), every record located in them as a sample. */
function storedSamples(): Sample[] {
  const out: Sample[] = [];
  const t0 = 1_780_000_000_000;
  let i = 0;
  for (const partition of [0, 1]) {
    // Partition 1 starts at a large offset so the offsets take several MessagePack widths.
    let offset = partition === 0 ? 0 : 70_000;
    for (let b = 0; b < 6; b++) {
      const n = 1 + (b % 5);
      const encoded = Array.from({ length: n }, (_, j) => encodeRecord({ key: null, headers: {}, fields: fieldsOf(i + j), timestamp: t0 + j }, t0));
      const batch = encodeBatch(encoded, { baseOffset: offset, firstTimestamp: t0, maxTimestamp: t0 + n, producer: null });
      for (const record of scanBatchRecords(batch, readBatchHeader(batch)!)) out.push({ partition, offset: record.offset, record });
      offset += n;
      i += n;
    }
  }
  return out;
}

test("parts join to the single-buffer encoding for every range, reads by index and projections; large maps are views", () => {
  const all = storedSamples();
  const batches: SampleBatch[] = [];
  for (let from = 0; from <= all.length; from++) {
    for (const count of [0, 1, 2, 7, all.length]) batches.push({ start: from, samples: all.slice(from, from + count) });
  }
  // Reads by index: any order, duplicates, across partitions; global indexes past 65535 in `start`.
  batches.push({ start: null, samples: [all[20]!, all[3]!, all[3]!, all[0]!, all.at(-1)!] });
  batches.push({ start: null, samples: [all[9]!] });
  batches.push({ start: 4_294_967_296, samples: all.slice(0, 3) });
  let viewed = 0;
  for (const batch of batches) {
    const expected = singleBufferEncoding(batch);
    const body = sampleResponseParts(batch, undefined, encodeMsgpack);
    expect(body.length).toBe(expected.length);
    expect(Buffer.from(joinParts(body)).equals(expected)).toBe(true);
    const stored = new Set(batch.samples.map((s) => s.record.batch.buffer));
    const bigMaps = batch.samples.filter((s) => s.record.fields[1] - s.record.fields[0] >= VIEW_MIN_BYTES).length;
    const views = body.parts.filter((p) => stored.has(p.buffer as ArrayBuffer)).length;
    expect(views).toBe(bigMaps);
    viewed += views;
    for (const fields of [["label"], ["image", "missing"], []]) {
      expect(Buffer.from(joinParts(sampleResponseParts(batch, fields, encodeMsgpack))).equals(singleBufferEncoding(batch, fields))).toBe(true);
    }
  }
  expect(viewed).toBeGreaterThan(0);
});

let live: LiveGateway;
const samplesUrl = (query: string) => `${live.url}/v1/datasets/wire/versions/1/samples?${query}`;

beforeAll(async () => {
  live = await liveGateway();
  const { streams, log, datasets } = live.gateway.services;
  await streams.create({ name: "wire-s", partitions: 2 });
  let i = 0;
  for (let b = 0; b < 8; b++) {
    for (const partition of [0, 1]) {
      const records = Array.from({ length: 1 + (b % 4) }, () => ({ key: null, partition, headers: {}, fields: fieldsOf(i++) }));
      await log.publish("wire-s", { records, producer: null });
    }
  }
  await datasets.create({ name: "wire", stream: "wire-s" });
});

afterAll(async () => {
  await live.close();
});

test("HTTP sample reads send exactly the single-buffer bytes (streamed when large, with a length when small); JSON and projections unchanged", async () => {
  const { datasets } = live.gateway.services;
  const version = datasets.version("wire", 1);
  expect(version.partitions.filter((p) => p.samples > 0).length).toBe(2);
  const crossing = version.partitions[1]!.first_index - 2;
  for (const [start, count, maxBytes] of [[0, version.samples, 64 << 20], [crossing, 5, 64 << 20], [3, 10, 1], [0, 20, 200_000], [version.samples - 1, 10, 1 << 20]] as const) {
    const batch = await datasets.readRange(version, start, count, { maxBytes });
    const expected = singleBufferEncoding(batch);
    const response = await fetch(samplesUrl(`start=${start}&count=${count}&max_bytes=${maxBytes}`), { headers: { accept: MSGPACK } });
    expect(response.status).toBe(200);
    expect(response.headers.get("content-type")).toBe(MSGPACK);
    const bytes = Buffer.from(await response.arrayBuffer());
    expect(bytes.equals(expected)).toBe(true);
    if (expected.length < 256 * 1024) expect(response.headers.get("content-length")).toBe(String(expected.length));
    const json = await fetch(samplesUrl(`start=${start}&count=${count}&max_bytes=${maxBytes}`));
    expect(await json.json()).toEqual(JSON.parse(JSON.stringify(samplesJson(batch, undefined))));
  }
  // By index, across partitions, duplicates: the POST route.
  const indexes = [version.samples - 1, 0, crossing + 1, 0, 5];
  const byIndex = await datasets.readAt(version, indexes, { maxBytes: 64 << 20 });
  const response = await fetch(samplesUrl(""), { method: "POST", headers: { accept: MSGPACK, "content-type": "application/json" }, body: JSON.stringify({ indexes }) });
  expect(Buffer.from(await response.arrayBuffer()).equals(singleBufferEncoding(byIndex))).toBe(true);
  // A projection re-encodes the kept fields, as before.
  const projected = await fetch(samplesUrl(`start=0&count=12&fields=label,i`), { headers: { accept: MSGPACK } });
  const batch = await datasets.readRange(version, 0, 12, {});
  expect(Buffer.from(await projected.arrayBuffer()).equals(singleBufferEncoding(batch, ["label", "i"]))).toBe(true);
  expect((decode(singleBufferEncoding(batch), { extensionCodec }) as { samples: unknown[] }).samples.length).toBe(12);
});
