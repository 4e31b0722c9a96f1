// The dataset API against a real `strata serve` process: versions pin the log's ranges at create
// and count up; sample reads by range and by index return the records at the mapped offsets
// (across partition boundaries, in MessagePack and JSON); filters, projections, errors; versions
// survive a restart; scopes under --auth.
import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { decode } from "@msgpack/msgpack";
import { z } from "zod";
import { extensionCodec, makeTensor } from "../../core/log/extensions.ts";
import { type GatewayProcess, removeDir, startGateway, tempDir } from "../helpers/gateway.ts";

setDefaultTimeout(60_000);

let gw: GatewayProcess;
const dataDir = tempDir("strata-datasets-");

const errorBody = z.object({ error: z.object({ code: z.string(), message: z.string() }) });
const partitionSchema = z.object({ partition: z.number(), start: z.number(), end: z.number(), samples: z.number(), first_index: z.number() });
const versionSchema = z.object({
  name: z.string(),
  version: z.number(),
  stream: z.string(),
  filter: z.string().nullable(),
  fields: z.array(z.string()).nullable(),
  samples: z.number(),
  bytes: z.number(),
  span_samples: z.number(),
  created_at: z.number(),
  partitions: z.array(partitionSchema),
});
const samplesSchema = z.object({ start: z.number().nullable(), samples: z.array(z.record(z.string(), z.unknown())), offsets: z.array(z.tuple([z.number(), z.number()])) });

