// The binding HTTP surface, against a real gateway on a real socket.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { decode, encode } from "@msgpack/msgpack";
import { extensionCodec, makeTensor } from "../../core/log/extensions.ts";
import { createClient, streamParam } from "../../gateway/client.ts";
import { getJson, liveGateway, postJson, type LiveGateway } from "../helpers/in-process-gateway.ts";

let live: LiveGateway;
let v1: string;

beforeAll(async () => {
  live = await liveGateway({ limits: { maxRecordBytes: 64 * 1024, maxRequestBytes: 1024 * 1024, maxBatchRecords: 100 } });
  v1 = `${live.url}/v1`;
});
afterAll(() => live.close());

describe("streams", () => {
  test("create, list, describe; a second create is STREAM_EXISTS", async () => {
    const created = await postJson(`${v1}/streams`, { name: "models/detector", partitions: 3, retention: { ms: 3_600_000 } });
    expect(created.status).toBe(201);
    expect(created.body.name).toBe("models/detector");
    expect(created.body.partitions).toEqual([0, 1, 2].map((partition) => ({ partition, start_offset: 0, end_offset: 0, bytes: 0 })));
    expect(created.body.retention).toEqual({ ms: 3_600_000, bytes: null });
    const again = await postJson(`${v1}/streams`, { name: "models/detector" });
    expect(again.status).toBe(409);
    expect(again.body.error.code).toBe("STREAM_EXISTS");
    const one = await getJson(`${v1}/streams/models%2Fdetector`);
    expect(one.status).toBe(200);
    expect(one.body.partitions).toHaveLength(3);
    const list = await getJson(`${v1}/streams`);
    expect(list.body.streams.map((s: { name: string }) => s.name)).toContain("models/detector");
  });
});

