// Route input goes through the routes' zod schemas: the typed client's types are those schemas'
// (a wrong shape does not compile, and sent anyway it is a 400), and hostile MessagePack is
// refused by the decoder caps before anything is allocated or written.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { decode, encode, ExtData } from "@msgpack/msgpack";
import { isStrataError } from "../../core/errors.ts";
import { extensionCodec, makeArtefactRef, makeTensor } from "../../core/log/extensions.ts";
import { toJsonValue } from "../../core/log/json-value.ts";
import { decodeFramePayload, encodeFramePayload } from "../../core/quic/frames.ts";
import { parseMessage } from "../../core/quic/messages.ts";
import { createClient, streamParam } from "../../gateway/client.ts";
import { getJson, liveGateway, postJson, type LiveGateway } from "../helpers/in-process-gateway.ts";

let live: LiveGateway;
let v1: string;

beforeAll(async () => {
  live = await liveGateway();
  v1 = `${live.url}/v1`;
  await postJson(`${v1}/streams`, { name: "checked", partitions: 1 });
});
afterAll(() => live.close());

/** The status as a plain number: the typed client declares only the routes' success statuses. */
function statusOf(response: { readonly status: number }): number {
  return response.status;
}

async function errorOf(response: Response): Promise<[number, string]> {
  return [response.status, ((await response.json()) as { error: { code: string } }).error.code];
}

function postMsgpack(path: string, body: Uint8Array): Promise<Response> {
  return fetch(`${v1}${path}`, { method: "POST", headers: { "content-type": "application/msgpack" }, body: body as Uint8Array<ArrayBuffer> });
}

async function endOffset(): Promise<number> {
  return (await getJson(`${v1}/streams/checked`)).body.partitions[0].end_offset;
}

/** `depth` arrays, each holding the next. */
function nested(depth: number): unknown {
  let value: unknown = 1;
  for (let i = 0; i < depth; i++) value = [value];
  return value;
}

describe("hostile MessagePack", () => {
  test("nested array headers claiming millions of elements are a 400, and the gateway keeps serving", async () => {
    const bomb = new Uint8Array(500 * 5);
    for (let i = 0; i < 500; i++) bomb.set([0xdd, 0x00, 0x0f, 0x42, 0x40], i * 5);
    expect(await errorOf(await postMsgpack("/streams/checked/records", bomb))).toEqual([400, "BAD_REQUEST"]);
    expect(await errorOf(await postMsgpack("/chunks/missing", bomb))).toEqual([400, "BAD_REQUEST"]);
    expect((await getJson(`${live.url}/healthz`)).body).toEqual({ status: "ok" });
  });

  test("field values nested past the depth readers can represent are refused; 30 levels go through and read back as JSON", async () => {
    const before = await endOffset();
    const deep = await postMsgpack("/streams/checked/records", encode({ records: [{ fields: { v: nested(40) } }] }));
    expect(await errorOf(deep)).toEqual([400, "BAD_REQUEST"]);
    expect(await endOffset()).toBe(before);
    const fine = await postMsgpack("/streams/checked/records", encode({ records: [{ fields: { v: nested(30) } }] }));
    expect(fine.status).toBe(200);
    const page = await getJson(`${v1}/streams/checked/partitions/0/records?offset=${before}`);
    expect(page.status).toBe(200);
    expect(page.body.records[0].fields.v).toEqual(nested(30));
  });
});