async function call(method: string, path: string, body?: unknown, headers: Record<string, string> = {}): Promise<{ status: number; body: unknown }> {
  const response = await fetch(`${gw.url}/v1${path}`, {
    method,
    headers: { ...(body === undefined ? {} : { "content-type": "application/json" }), ...headers },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await response.text();
  return { status: response.status, body: text === "" ? null : JSON.parse(text) };
}

async function msgpackCall(method: string, path: string, body?: unknown): Promise<{ status: number; body: unknown }> {
  const response = await fetch(`${gw.url}/v1${path}`, {
    method,
    headers: { accept: "application/msgpack", ...(body === undefined ? {} : { "content-type": "application/json" }) },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  return { status: response.status, body: decode(new Uint8Array(await response.arrayBuffer()), { extensionCodec }) };
}

async function createVersion(body: Record<string, unknown>) {
  const r = await call("POST", "/datasets", body);
  if (r.status !== 201) throw new Error(`create ${JSON.stringify(body)}: ${r.status} ${JSON.stringify(r.body)}`);
  return versionSchema.parse(r.body);
}

async function publish(stream: string, records: { partition: number; fields: Record<string, unknown> }[]) {
  const r = await call("POST", `/streams/${encodeURIComponent(stream)}/records`, { records });
  expect(r.status).toBe(200);
}

function errorCode(r: { status: number; body: unknown }): [number, string] {
  return [r.status, errorBody.parse(r.body).error.code];
}

/** Records n = 0..count-1, n in partition n % partitions, with a small blob. */
function numbered(from: number, count: number, partitions: number) {
  return Array.from({ length: count }, (_, i) => ({ partition: (from + i) % partitions, fields: { n: from + i, blob: { $base64: btoa(`blob-${from + i}`) }, even: (from + i) % 2 === 0 } }));
}

beforeAll(async () => {
  gw = await startGateway({ dataDir });
  expect((await call("POST", "/streams", { name: "train/images", partitions: 3 })).status).toBe(201);
  await publish("train/images", numbered(0, 30, 3));
});

afterAll(async () => {
  await gw.stop();
  removeDir(dataDir);
});

describe("versions", () => {
  test("a version pins each partition's [start, end) at create; versions count up; later publishes change no version", async () => {
    const v1 = await createVersion({ name: "images", stream: "train/images" });
    expect(v1).toMatchObject({ name: "images", version: 1, stream: "train/images", filter: null, fields: null, samples: 30 });
    expect(v1.partitions).toEqual([0, 1, 2].map((p) => ({ partition: p, start: 0, end: 10, samples: 10, first_index: 10 * p })));
    expect(v1.bytes).toBeGreaterThan(0);
    const stream = z.object({ partitions: z.array(z.object({ partition: z.number(), end_offset: z.number() })) }).parse((await call("GET", "/streams/train%2Fimages")).body);
    expect(stream.partitions.map((p) => p.end_offset)).toEqual(v1.partitions.map((p) => p.end));

    await publish("train/images", numbered(30, 6, 3));
    const v2 = await createVersion({ name: "images", stream: "train/images", span_samples: 4 });
    expect(v2.version).toBe(2);
    expect(v2.samples).toBe(36);
    expect(v2.span_samples).toBe(4);
    expect(v2.partitions.map((p) => [p.end, p.first_index])).toEqual([
      [12, 0],
      [12, 12],
      [12, 24],
    ]);
    expect(versionSchema.parse((await call("GET", "/datasets/images/versions/1")).body)).toEqual(v1);
    expect(versionSchema.parse((await call("GET", "/datasets/images/versions/latest")).body)).toEqual(v2);
    const described = z.object({ name: z.string(), versions: z.array(versionSchema) }).parse((await call("GET", "/datasets/images")).body);
    expect(described.versions.map((v) => v.version)).toEqual([1, 2]);
    const listed = z.object({ datasets: z.array(z.object({ name: z.string(), versions: z.number(), latest: z.number() })) }).parse((await call("GET", "/datasets")).body);
    expect(listed.datasets.find((d) => d.name === "images")).toMatchObject({ versions: 2, latest: 2 });
  });

  test("the default span is about targetSpanBytes of samples, within [1, 65536]", async () => {
    const v = await createVersion({ name: "spans", stream: "train/images" });
    expect(v.span_samples).toBe(Math.min(65_536, Math.round((2 * 1024 * 1024) / (v.bytes / v.samples)))); // 2 MiB of tiny samples, clamped
  });

  test("unknown dataset, unknown version, bad version, unknown stream, bad body", async () => {
    expect(errorCode(await call("GET", "/datasets/nope"))).toEqual([404, "NOT_FOUND"]);
    expect(errorCode(await call("GET", "/datasets/images/versions/99"))).toEqual([404, "NOT_FOUND"]);
    expect(errorCode(await call("GET", "/datasets/nope/versions/1/samples?start=0"))).toEqual([404, "NOT_FOUND"]);
    expect(errorCode(await call("GET", "/datasets/images/versions/zero"))).toEqual([400, "BAD_REQUEST"]);
    expect(errorCode(await call("POST", "/datasets", { name: "x", stream: "missing" }))).toEqual([404, "STREAM_NOT_FOUND"]);
    expect(errorCode(await call("POST", "/datasets", { name: "Bad Name", stream: "train/images" }))).toEqual([400, "BAD_REQUEST"]);
    expect(errorCode(await call("POST", "/datasets", { name: "x", stream: "train/images", surprise: 1 }))).toEqual([400, "BAD_REQUEST"]);
    expect(errorCode(await call("POST", "/datasets", { name: "x", stream: "train/images", filter: "fields.n >" }))).toEqual([400, "BAD_FILTER"]);
  });
});

describe("sample reads", () => {
  test("a range maps global indexes to partition offsets and continues across partitions (JSON)", async () => {
    const r = await call("GET", "/datasets/images/versions/1/samples?start=8&count=5");
    expect(r.status).toBe(200);
    const body = samplesSchema.parse(r.body);
    expect(body.start).toBe(8);
    // index g of v1: partition floor(g / 10), offset g % 10, holding record n = offset * 3 + partition
    expect(body.offsets).toEqual([
      [0, 8],
      [0, 9],
      [1, 0],
      [1, 1],
      [1, 2],
    ]);
    expect(body.samples.map((s) => s.n)).toEqual([24, 27, 1, 4, 7]);
    expect(body.samples[0]!.blob).toEqual({ $base64: btoa("blob-24") });
  });

  test("MessagePack forwards the stored fields maps: bytes native, tensors as extension values", async () => {
    expect((await call("POST", "/streams", { name: "tensors", partitions: 1 })).status).toBe(201);
    const tensor = makeTensor("f32", [2], new Uint8Array(new Float32Array([1.5, -2]).buffer));
    const { encode } = await import("@msgpack/msgpack");
    const published = await fetch(`${gw.url}/v1/streams/tensors/records`, {
      method: "POST",
      headers: { "content-type": "application/msgpack" },
      body: encode({ records: [{ partition: 0, fields: { t: tensor, label: "a" } }, { partition: 0, fields: { t: tensor, label: "b" } }] }, { extensionCodec }),
    });
    expect(published.status).toBe(200);
    await createVersion({ name: "tensors", stream: "tensors" });
    const r = await msgpackCall("GET", "/datasets/tensors/versions/1/samples?start=0&count=2");
    expect(r.status).toBe(200);
    const body = z.object({ start: z.number(), samples: z.array(z.object({ t: z.object({ kind: z.literal("tensor"), dtype: z.string(), shape: z.array(z.number()), data: z.instanceof(Uint8Array) }), label: z.string() })), offsets: z.array(z.tuple([z.number(), z.number()])) }).parse(r.body);
    expect(body.samples.map((s) => s.label)).toEqual(["a", "b"]);
    expect(body.samples[0]!.t.dtype).toBe("f32");
    expect(Array.from(new Float32Array(body.samples[0]!.t.data.slice().buffer))).toEqual([1.5, -2]);
    const range = await msgpackCall("GET", "/datasets/images/versions/1/samples?start=9&count=2");
    const images = z.object({ samples: z.array(z.object({ n: z.number(), blob: z.instanceof(Uint8Array) })) }).parse(range.body);
    expect(images.samples.map((s) => s.n)).toEqual([27, 1]);
    expect(new TextDecoder().decode(images.samples[1]!.blob)).toBe("blob-1");
  });

  test("by index: request order, duplicates allowed, across partitions, in both forms", async () => {
    const indexes = [29, 0, 15, 15, 10, 9];
    const json = samplesSchema.parse((await call("POST", "/datasets/images/versions/1/samples", { indexes })).body);
    expect(json.start).toBeNull();
    const expected = indexes.map((g): [number, number] => [Math.floor(g / 10), g % 10]);
    expect(json.offsets).toEqual(expected);
    expect(json.samples.map((s) => s.n)).toEqual(expected.map(([p, o]) => o * 3 + p));
    const packed = samplesSchema.parse((await msgpackCall("POST", "/datasets/images/versions/1/samples", { indexes })).body);
    expect(packed.offsets).toEqual(expected);
    expect(packed.samples.map((s) => s.n)).toEqual(json.samples.map((s) => s.n));
  });

  test("max_bytes bounds the answer, at least one sample", async () => {
    const one = samplesSchema.parse((await call("GET", "/datasets/images/versions/1/samples?start=0&count=20&max_bytes=1")).body);
    expect(one.samples).toHaveLength(1);
    const some = samplesSchema.parse((await call("GET", "/datasets/images/versions/1/samples?start=0&count=20&max_bytes=100")).body);
    expect(some.samples.length).toBeGreaterThan(1);
    expect(some.samples.length).toBeLessThan(20);
  });

  test("the count is cut at the version's end; an index past it is OFFSET_OUT_OF_RANGE (416)", async () => {
    const tail = samplesSchema.parse((await call("GET", "/datasets/images/versions/1/samples?start=28&count=100")).body);
    expect(tail.offsets).toEqual([
      [2, 8],
      [2, 9],
    ]);
    expect(errorCode(await call("GET", "/datasets/images/versions/1/samples?start=30"))).toEqual([416, "OFFSET_OUT_OF_RANGE"]);
    expect(errorCode(await call("POST", "/datasets/images/versions/1/samples", { indexes: [0, 30] }))).toEqual([416, "OFFSET_OUT_OF_RANGE"]);
    expect(errorCode(await call("GET", "/datasets/images/versions/1/samples?start=0&count=0"))).toEqual([400, "BAD_REQUEST"]);
    expect(errorCode(await call("GET", "/datasets/images/versions/1/samples?start=-1"))).toEqual([400, "BAD_REQUEST"]);
  });
});

describe("filters and fields", () => {
  test("a filtered version holds only matches, mapped by stored offsets; fields set the default projection", async () => {
    const v = await createVersion({ name: "odd", stream: "train/images", filter: "fields.n % 2 == 1 && fields.n < 30", fields: ["n"] });
    expect(v.filter).toBe("fields.n % 2 == 1 && fields.n < 30");
    expect(v.fields).toEqual(["n"]);
    expect(v.samples).toBe(15);
    // Partition p holds n = 3 * offset + p; odd n < 30 per partition: p0 offsets 1,3,5,7,9; p1 0,2,4,6,8; p2 1,3,5,7,9.
    expect(v.partitions.map((p) => [p.samples, p.first_index, p.end])).toEqual([
      [5, 0, 12],
      [5, 5, 12],
      [5, 10, 12],
    ]);
    const all = samplesSchema.parse((await call("GET", "/datasets/odd/versions/latest/samples?start=0&count=100")).body);
    expect(all.samples.map((s) => s.n)).toEqual([3, 9, 15, 21, 27, 1, 7, 13, 19, 25, 5, 11, 17, 23, 29]);
    expect(all.samples.every((s) => Object.keys(s).join() === "n")).toBe(true);
    expect(all.offsets.slice(4, 7)).toEqual([
      [0, 9],
      [1, 0],
      [1, 2],
    ]);
    const projected = samplesSchema.parse((await msgpackCall("POST", "/datasets/odd/versions/1/samples", { indexes: [14, 0], fields: ["blob", "even"] })).body);
    expect(projected.offsets).toEqual([
      [2, 9],
      [0, 1],
    ]);
    expect(projected.samples.map((s) => Object.keys(s).sort().join())).toEqual(["blob,even", "blob,even"]);
    expect(projected.samples.map((s) => s.even)).toEqual([false, false]);
    const range = samplesSchema.parse((await call("GET", "/datasets/odd/versions/1/samples?start=3&count=4&fields=n,even")).body);
    expect(range.samples).toEqual([
      { n: 21, even: false },
      { n: 27, even: false },
      { n: 1, even: false },
      { n: 7, even: false },
    ]);
  });
});

describe("restart", () => {
  test("versions, their pins and filtered mappings survive a restart; released numbers are not reused", async () => {
    const before = versionSchema.parse((await call("GET", "/datasets/odd/versions/1")).body);
    const released = await call("DELETE", "/datasets/spans/versions/1");
    expect(released).toEqual({ status: 200, body: { name: "spans", version: 1, released: true } });
    expect(errorCode(await call("GET", "/datasets/spans/versions/1"))).toEqual([404, "NOT_FOUND"]);
    await gw.stop();
    gw = await startGateway({ dataDir });
    expect(versionSchema.parse((await call("GET", "/datasets/odd/versions/1")).body)).toEqual(before);
    const all = samplesSchema.parse((await call("GET", "/datasets/odd/versions/1/samples?start=0&count=100")).body);
    expect(all.samples.map((s) => s.n)).toEqual([3, 9, 15, 21, 27, 1, 7, 13, 19, 25, 5, 11, 17, 23, 29]);
    expect(errorCode(await call("GET", "/datasets/spans"))).toEqual([404, "NOT_FOUND"]);
    const again = await createVersion({ name: "spans", stream: "train/images" });
    expect(again.version).toBe(2);
  });
});

describe("scopes (--auth)", () => {
  test("create, list, show and read need consume on the stream; a listing shows only consumable datasets", async () => {
    const authDir = tempDir("strata-datasets-auth-");
    const secured = await startGateway({ dataDir: authDir, args: ["--auth"] });
    try {
      const admin = readFileSync(join(authDir, "admin.token"), "utf8").trim();
      const as = (token: string) => ({ authorization: `Bearer ${token}` });
      const send = async (token: string, method: string, path: string, body?: unknown) => {
        const response = await fetch(`${secured.url}/v1${path}`, { method, headers: { ...as(token), ...(body === undefined ? {} : { "content-type": "application/json" }) }, body: body === undefined ? undefined : JSON.stringify(body) });
        return { status: response.status, body: (await response.json()) as unknown };
      };
      const issue = async (scopes: { action: string; streams: string }[]) => z.object({ token: z.string() }).parse((await send(admin, "POST", "/tokens", { scopes, ttl_s: 3600, subject: "t" })).body).token;
      expect((await send(admin, "POST", "/streams", { name: "a/s", partitions: 1 })).status).toBe(201);
      expect((await send(admin, "POST", "/streams", { name: "b/s", partitions: 1 })).status).toBe(201);
      expect((await send(admin, "POST", "/streams/a%2Fs/records", { records: [{ fields: { x: 1 } }] })).status).toBe(200);
      const readerA = await issue([{ action: "consume", streams: "a/>" }]);
      const publisherA = await issue([{ action: "publish", streams: "a/>" }]);
      expect((await send(readerA, "POST", "/datasets", { name: "da", stream: "a/s" })).status).toBe(201);
      expect((await send(admin, "POST", "/datasets", { name: "db", stream: "b/s" })).status).toBe(201);
      expect(errorCode(await send(publisherA, "POST", "/datasets", { name: "dx", stream: "a/s" }))).toEqual([403, "FORBIDDEN"]);
      expect(errorCode(await send(readerA, "POST", "/datasets", { name: "dy", stream: "b/s" }))).toEqual([403, "FORBIDDEN"]);
      expect(z.object({ datasets: z.array(z.object({ name: z.string() })) }).parse((await send(readerA, "GET", "/datasets")).body).datasets.map((d) => d.name)).toEqual(["da"]);
      expect((await send(readerA, "GET", "/datasets/da/versions/1/samples?start=0")).status).toBe(200);
      expect(errorCode(await send(readerA, "GET", "/datasets/db/versions/1/samples?start=0"))).toEqual([403, "FORBIDDEN"]);
      expect(errorCode(await send(readerA, "GET", "/datasets/db"))).toEqual([403, "FORBIDDEN"]);
      expect((await send(readerA, "GET", "/streams/a%2Fs/partitions/0/segments")).status).toBe(200);
      expect(errorCode(await send(readerA, "GET", "/streams/b%2Fs/partitions/0/segments"))).toEqual([403, "FORBIDDEN"]);
      expect(errorCode(await send(publisherA, "GET", "/streams/a%2Fs/partitions/0/segments/0"))).toEqual([403, "FORBIDDEN"]);
      expect(errorCode(await send(publisherA, "DELETE", "/datasets/da/versions/1"))).toEqual([403, "FORBIDDEN"]);
      expect((await send(readerA, "DELETE", "/datasets/da/versions/1")).status).toBe(200);
      const anonymous = await fetch(`${secured.url}/v1/datasets`);
      expect(anonymous.status).toBe(401);
    } finally {
      await secured.stop();
      removeDir(authDir);
    }
  });
});
