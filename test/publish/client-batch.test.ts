// The client-built batch publish path (POST /v1/streams/{name}/records with
// application/vnd.strata.batch) against a real gateway on a real socket: round trips, idempotent
// retries, partition choice, compacted streams, and every class of malformed batch refused with
// its code and no state change.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { decode, encode, ExtData } from "@msgpack/msgpack";
import { encodeBatch, setBaseOffset } from "../../core/log/batch.ts";
import { buildClientBatch, CLIENT_BATCH_MEDIA_TYPE, type ClientBatchRecord } from "../../core/log/client-batch.ts";
import { extensionCodec, makeTensor } from "../../core/log/extensions.ts";
import { crc32c } from "../../core/hashing/crc32c.ts";
import { partitionForKey } from "../../core/log/partitioner.ts";
import { getJson, liveGateway, postJson, type LiveGateway } from "../helpers/in-process-gateway.ts";

const MAX_RECORD_BYTES = 4096;
let live: LiveGateway;
let v1: string;

beforeAll(async () => {
  live = await liveGateway({ limits: { maxRecordBytes: MAX_RECORD_BYTES, maxRequestBytes: 1024 * 1024, maxBatchRecords: 100, maxHeaders: 4, maxKeyBytes: 16 } });
  v1 = `${live.url}/v1`;
  for (const [name, partitions] of [["batches", 1], ["keyed", 4], ["hostile", 2]] as const) {
    expect((await postJson(`${v1}/streams`, { name, partitions })).status).toBe(201);
  }
  expect((await postJson(`${v1}/streams`, { name: "compacted", partitions: 1, cleanup: "compact" })).status).toBe(201);
});
afterAll(() => live.close());

const utf8 = new TextEncoder();

/** `batch` with byte `at` XORed with `mask`. */
function flip(batch: Uint8Array, at: number, mask: number): Uint8Array {
  batch[at] = batch[at]! ^ mask;
  return batch;
}

async function postBatch(stream: string, batch: Uint8Array, query = ""): Promise<{ status: number; body: any }> {
  const response = await fetch(`${v1}/streams/${stream}/records${query}`, { method: "POST", headers: { "content-type": CLIENT_BATCH_MEDIA_TYPE }, body: batch.slice() });
  return { status: response.status, body: await response.json() };
}

async function endOffsets(stream: string): Promise<number[]> {
  const info = await getJson(`${v1}/streams/${stream}`);
  return info.body.partitions.map((p: { end_offset: number }) => p.end_offset);
}

/** A batch around hand-made record bytes, with a correct header and CRC (only the records are wrong). */
function batchAround(records: Uint8Array[], producer: { id: number; epoch: number; seq: number } | null = null): Uint8Array {
  return encodeBatch(records, { baseOffset: 0, firstTimestamp: 0, maxTimestamp: 0, producer });
}

/** Rewrites the CRC after a header edit, so that only the edited field is wrong. */
function recrc(batch: Uint8Array): Uint8Array {
  new DataView(batch.buffer, batch.byteOffset).setUint32(16, crc32c(batch.subarray(20)), true);
  return batch;
}

const plain = (i: number): ClientBatchRecord => ({ key: null, headers: { src: "t" }, fields: { i, s: "x".repeat(i) } });

describe("round trip", () => {
  test("records read back equal, with the gateway's timestamps", async () => {
    const tensor = makeTensor("f32", [2], new Uint8Array(new Float32Array([1.5, -2]).buffer));
    const records: ClientBatchRecord[] = [
      { key: utf8.encode("k1"), headers: { a: "1", b: new Uint8Array([7]) }, fields: { n: 1, t: tensor, img: new Uint8Array([9, 8]), nested: { list: [1, "two", null] } } },
      { key: null, headers: {}, fields: { n: 2 } },
      { key: utf8.encode("gone"), headers: {}, fields: null },
    ];
    const before = Date.now();
    const answer = await postBatch("batches", buildClientBatch(records));
    expect(answer.status).toBe(200);
    expect(answer.body.records).toEqual([0, 1, 2].map((offset) => ({ partition: 0, offset })));
    const read = await fetch(`${v1}/streams/batches/partitions/0/records?offset=0`, { headers: { accept: "application/msgpack" } });
    const page = decode(new Uint8Array(await read.arrayBuffer()), { extensionCodec }) as { records: { offset: number; timestamp: number; key: Uint8Array | null; headers: object; fields: object | null }[] };
    expect(page.records.map((r) => ({ key: r.key, headers: r.headers, fields: r.fields }))).toEqual(records.map((r) => ({ key: r.key, headers: r.headers, fields: r.fields })));
    for (const r of page.records) {
      expect(r.timestamp).toBeGreaterThanOrEqual(before);
      expect(r.timestamp).toBeLessThanOrEqual(Date.now());
    }
    // JSON bodies still publish through the same route, after the batch.
    const json = await postJson(`${v1}/streams/batches/records`, { records: [{ fields: { n: 3 } }] });
    expect(json.body.records).toEqual([{ partition: 0, offset: 3 }]);
  });

  test("an idempotent retry answers the same offsets and writes nothing; gaps and fenced epochs are refused", async () => {
    const producer = { id: 4242, epoch: 1, baseSequence: 0 };
    const batch = buildClientBatch([plain(1), plain(2)], producer);
    const first = await postBatch("batches", batch.slice());
    expect(first.status).toBe(200);
    const end = await endOffsets("batches");
    const retry = await postBatch("batches", batch.slice());
    expect(retry.status).toBe(200);
    expect(retry.body.records).toEqual(first.body.records);
    expect(await endOffsets("batches")).toEqual(end);
    const gap = await postBatch("batches", buildClientBatch([plain(3)], { ...producer, baseSequence: 5 }));
    expect(gap.status).toBe(409);
    expect(gap.body.error.code).toBe("SEQUENCE_GAP");
    const next = await postBatch("batches", buildClientBatch([plain(3)], { ...producer, epoch: 2, baseSequence: 0 }));
    expect(next.status).toBe(200);
    const fenced = await postBatch("batches", buildClientBatch([plain(4)], { ...producer, baseSequence: 1 }));
    expect(fenced.body.error.code).toBe("PRODUCER_FENCED");
    expect(await endOffsets("batches")).toEqual([end[0]! + 1]);
  });
});