describe("bodies, queries and parameters through the schemas", () => {
  test("PUT /chunks takes MessagePack only", async () => {
    const response = await fetch(`${v1}/chunks`, { method: "PUT", headers: { "content-type": "application/json" }, body: '{"chunks": []}' });
    expect(await errorOf(response)).toEqual([415, "UNSUPPORTED_MEDIA_TYPE"]);
  });

  test("hash lists: hex in JSON, 32-byte bin in MessagePack, anything else a 400 naming the item", async () => {
    const badHex = await fetch(`${v1}/chunks/missing`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ hashes: ["a".repeat(64), "xyz"] }) });
    const [status, code] = await errorOf(badHex.clone());
    expect([status, code]).toEqual([400, "BAD_REQUEST"]);
    expect(((await badHex.json()) as { error: { message: string } }).error.message).toContain("hashes[1]");
    const shortBin = await postMsgpack("/chunks/missing", encode({ hashes: [new Uint8Array(31)] }));
    expect(await errorOf(shortBin)).toEqual([400, "BAD_REQUEST"]);
    const ok = await postMsgpack("/chunks/missing", encode({ hashes: [new Uint8Array(32)] }));
    expect(ok.status).toBe(200);
  });

  test("the typed client's input types are the schemas' types", async () => {
    const client = createClient(live.url);
    // Each call below is wrong for the compiler (the lines would not typecheck without the
    // directive) and wrong for the gateway (a 400): the types are checked, not asserted.
    // @ts-expect-error name must be a string
    const created = await client.v1.streams.$post({ json: { name: 5 } });
    expect(statusOf(created)).toBe(400);
    const published = await client.v1.streams[":name"].records.$post({
      param: { name: streamParam("checked") },
      // @ts-expect-error acks is local or durable
      query: { acks: "maybe" },
      json: { records: [{ fields: {} }] },
    });
    expect(statusOf(published)).toBe(400);
    const noFields = await client.v1.streams[":name"].records.$post({
      param: { name: streamParam("checked") },
      query: {},
      // @ts-expect-error every record has fields
      json: { records: [{ key: "k" }] },
    });
    expect(statusOf(noFields)).toBe(400);
    // @ts-expect-error an offset is a number
    const commit = await client.v1.groups[":group"].offsets.$post({ param: { group: "g" }, json: { stream: "checked", offset: "3" } });
    expect(statusOf(commit)).toBe(400);
    const keyed = await client.v1.streams[":name"].records.$post({
      param: { name: streamParam("checked") },
      query: { acks: "durable" },
      json: { records: [{ key: { $base64: "AAEC" }, headers: { h: "v" }, fields: { ok: true } }], producer: { id: 9, epoch: 0, seq: 0 } },
    });
    expect(keyed.status).toBe(200);
    const { records } = await keyed.json();
    expect(records[0]!.partition).toBe(0);
  });

  test("query and path parameters name the bad one", async () => {
    const partition = await getJson(`${v1}/streams/checked/partitions/one/records`);
    expect([partition.status, partition.body.error.code]).toEqual([400, "BAD_REQUEST"]);
    expect(partition.body.error.message).toContain("partition");
    const maxBytes = await getJson(`${v1}/streams/checked/partitions/0/records?max_bytes=lots`);
    expect(maxBytes.body.error.message).toContain("max_bytes");
    expect((await getJson(`${v1}/streams/checked/partitions/0/records?offset=`)).status).toBe(200);
  });
});

/**
 * The message of the error a QUIC gateway answers to a publish frame carrying `fields` (decoded and
 * parsed as the gateway does). Encoded as any MessagePack peer would, without Strata's extension
 * codec (which writes every map whose kind is tensor as a Tensor).
 */
function quicRefusal(fields: unknown): string {
  const frame = decodeFramePayload(encode({ t: "publish", id: 1, stream: "checked", records: [{ fields }] }));
  try {
    parseMessage(frame);
  } catch (e) {
    if (isStrataError(e) && e.code === "BAD_REQUEST") return e.message;
    throw e;
  }
  throw new Error("the QUIC publish schema accepted the fields");
}

