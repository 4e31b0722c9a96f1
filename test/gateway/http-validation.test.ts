// Route input goes through the routes' zod schemas: the typed client's types are those schemas'
// (a wrong shape does not compile, and sent anyway it is a 400), and hostile MessagePack is
// refused by the decoder caps before anything is allocated or written.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { encode } from "@msgpack/msgpack";
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