describe("publish and read", () => {
  beforeAll(async () => {
    await postJson(`${v1}/streams`, { name: "events", partitions: 2 });
  });

  test("JSON records come back in order with binary values as $base64", async () => {
    const published = await postJson(`${v1}/streams/events/records`, {
      records: [
        { partition: 0, fields: { n: 1, blob: { $base64: "AAEC" } }, headers: { src: "t" } },
        { partition: 0, key: "k", fields: { n: 2 } },
      ],
    });
    expect(published.status).toBe(200);
    expect(published.body.records).toEqual([{ partition: 0, offset: 0 }, { partition: 0, offset: 1 }]);
    const read = await getJson(`${v1}/streams/events/partitions/0/records?offset=0`);
    expect(read.status).toBe(200);
    expect(read.body.next_offset).toBe(2);
    expect(read.body.end_offset).toBe(2);
    expect(read.body.records[0]).toMatchObject({ offset: 0, key: null, headers: { src: "t" }, fields: { n: 1, blob: { $base64: "AAEC" } } });
    expect(read.body.records[1]).toMatchObject({ offset: 1, key: { $base64: btoa("k") }, fields: { n: 2 } });
    expect(typeof read.body.records[0].timestamp).toBe("number");
  });

  test("MessagePack in and out keeps bytes and tensors native; fields project", async () => {
    const tensor = makeTensor("f32", [2], new Uint8Array(new Float32Array([1.5, -2]).buffer));
    const body = encode({ records: [{ partition: 1, key: new Uint8Array([1, 2]), fields: { t: tensor, img: new Uint8Array([9, 8, 7]), label: "x" } }] }, { extensionCodec });
    const response = await fetch(`${v1}/streams/events/records`, { method: "POST", headers: { "content-type": "application/msgpack", accept: "application/msgpack" }, body });
    expect(response.status).toBe(200);
    expect(response.headers.get("content-type")).toContain("application/msgpack");
    const { records } = decode(new Uint8Array(await response.arrayBuffer())) as { records: { partition: number; offset: number }[] };
    const offset = records[0]!.offset;
    const read = await fetch(`${v1}/streams/events/partitions/1/records?offset=${offset}&fields=t,img`, { headers: { accept: "application/msgpack" } });
    const page = decode(new Uint8Array(await read.arrayBuffer()), { extensionCodec }) as { records: { key: Uint8Array; fields: Record<string, unknown> }[] };
    expect(page.records[0]!.key).toEqual(new Uint8Array([1, 2]));
    expect(Object.keys(page.records[0]!.fields).sort()).toEqual(["img", "t"]);
    expect(page.records[0]!.fields.img).toEqual(new Uint8Array([9, 8, 7]));
    expect(page.records[0]!.fields.t).toEqual(tensor);
  });

  test("keyed records always land on the same partition", async () => {
    const records = Array.from({ length: 20 }, (_, i) => ({ key: `device-${i % 4}`, fields: { i } }));
    const a = await postJson(`${v1}/streams/events/records`, { records });
    const b = await postJson(`${v1}/streams/events/records`, { records });
    expect(a.body.records.map((r: { partition: number }) => r.partition)).toEqual(b.body.records.map((r: { partition: number }) => r.partition));
  });

  test("wait_ms long-polls until a record arrives", async () => {
    await postJson(`${v1}/streams`, { name: "poll" });
    const started = Date.now();
    const pending = getJson(`${v1}/streams/poll/partitions/0/records?offset=0&wait_ms=5000`);
    await Bun.sleep(100);
    await postJson(`${v1}/streams/poll/records`, { records: [{ fields: { hello: "world" } }] });
    const page = await pending;
    expect(page.body.records).toHaveLength(1);
    expect(Date.now() - started).toBeLessThan(4000);
    const empty = await getJson(`${v1}/streams/poll/partitions/0/records?offset=1&wait_ms=50`);
    expect(empty.body).toEqual({ records: [], next_offset: 1, end_offset: 1 });
  });

  test("max_records and max_bytes bound a page, with at least one record", async () => {
    await postJson(`${v1}/streams`, { name: "pages" });
    await postJson(`${v1}/streams/pages/records`, { records: Array.from({ length: 50 }, (_, i) => ({ fields: { i, pad: "x".repeat(1000) } })) });
    const few = await getJson(`${v1}/streams/pages/partitions/0/records?offset=10&max_records=5`);
    expect(few.body.records.map((r: { offset: number }) => r.offset)).toEqual([10, 11, 12, 13, 14]);
    expect(few.body.next_offset).toBe(15);
    const tiny = await getJson(`${v1}/streams/pages/partitions/0/records?offset=0&max_bytes=1`);
    expect(tiny.body.records.length).toBeGreaterThanOrEqual(1);
  });

  test("idempotent producer: a retry returns the original offsets, a gap is rejected, an old epoch fenced", async () => {
    await postJson(`${v1}/streams`, { name: "idem", partitions: 3 });
    const send = (seq: number, epoch = 0) =>
      postJson(`${v1}/streams/idem/records`, { producer: { id: 77, epoch, seq }, records: [{ fields: { seq } }, { key: "a", fields: { seq } }, { key: "b", fields: { seq } }] });
    const first = await send(0);
    expect(first.status).toBe(200);
    const retry = await send(0);
    expect(retry.body.records).toEqual(first.body.records);
    expect((await send(1)).status).toBe(200);
    const gap = await send(3);
    expect(gap.status).toBe(409);
    expect(gap.body.error.code).toBe("SEQUENCE_GAP");
    expect((await send(0, 1)).status).toBe(200);
    const fenced = await send(2, 0);
    expect(fenced.body.error.code).toBe("PRODUCER_FENCED");
    const stream = await getJson(`${v1}/streams/idem`);
    const total = stream.body.partitions.reduce((n: number, p: { end_offset: number }) => n + p.end_offset, 0);
    expect(total).toBe(9); // seq 0, seq 1, epoch 1 seq 0: three requests of three records
  });

  test("committed group offsets", async () => {
    // An offset may be committed up to the partition's end (past it is 416): give partition 1 some records.
    const records = Array.from({ length: 8 }, (_, i) => ({ partition: 1, fields: { i } }));
    expect((await postJson(`${v1}/streams/events/records`, { records })).status).toBe(200);
    const committed = await postJson(`${v1}/groups/trainer-1/offsets`, { stream: "events", partition: 1, offset: 5 });
    expect(committed.status).toBe(200);
    await postJson(`${v1}/groups/trainer-1/offsets`, { stream: "events", partition: 1, offset: 7 });
    const got = await getJson(`${v1}/groups/trainer-1/offsets?stream=events`);
    expect(got.body.offsets).toEqual([{ stream: "events", partition: 1, offset: 7, updated_at: expect.any(Number) }]);
  });

  test("the typed client works end to end", async () => {
    const client = createClient(live.url);
    const created = await client.v1.streams.$post({ json: { name: "typed/client" } });
    expect(created.status).toBe(201);
    const published = await client.v1.streams[":name"].records.$post({ param: { name: streamParam("typed/client") }, query: {}, json: { records: [{ fields: { ok: true } }] } });
    expect(await published.json()).toEqual({ records: [{ partition: 0, offset: 0 }] });
    const read = await client.v1.streams[":name"].partitions[":partition"].records.$get({ param: { name: streamParam("typed/client"), partition: "0" }, query: { offset: "0" } });
    const page = await read.json();
    expect(page.records[0]!.fields).toEqual({ ok: true });
  });

  test("healthz and metrics", async () => {
    expect((await getJson(`${live.url}/healthz`)).body).toEqual({ status: "ok" });
    const text = await (await fetch(`${live.url}/metrics`)).text();
    expect(text).toContain('strata_records_in_total{stream="events"}');
    expect(text).toContain("strata_wal_fsync_seconds_count");
    expect(text).toContain("strata_object_store_operations_total");
  });
});