describe("partition choice", () => {
  const keysOn = (partition: number, n: number): Uint8Array[] => {
    const out: Uint8Array[] = [];
    for (let i = 0; out.length < n; i++) if (partitionForKey(utf8.encode(`k${i}`), 4) === partition) out.push(utf8.encode(`k${i}`));
    return out;
  };

  test("keys that hash to one partition go there; keys that disagree need ?partition=", async () => {
    const [a, b] = keysOn(2, 2);
    const together = await postBatch("keyed", buildClientBatch([{ key: a!, headers: {}, fields: { x: 1 } }, { key: null, headers: {}, fields: { x: 2 } }, { key: b!, headers: {}, fields: { x: 3 } }]));
    expect(together.body.records.map((p: { partition: number }) => p.partition)).toEqual([2, 2, 2]);
    const mixed = buildClientBatch([{ key: keysOn(0, 1)[0]!, headers: {}, fields: {} }, { key: keysOn(1, 1)[0]!, headers: {}, fields: {} }]);
    const before = await endOffsets("keyed");
    const refused = await postBatch("keyed", mixed.slice());
    expect(refused.status).toBe(400);
    expect(refused.body.error.code).toBe("BAD_BATCH");
    expect(refused.body.error.message).toContain("?partition=");
    expect(await endOffsets("keyed")).toEqual(before);
    const named = await postBatch("keyed", mixed.slice(), "?partition=3");
    expect(named.body.records.map((p: { partition: number }) => p.partition)).toEqual([3, 3]);
    expect((await postBatch("keyed", mixed.slice(), "?partition=4")).body.error.code).toBe("PARTITION_NOT_FOUND");
    expect((await postBatch("keyed", mixed.slice(), "?partition=-1")).body.error.code).toBe("BAD_REQUEST");
    expect((await postBatch("keyed", mixed.slice(), "?acks=sometimes")).body.error.code).toBe("BAD_REQUEST");
  });

  test("a compacted stream needs keys and indexes the batch's latest records", async () => {
    const unkeyed = await postBatch("compacted", buildClientBatch([plain(1)]));
    expect(unkeyed.body.error.code).toBe("KEY_REQUIRED");
    expect(await endOffsets("compacted")).toEqual([0]);
    const ok = await postBatch("compacted", buildClientBatch([{ key: utf8.encode("dev"), headers: {}, fields: { v: 1 } }, { key: utf8.encode("dev"), headers: {}, fields: { v: 2 } }]));
    expect(ok.status).toBe(200);
    const latest = await getJson(`${v1}/streams/compacted/latest`);
    expect(latest.status).toBe(200);
    expect(JSON.stringify(latest.body)).toContain('"v":2');
    expect(JSON.stringify(latest.body)).not.toContain('"v":1');
  });
});

