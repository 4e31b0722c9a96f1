// The read a queue coordinator makes of a partition another gateway leads (gateway/queues/
// remote-read.ts), against a real gateway's read route: every record's key, headers and fields
// are located in the answer with exactly the bytes a local read of the stored batches gives
// (tensors, bytes, nulls included), next and end offsets agree, filters and long polls pass
// through, and the leader's refusals keep their code.
import { afterAll, beforeAll, expect, test } from "bun:test";
import { isStrataError } from "../../core/errors.ts";
import { makeTensor } from "../../core/log/extensions.ts";
import type { RawRecord } from "../../core/log/batch.ts";
import type { Headers, RecordInput } from "../../core/log/record.ts";
import { readRawFromLeader } from "../../gateway/queues/remote-read.ts";
import { liveGateway, type LiveGateway } from "../helpers/in-process-gateway.ts";

let live: LiveGateway;
const leader = () => ({ url: live.url, node: "leader" });
const OPTIONS = { timeoutMs: 10_000 };

function headersOf(i: number): Headers {
  return i % 2 === 0 ? { trace: `t${i}`, raw: new Uint8Array([i, 255]) } : {};
}

beforeAll(async () => {
  live = await liveGateway();
  const { streams, log } = live.gateway.services;
  await streams.create({ name: "remote/reads", partitions: 1 });
  const records: RecordInput[] = Array.from({ length: 40 }, (_, i) => ({
    key: i % 3 === 0 ? null : new TextEncoder().encode(`k${i}`),
    headers: headersOf(i),
    fields: { i, text: "x".repeat(i * 50), tensor: makeTensor("F32", [2], new Uint8Array(new Float32Array([i, -i]).buffer)), nothing: null },
  }));
  await log.publish("remote/reads", { records, producer: null });
}, 60_000);

afterAll(async () => {
  await live?.close();
});

const slices = (r: RawRecord) => ({
  offset: r.offset,
  timestamp: r.timestamp,
  key: [...r.batch.subarray(r.key[0], r.key[1])],
  headers: [...r.batch.subarray(r.headers[0], r.headers[1])],
  fields: [...r.batch.subarray(r.fields[0], r.fields[1])],
});

test("records read from the leader carry exactly the stored key, headers and fields bytes", async () => {
  const request = { stream: "remote/reads", partition: 0, offset: 3, maxRecords: 25 };
  const local = await live.gateway.services.log.readRaw(request);
  const remote = await readRawFromLeader(leader(), request, OPTIONS);
  expect(remote.records.length).toBe(25);
  expect(remote.records.map(slices)).toEqual(local.records.map(slices));
  expect({ next: remote.nextOffset, end: remote.endOffset }).toEqual({ next: local.nextOffset, end: local.endOffset });
});

test("a filter runs on the leader; the end of the log long-polls there", async () => {
  const filtered = await readRawFromLeader(leader(), { stream: "remote/reads", partition: 0, offset: 0, maxRecords: 100, filter: "fields.i % 10 == 0" }, OPTIONS);
  expect(filtered.records.map((r) => r.offset)).toEqual([0, 10, 20, 30]);
  const waiting = readRawFromLeader(leader(), { stream: "remote/reads", partition: 0, offset: 40, maxRecords: 5, waitMs: 20_000 }, OPTIONS);
  await live.gateway.services.log.publish("remote/reads", { records: [{ key: null, headers: {}, fields: { late: true } }], producer: null });
  const woken = await waiting;
  expect(woken.records.map((r) => r.offset)).toEqual([40]);
});

test("the leader's refusal keeps its code; a leader that does not answer is NOT_LEADER", async () => {
  const outside = await readRawFromLeader(leader(), { stream: "remote/reads", partition: 0, offset: 1_000 }, OPTIONS).catch((e: unknown) => e);
  expect(isStrataError(outside) && outside.code).toBe("OFFSET_OUT_OF_RANGE");
  const missing = await readRawFromLeader(leader(), { stream: "remote/none", partition: 0, offset: 0 }, OPTIONS).catch((e: unknown) => e);
  expect(isStrataError(missing) && missing.code).toBe("STREAM_NOT_FOUND");
  const gone = await readRawFromLeader({ url: "http://127.0.0.1:9", node: "gone" }, { stream: "remote/reads", partition: 0, offset: 0 }, OPTIONS).catch((e: unknown) => e);
  expect(isStrataError(gone) && gone.code).toBe("NOT_LEADER");
});
