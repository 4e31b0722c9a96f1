// The QUIC transport end to end on loopback: a real gateway (services, storage) behind the
// node:quic listener, and the QUIC client, both in this Bun process.
import { afterAll, beforeAll, expect, test } from "bun:test";
import { blake3 } from "../../core/hashing/blake3.ts";
import { failure } from "../helpers/failure.ts";
import { encodeManifest, manifestId } from "../../core/artefacts/manifest.ts";
import { QuicClient } from "../../edge/transports/quic-client.ts";
import { quicGateway, type QuicGateway } from "./quic-fixture.ts";

let gw: QuicGateway;
let client: QuicClient;

beforeAll(async () => {
  gw = await quicGateway();
  await gw.gateway.services.streams.create({ name: "quic/test", partitions: 2 });
  client = await QuicClient.connect({ host: "127.0.0.1", port: gw.port, ca: gw.ca });
});

afterAll(async () => {
  await client?.close();
  await gw?.close();
});


test("hello negotiates version 1 and announces the gateway's limits", () => {
  expect(client.session.version).toBe(1);
  expect(client.session.maxFrameBytes).toBe(16 * 1024 * 1024);
  expect(client.session.maxInFlight).toBe(32);
  expect(client.session.maxBulkStreams).toBe(8);
});

test("a hello without a common version is refused with an error frame", async () => {
  const e = await failure(QuicClient.connect({ host: "127.0.0.1", port: gw.port, ca: gw.ca, versions: [7, 9] }));
  expect(e.code).toBe("BAD_REQUEST");
  expect(e.message).toContain("no common protocol version");
});

test("the certificate can be pinned by fingerprint; a wrong one is refused", async () => {
  const pinned = await QuicClient.connect({ host: "127.0.0.1", port: gw.port, fingerprint: gw.fingerprint });
  expect(pinned.session.version).toBe(1);
  await pinned.close();
  const wrong = await failure(QuicClient.connect({ host: "127.0.0.1", port: gw.port, fingerprint: "00".repeat(32) }));
  expect(wrong.message).toContain("does not match the pinned");
});

test("publish and fetch round-trip over QUIC", async () => {
  const records = [
    { key: "k1", fields: { n: 1, text: "hello", bytes: new Uint8Array([1, 2, 3]) } },
    { key: "k1", fields: { n: 2, text: "world", bytes: new Uint8Array([4]) } },
  ];
  const positions = await client.publish("quic/test", { records });
  expect(positions.length).toBe(2);
  expect(positions[0]!.partition).toBe(positions[1]!.partition);
  expect(positions[1]!.offset).toBe(positions[0]!.offset + 1);
  const page = await client.fetch({ stream: "quic/test", partition: positions[0]!.partition, offset: positions[0]!.offset });
  expect(page.records.map((r) => r.fields)).toEqual(records.map((r) => r.fields));
  expect(new TextDecoder().decode(page.records[0]!.key!)).toBe("k1");
  expect(page.next_offset).toBe(positions[1]!.offset + 1);
  const projected = await client.fetch({ stream: "quic/test", partition: positions[0]!.partition, offset: positions[0]!.offset, fields: ["n"], max_records: 1 });
  expect(projected.records.map((r) => r.fields)).toEqual([{ n: 1 }]);
});

test("a retried idempotent publish returns the same offsets and writes nothing", async () => {
  const producer = { id: 42, epoch: 0, seq: 0 };
  const body = { records: [{ fields: { v: "a" } }, { fields: { v: "b" } }], producer };
  const first = await client.publish("quic/test", body);
  const again = await client.publish("quic/test", body);
  expect(again).toEqual(first);
  const next = await client.publish("quic/test", { records: [{ fields: { v: "c" } }], producer: { ...producer, seq: 1 } });
  expect(next.length).toBe(1);
  const gap = await failure(client.publish("quic/test", { records: [{ fields: { v: "d" } }], producer: { ...producer, seq: 5 } }));
  expect(gap.code).toBe("SEQUENCE_GAP");
  const info = gw.gateway.services.streams.get("quic/test");
  const partition = info.partitions.find((p) => p.partition === first[0]!.partition)!;
  const page = await client.fetch({ stream: "quic/test", partition: partition.partition, offset: first[0]!.offset });
  expect(page.records.filter((r) => r.fields?.v === "a").length).toBe(1);
});