describe("bad input gets a 4xx with a code and writes nothing", () => {
  beforeAll(async () => {
    await postJson(`${v1}/streams`, { name: "guarded", partitions: 2 });
  });

  async function endOffsets(): Promise<number[]> {
    return (await getJson(`${v1}/streams/guarded`)).body.partitions.map((p: { end_offset: number }) => p.end_offset);
  }

  const cases: [string, () => Promise<Response>, number, string][] = [
    ["malformed JSON", () => fetch(`${v1}/streams/guarded/records`, { method: "POST", headers: { "content-type": "application/json" }, body: '{"records": [' }), 400, "BAD_REQUEST"],
    ["malformed MessagePack", () => fetch(`${v1}/streams/guarded/records`, { method: "POST", headers: { "content-type": "application/msgpack" }, body: new Uint8Array([0xc1, 0xff, 0x00]) }), 400, "BAD_REQUEST"],
    ["truncated MessagePack", () => fetch(`${v1}/streams/guarded/records`, { method: "POST", headers: { "content-type": "application/msgpack" }, body: encode({ records: [{ fields: { a: "x".repeat(100) } }] }).subarray(0, 40) }), 400, "BAD_REQUEST"],
    ["empty body", () => fetch(`${v1}/streams/guarded/records`, { method: "POST", headers: { "content-type": "application/json" } }), 400, "BAD_REQUEST"],
    ["invalid UTF-8 JSON", () => fetch(`${v1}/streams/guarded/records`, { method: "POST", headers: { "content-type": "application/json" }, body: new Uint8Array([0x7b, 0xff, 0x7d]) }), 400, "BAD_REQUEST"],
    ["records not an array", () => postRaw({ records: {} }), 400, "BAD_REQUEST"],
    ["oversized record", () => postRaw({ records: [{ fields: { a: "x".repeat(70 * 1024) } }] }), 413, "RECORD_TOO_LARGE"],
    ["too many records", () => postRaw({ records: Array.from({ length: 101 }, () => ({ fields: {} })) }), 413, "BATCH_TOO_LARGE"],
    ["body over the request limit", () => postRaw({ records: [{ fields: { a: "x".repeat(2 * 1024 * 1024) } }] }), 413, "PAYLOAD_TOO_LARGE"],
    ["one bad record among good ones", () => postRaw({ records: [{ fields: { ok: 1 } }, { fields: "nope" }] }), 400, "BAD_REQUEST"],
    ["one oversized record among good ones", () => postRaw({ records: [{ partition: 0, fields: { ok: 1 } }, { partition: 1, fields: { a: "x".repeat(70 * 1024) } }] }), 413, "RECORD_TOO_LARGE"],
    ["partition out of range", () => postRaw({ records: [{ partition: 2, fields: {} }] }), 404, "PARTITION_NOT_FOUND"],
    ["bad acks", () => fetch(`${v1}/streams/guarded/records?acks=maybe`, { method: "POST", headers: { "content-type": "application/json" }, body: '{"records":[{"fields":{}}]}' }), 400, "BAD_REQUEST"],
    ["producer seq not a number", () => postRaw({ records: [{ fields: {} }], producer: { id: 1, epoch: 0, seq: "0" } }), 400, "BAD_REQUEST"],
    ["unknown tagged value", () => postRaw({ records: [{ fields: { a: { $evil: 1 } } }] }), 400, "BAD_REQUEST"],
  ];

  function postRaw(body: unknown): Promise<Response> {
    return fetch(`${v1}/streams/guarded/records`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body) });
  }

  for (const [name, send, status, code] of cases) {
    test(name, async () => {
      const before = await endOffsets();
      const response = await send();
      expect(response.status).toBe(status);
      expect(((await response.json()) as { error: { code: string } }).error.code).toBe(code);
      expect(await endOffsets()).toEqual(before);
    });
  }

  test("stream names that are paths or malformed", async () => {
    for (const name of ["../x", "a//b", "/etc", "UPPER", "a b", "x".repeat(201), "", ".."]) {
      const response = await postJson(`${v1}/streams`, { name });
      expect(response.status).toBe(400);
      expect(response.body.error.code).toBe("INVALID_STREAM_NAME");
    }
    const list = await getJson(`${v1}/streams`);
    expect(list.body.streams.map((s: { name: string }) => s.name).some((n: string) => n.includes(".."))).toBe(false);
  });

  test("bad stream creation bodies", async () => {
    for (const body of [{ name: "p0", partitions: 0 }, { name: "p1", partitions: 1.5 }, { name: "p2", partitions: 5000 }, { name: "p3", retention: { ms: -1 } }, { name: "p4", retention: "forever" }, []]) {
      const response = await postJson(`${v1}/streams`, body);
      expect(response.status).toBe(400);
      expect(response.body.error.code).toBe("BAD_REQUEST");
    }
  });

  test("unknown streams and partitions", async () => {
    expect((await getJson(`${v1}/streams/nope`)).body.error.code).toBe("STREAM_NOT_FOUND");
    expect((await postJson(`${v1}/streams/nope/records`, { records: [{ fields: {} }] })).body.error.code).toBe("STREAM_NOT_FOUND");
    expect((await getJson(`${v1}/streams/nope/partitions/0/records`)).status).toBe(404);
    expect((await getJson(`${v1}/streams/guarded/partitions/9/records`)).body.error.code).toBe("PARTITION_NOT_FOUND");
    expect((await getJson(`${v1}/streams/guarded/partitions/x/records`)).status).toBe(400);
    expect((await getJson(`${v1}/nothing-here`)).body.error.code).toBe("NOT_FOUND");
  });

  test("negative, huge and malformed offsets", async () => {
    const at = (q: string) => getJson(`${v1}/streams/guarded/partitions/0/records?${q}`);
    expect((await at("offset=-1")).body.error.code).toBe("INVALID_OFFSET");
    expect((await at("offset=99999999999")).body.error.code).toBe("OFFSET_OUT_OF_RANGE");
    expect((await at("offset=1e3")).body.error.code).toBe("BAD_REQUEST");
    expect((await at("offset=99999999999999999999")).body.error.code).toBe("BAD_REQUEST");
    expect((await at("offset=0&max_records=0")).body.error.code).toBe("BAD_REQUEST");
    expect((await at("offset=0&wait_ms=-5")).body.error.code).toBe("BAD_REQUEST");
  });

  test("bad group commits", async () => {
    expect((await postJson(`${v1}/groups/g/offsets`, { stream: "nope", partition: 0, offset: 1 })).body.error.code).toBe("STREAM_NOT_FOUND");
    expect((await postJson(`${v1}/groups/g/offsets`, { stream: "guarded", partition: 0, offset: -1 })).body.error.code).toBe("INVALID_OFFSET");
    expect((await postJson(`${v1}/groups/g/offsets`, { stream: "guarded", partition: 5, offset: 1 })).body.error.code).toBe("PARTITION_NOT_FOUND");
    expect((await postJson(`${v1}/groups/bad%20group/offsets`, { stream: "guarded", partition: 0, offset: 1 })).status).toBe(400);
  });
});