describe("hostile batches are refused with their code and change nothing", () => {
  const good = (): Uint8Array => buildClientBatch([plain(1), plain(2), plain(3)]);
  const record = (value: unknown): Uint8Array => encode(value, { extensionCodec });
  const cases: [string, () => Uint8Array, number, string][] = [
    ["empty body", () => new Uint8Array(0), 400, "BAD_REQUEST"],
    ["shorter than a header", () => good().subarray(0, 40), 400, "BAD_BATCH"],
    ["bad magic", () => flip(good(), 0, 1), 400, "BAD_BATCH"],
    ["flipped CRC", () => flip(good(), 16, 0x40), 400, "BAD_BATCH"],
    ["flipped record byte", () => { const b = good(); return flip(b, b.length - 1, 0x01); }, 400, "BAD_BATCH"],
    ["truncated", () => good().slice(0, -3), 400, "BAD_BATCH"],
    ["length claims more than the body", () => { const b = good(); new DataView(b.buffer).setUint32(4, b.length + 8, true); return b; }, 400, "BAD_BATCH"],
    ["length claims less than the body", () => { const b = good(); new DataView(b.buffer).setUint32(4, b.length - 8, true); return b; }, 400, "BAD_BATCH"],
    ["unknown version", () => { const b = good(); b[20] = 2; return recrc(b); }, 400, "BAD_BATCH"],
    ["unknown attribute", () => { const b = good(); b[21] = 4; return recrc(b); }, 400, "BAD_BATCH"],
    ["reserved bytes set", () => { const b = good(); b[29] = 1; return recrc(b); }, 400, "BAD_BATCH"],
    ["producer fields without the producer attribute", () => { const b = good(); b[50] = 1; return recrc(b); }, 400, "BAD_BATCH"],
    ["record count claims more", () => { const b = good(); new DataView(b.buffer).setUint32(24, 4, true); return recrc(b); }, 400, "BAD_BATCH"],
    ["record count claims fewer", () => { const b = good(); new DataView(b.buffer).setUint32(24, 2, true); return recrc(b); }, 400, "BAD_BATCH"],
    ["record count of zero", () => { const b = good(); new DataView(b.buffer).setUint32(24, 0, true); return recrc(b); }, 400, "BAD_BATCH"],
    ["record count over the limit", () => { const b = good(); new DataView(b.buffer).setUint32(24, 0xffff_ffff, true); return recrc(b); }, 413, "BATCH_TOO_LARGE"],
    ["more records than maxBatchRecords", () => buildClientBatch(Array.from({ length: 101 }, () => plain(0))), 413, "BATCH_TOO_LARGE"],
    ["oversize record", () => buildClientBatch([plain(1), { key: null, headers: {}, fields: { big: "y".repeat(MAX_RECORD_BYTES) } }]), 413, "RECORD_TOO_LARGE"],
    ["oversize key", () => buildClientBatch([{ key: new Uint8Array(17), headers: {}, fields: {} }]), 413, "RECORD_TOO_LARGE"],
    ["too many headers", () => buildClientBatch([{ key: null, headers: { a: "1", b: "2", c: "3", d: "4", e: "5" }, fields: {} }]), 400, "BAD_BATCH"],
    ["a non-zero timestamp delta", () => batchAround([record([5, null, {}, { a: 1 }])]), 400, "BAD_BATCH"],
    ["a record that is not an array of 4", () => batchAround([record([0, null, {}])]), 400, "BAD_BATCH"],
    ["a string key", () => batchAround([record([0, "k", {}, {}])]), 400, "BAD_BATCH"],
    ["a header that is a number", () => batchAround([record([0, null, { h: 1 }, {}])]), 400, "BAD_BATCH"],
    ["fields that are not a map", () => batchAround([record([0, null, {}, [1, 2]])]), 400, "BAD_BATCH"],
    ["a bad tensor extension", () => batchAround([record([0, null, {}, { t: new ExtData(1, new Uint8Array([1, 2, 3])) }])]), 400, "BAD_BATCH"],
    ["an unknown extension", () => batchAround([record([0, null, {}, { t: new ExtData(9, new Uint8Array([1])) }])]), 400, "BAD_BATCH"],
    ["a timestamp extension", () => batchAround([record([0, null, {}, { t: new ExtData(-1, new Uint8Array(4)) }])]), 400, "BAD_BATCH"],
    ["a NaN field", () => batchAround([record([0, null, {}, { x: Number.NaN }])]), 400, "BAD_BATCH"],
    ["an invalid MessagePack type byte", () => batchAround([new Uint8Array([0x94, 0x00, 0xc0, 0x80, 0xc1])]), 400, "BAD_BATCH"],
    ["a container claiming 2^32 elements", () => batchAround([new Uint8Array([0x94, 0x00, 0xc0, 0x80, 0xdf, 0xff, 0xff, 0xff, 0xff])]), 400, "BAD_BATCH"],
    ["bytes after the last record", () => batchAround([record([0, null, {}, {}]), new Uint8Array([0xc0])]), 400, "BAD_BATCH"],
  ];

  for (const [name, make, status, code] of cases) {
    test(name, async () => {
      const before = await endOffsets("hostile");
      const answer = await postBatch("hostile", make());
      expect(answer.status).toBe(status);
      expect(answer.body.error.code).toBe(code);
      expect(await endOffsets("hostile")).toEqual(before);
    });
  }

  test("a batch with a base offset already set is accepted (the log sets its own)", async () => {
    const b = good();
    setBaseOffset(b, 12345);
    const answer = await postBatch("hostile", b, "?partition=1");
    expect(answer.status).toBe(200);
    expect(answer.body.records[0]).toEqual({ partition: 1, offset: 0 });
  });

  test("a gateway stays up and keeps serving after all of them", async () => {
    const answer = await postBatch("hostile", good(), "?partition=0");
    expect(answer.status).toBe(200);
    const read = await getJson(`${v1}/streams/hostile/partitions/0/records?offset=0`);
    expect(read.body.records.map((r: { fields: { i: number } }) => r.fields.i)).toEqual([1, 2, 3]);
  });
});