test("service errors answer the request and keep the connection", async () => {
  const e = await failure(client.publish("quic/none", { records: [{ fields: {} }] }));
  expect(e.code).toBe("STREAM_NOT_FOUND");
  const range = await failure(client.fetch({ stream: "quic/test", partition: 0, offset: 1_000_000 }));
  expect(range.code).toBe("OFFSET_OUT_OF_RANGE");
  expect((await client.fetch({ stream: "quic/test", partition: 0, offset: 0 })).end_offset).toBeGreaterThanOrEqual(0);
});

test("consumer-group commits go through the group service", async () => {
  const committed = await client.commit("g1", { stream: "quic/test", partition: 1, offset: 0 });
  expect(committed).toMatchObject({ stream: "quic/test", partition: 1, offset: 0 });
  expect(await gw.gateway.services.groups.get("g1")).toHaveLength(1);
});

test("chunks: missing, put and get on bulk streams", async () => {
  const datas = [new Uint8Array(1000).fill(7), new Uint8Array(300_000).map((_, i) => i % 251)];
  const chunks = datas.map((data) => ({ hash: blake3(data), data }));
  const hashes = chunks.map((c) => c.hash);
  expect((await client.missingChunks(hashes)).length).toBe(2);
  expect(await client.putChunks(chunks)).toEqual({ stored: 2, existing: 0 });
  expect(await client.missingChunks(hashes)).toEqual([]);
  const got: Uint8Array[] = [];
  for await (const chunk of client.getChunks([hashes[1]!, hashes[0]!, hashes[1]!])) got.push(chunk.data);
  expect(got).toEqual([datas[1]!, datas[0]!, datas[1]!]);
  const unknown = await failure((async () => {
    for await (const _ of client.getChunks([new Uint8Array(32)])) void _;
  })());
  expect(unknown.code).toBe("NOT_FOUND");
  const mismatch = await failure(client.putChunks([{ hash: new Uint8Array(32), data: datas[0]! }]));
  expect(mismatch.code).toBe("HASH_MISMATCH");
});

test("many requests at once stay within the credit window and all complete", async () => {
  const all = await Promise.all(Array.from({ length: 100 }, (_, i) => client.publish("quic/test", { records: [{ key: `c${i}`, fields: { i } }] })));
  expect(all.length).toBe(100);
});

test("a certificate from another CA is refused", async () => {
  const other = await quicGateway();
  try {
    const e = await failure(QuicClient.connect({ host: "127.0.0.1", port: gw.port, ca: other.ca }));
    expect(e.message).toContain("not trusted");
  } finally {
    await other.close();
  }
});

test("streams are created and described, manifests fetched, over the control stream", async () => {
  const created = await client.createStream("quic/made", { partitions: 3 });
  expect(created.partitions.map((p) => p.partition)).toEqual([0, 1, 2]);
  expect((await failure(client.createStream("quic/made"))).code).toBe("STREAM_EXISTS");
  await client.publish("quic/made", { records: [{ partition: 2, fields: { a: 1 } }] });
  const info = await client.streamInfo("quic/made");
  expect(info.partitions[2]).toMatchObject({ partition: 2, start_offset: 0, end_offset: 1 });
  expect((await failure(client.streamInfo("quic/nothing"))).code).toBe("STREAM_NOT_FOUND");

  const data = new Uint8Array(5000).fill(3);
  const hash = blake3(data);
  await client.putChunks([{ hash, data }]);
  const bytes = encodeManifest({ v: 1, size: data.length, mediaType: "application/octet-stream", chunks: [{ hash, length: data.length }] });
  const id = manifestId(bytes);
  expect((await gw.gateway.services.artefacts.manifests.put(id, bytes)).outcome).toBe("created");
  expect(await client.getManifest(id)).toEqual(bytes);
  expect((await failure(client.getManifest("ab".repeat(32)))).code).toBe("NOT_FOUND");
});
