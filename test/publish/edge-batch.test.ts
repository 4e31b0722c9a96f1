// The edge's HTTP sync publishes the outbox's encoded records as a client-built batch spliced
// from their bytes (edge/transports/batch-body.ts): the gateway's own batch check accepts it and
// its records equal the outbox's; records that may span partitions make no batch. Then through
// the HTTP transport against a real gateway, and behind a proxy that answers 415.
import { afterAll, beforeAll, expect, test } from "bun:test";
import { decodeBatchRecords, readBatchHeader } from "../../core/log/batch.ts";
import { CLIENT_BATCH_MEDIA_TYPE, parseClientBatch } from "../../core/log/client-batch.ts";
import { makeTensor } from "../../core/log/extensions.ts";
import { DEFAULT_EDGE_LIMITS } from "../../edge/limits.ts";
import { encodeRecords, type EdgeRecord } from "../../edge/records.ts";
import { clientBatchOf } from "../../edge/transports/batch-body.ts";
import { HttpTransport } from "../../edge/transports/http.ts";
import { startBatchProxy, type BatchProxy } from "./batch-proxy.ts";
import { getJson, liveGateway, postJson, type LiveGateway } from "../helpers/in-process-gateway.ts";

const utf8 = new TextEncoder();
const producer = { id: 11, epoch: 0, seq: 0 };
const limits = { maxBatchBytes: 16 << 20, maxBatchRecords: 10_000, maxRecordBytes: 8 << 20, maxHeaders: 64, maxKeyBytes: 4096 };

let live: LiveGateway;
let proxy: BatchProxy;

beforeAll(async () => {
  live = await liveGateway();
  for (const name of ["edge-batch", "edge-old"]) expect((await postJson(`${live.url}/v1/streams`, { name, partitions: 3 })).status).toBe(201);
  proxy = startBatchProxy(live.url, () => true);
});
afterAll(async () => {
  proxy.stop();
  await live.close();
});

test("spliced batches pass the gateway's check and hold the outbox's records", () => {
  const tensor = makeTensor("f32", [2], new Uint8Array(new Float32Array([1, 2]).buffer));
  const records: EdgeRecord[] = [
    { key: "dev", headers: { h: "v" }, fields: { t: tensor, n: 1 } },
    { fields: { n: 2 } },
    { key: utf8.encode("dev"), fields: { n: 3 } },
  ];
  const built = clientBatchOf(encodeRecords(records, DEFAULT_EDGE_LIMITS), producer)!;
  expect(built.partition).toBeUndefined();
  const parsed = parseClientBatch(built.batch.slice(), limits);
  expect(parsed.producer).toEqual(producer);
  const decoded = decodeBatchRecords(built.batch, readBatchHeader(built.batch)!);
  expect(decoded.map((r) => r.fields)).toEqual([{ t: tensor, n: 1 }, { n: 2 }, { n: 3 }]);
  expect(decoded.map((r) => r.key)).toEqual([utf8.encode("dev"), null, utf8.encode("dev")]);
  expect(decoded[0]!.headers).toEqual({ h: "v" });
  expect(clientBatchOf(encodeRecords([{ partition: 2, key: "a", fields: {} }, { partition: 2, key: "b", fields: {} }], DEFAULT_EDGE_LIMITS), producer)!.partition).toBe(2);
  expect(clientBatchOf(encodeRecords([{ key: "a", fields: {} }, { key: "b", fields: {} }], DEFAULT_EDGE_LIMITS), producer)).toBeUndefined();
  expect(clientBatchOf(encodeRecords([{ partition: 1, fields: {} }, { partition: 2, fields: {} }], DEFAULT_EDGE_LIMITS), producer)).toBeUndefined();
});

test("the HTTP transport publishes batches; retries answer the same offsets; a gateway that answers 415 gets MessagePack", async () => {
  const signal = new AbortController().signal;
  const transport = new HttpTransport(live.url, 10_000);
  const records = encodeRecords([{ fields: { n: 1 } }, { fields: { n: 2 } }], DEFAULT_EDGE_LIMITS);
  const first = await transport.publish("edge-batch", producer, records, signal);
  expect(await transport.publish("edge-batch", producer, records, signal)).toMatchObject({ positions: first.positions });
  const page = await getJson(`${live.url}/v1/streams/edge-batch/partitions/${first.positions[0]!.partition}/records?offset=0`);
  expect(page.body.records.map((r: { fields: { n: number } }) => r.fields.n)).toEqual([1, 2]);
  const old = new HttpTransport(proxy.url, 10_000);
  const answer = await old.publish("edge-old", producer, records, signal);
  expect(proxy.seen).toEqual([CLIENT_BATCH_MEDIA_TYPE, "application/msgpack"]);
  expect(answer.positions).toHaveLength(2);
});