describe("record field values: one rule on HTTP (JSON and MessagePack) and QUIC", () => {
  const data = new Uint8Array(8).fill(3);
  /** Field values no log value is: each would be stored and then fail every read of its page. */
  const notLogValues: [string, Record<string, unknown>, string][] = [
    ["a MessagePack timestamp", { when: new Date(0) }, "when is a Date (a MessagePack timestamp)"],
    ["an unregistered extension, nested", { list: [1, { x: new ExtData(9, new Uint8Array([1])) }] }, "list[1].x is an unregistered MessagePack extension (type 9)"],
    ["a map written as a Tensor that is not a valid one", { m: { kind: "tensor", n: 1 } }, 'm is a map whose kind is "tensor" is written as a Tensor'],
    ["a Tensor map with another key", { m: { kind: "tensor", dtype: "f32", shape: [2], data, extra: 1 } }, 'm is a map whose kind is "tensor" is written as a Tensor and may hold only its four keys'],
  ];

  for (const [what, fields, problem] of notLogValues) {
    test(`MessagePack: ${what} is refused 400 BAD_REQUEST, nothing written, as over QUIC`, async () => {
      const before = await endOffset();
      const response = await postMsgpack("/streams/checked/records", encode({ records: [{ fields: { ok: 1 } }, { fields }] }));
      const body = (await response.json()) as { error: { code: string; message: string } };
      expect([response.status, body.error.code]).toEqual([400, "BAD_REQUEST"]);
      expect(body.error.message).toContain(`records[1].fields: ${problem}`);
      expect(await endOffset()).toBe(before);
      expect(quicRefusal(fields)).toContain(`records[0].fields: ${problem}`);
    });
  }

  test("fields that are themselves an extension value are refused on both", async () => {
    const tensor = makeTensor("f32", [2], data);
    const response = await postMsgpack("/streams/checked/records", encode({ records: [{ fields: tensor }] }, { extensionCodec }));
    expect(await errorOf(response)).toEqual([400, "BAD_REQUEST"]);
    const frame = decodeFramePayload(encodeFramePayload({ t: "publish", id: 1, stream: "checked", records: [{ fields: tensor }] }));
    expect(() => parseMessage(frame)).toThrow("records[0].fields: must be a map of field values");
  });

  test("every log value published over MessagePack is read back, and a QUIC records answer carries it", async () => {
    const before = await endOffset();
    const fields = {
      n: 1.5,
      s: "x",
      b: true,
      none: null,
      bin: new Uint8Array([1, 2]),
      t: makeTensor("bf16", [1, 2], new Uint8Array(4)),
      ref: makeArtefactRef("ab".repeat(32), 10, "text/plain"),
      list: [1, "two", [3], { kind: "click" }],
      nested: { a: { b: { c: [null] } } },
    };
    expect((await postMsgpack("/streams/checked/records", encode({ records: [{ fields }] }, { extensionCodec }))).status).toBe(200);
    const page = await fetch(`${v1}/streams/checked/partitions/0/records?offset=${before}`, { headers: { accept: "application/msgpack" } });
    const response = decode(new Uint8Array(await page.arrayBuffer()), { extensionCodec });
    expect(response).toMatchObject({ records: [{ offset: before, fields }] });
    // The stored bytes as the gateway forwards them in a QUIC records frame, parsed as the client does.
    const answer = parseMessage(decodeFramePayload(encodeFramePayload({ t: "records", id: 1, ...Object(response) })));
    expect(answer).toMatchObject({ t: "records", records: [{ fields }] });
  });

  test("JSON publishes are unchanged: tagged bytes, Tensors and ArtefactRefs, plain maps with any other kind", async () => {
    const before = await endOffset();
    const fields = {
      bin: { $base64: "AQI=" },
      t: { $tensor: { dtype: "f32", shape: [1], data: { $base64: "AAAAAA==" } } },
      ref: { $artefact: { manifest: "cd".repeat(32), size: 3, mediaType: "text/plain" } },
      event: { kind: "click", at: [1, 2] },
      n: 7,
    };
    const published = await postJson(`${v1}/streams/checked/records`, { records: [{ key: "k", fields }] });
    expect(published.status).toBe(200);
    const page = await getJson(`${v1}/streams/checked/partitions/0/records?offset=${before}`);
    expect(page.body.records[0].fields).toEqual(fields);
    expect(toJsonValue(makeTensor("f32", [1], new Uint8Array(4)))).toEqual(fields.t);
  });

  test("JSON: a map that would be written as a malformed Tensor is refused instead of stored, as over MessagePack", async () => {
    const before = await endOffset();
    const refused = await postJson(`${v1}/streams/checked/records`, { records: [{ fields: { m: { kind: "tensor", n: 1 } } }] });
    expect([refused.status, refused.body.error.code]).toEqual([400, "BAD_REQUEST"]);
    expect(refused.body.error.message).toContain('records[0].fields: m is a map whose kind is "tensor"');
    const tagged = await postJson(`${v1}/streams/checked/records`, { records: [{ fields: { $base64: "AQI=" } }] });
    expect([tagged.status, tagged.body.error.code]).toEqual([400, "BAD_REQUEST"]);
    expect(await endOffset()).toBe(before);
    expect((await getJson(`${v1}/streams/checked/partitions/0/records?offset=0`)).status).toBe(200);
  });
});
