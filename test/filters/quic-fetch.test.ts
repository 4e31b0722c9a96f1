// The QUIC fetch frame's filter: the same selection as an HTTP read, and BAD_FILTER as an error frame.
import { afterAll, beforeAll, expect, test } from "bun:test";
import { QuicClient } from "../../edge/transports/quic-client.ts";
import { failure } from "../helpers/failure.ts";
import { quicGateway, type QuicGateway } from "../quic/quic-fixture.ts";

let gw: QuicGateway;
let client: QuicClient;

beforeAll(async () => {
  gw = await quicGateway();
  const { streams, log } = gw.gateway.services;
  await streams.create({ name: "quic/filtered", partitions: 1 });
  const records = Array.from({ length: 200 }, (_, i) => ({ key: null, partition: 0, headers: {}, fields: { i, label: i % 4 === 0 ? "keep" : "drop" } }));
  await log.publish("quic/filtered", { records, producer: null });
  client = await QuicClient.connect({ host: "127.0.0.1", port: gw.port, ca: gw.ca });
});

afterAll(async () => {
  await client?.close();
  await gw?.close();
});

test("fetch with a filter returns the matching records and advances past those examined", async () => {
  const page = await client.fetch({ stream: "quic/filtered", partition: 0, offset: 10, max_records: 5, filter: 'fields.label == "keep"' });
  expect(page.records.map((r) => r.fields?.i)).toEqual([12, 16, 20, 24, 28]);
  expect(page.next_offset).toBe(29);
  const projected = await client.fetch({ stream: "quic/filtered", partition: 0, offset: 10, max_records: 5, filter: 'fields.label == "keep"', fields: ["i"] });
  expect(projected.records.map((r) => r.fields)).toEqual([12, 16, 20, 24, 28].map((i) => ({ i })));
  const none = await client.fetch({ stream: "quic/filtered", partition: 0, offset: 0, filter: "fields.i > 1000" });
  expect(none.records).toEqual([]);
  expect(none.next_offset).toBe(200);
});

test("a bad filter is BAD_FILTER with its position", async () => {
  const e = await failure(client.fetch({ stream: "quic/filtered", partition: 0, offset: 0, filter: "fields.i >" }));
  expect(e.code).toBe("BAD_FILTER");
  expect(e.message).toContain("at 1:10");
});
