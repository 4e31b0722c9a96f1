// The client library's publishRecords against a real gateway: client-built batches when the
// records go to one partition, MessagePack otherwise, idempotent retries, and the fallback to
// MessagePack when a gateway answers 415 (a proxy in front of the real gateway that refuses the
// batch media type, as a gateway from before it would).
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { CLIENT_BATCH_MEDIA_TYPE } from "../../core/log/client-batch.ts";
import type { RecordInput } from "../../core/log/record.ts";
import { StrataError } from "../../core/errors.ts";
import { publishRecords } from "../../gateway/client.ts";
import { startBatchProxy, type BatchProxy } from "./batch-proxy.ts";
import { getJson, liveGateway, postJson, type LiveGateway } from "../helpers/in-process-gateway.ts";

let live: LiveGateway;
let proxy: BatchProxy;
const utf8 = new TextEncoder();

beforeAll(async () => {
  live = await liveGateway();
  for (const name of ["lib", "old"]) expect((await postJson(`${live.url}/v1/streams`, { name, partitions: 3 })).status).toBe(201);
  proxy = startBatchProxy(live.url, (url) => url.pathname.includes("/old/"));
});
afterAll(async () => {
  proxy.stop();
  await live.close();
});

/** Sends a batch the way a gateway from before batches would read it: labelled JSON. */
const asJson: typeof fetch = Object.assign(
  (input: RequestInfo | URL, init?: RequestInit) => {
    const headers = new Headers(init?.headers);
    if (headers.get("content-type") === CLIENT_BATCH_MEDIA_TYPE) headers.set("content-type", "application/json");
    return fetch(input, { ...init, headers });
  },
  { preconnect: fetch.preconnect },
);

const rec = (i: number, key: string | null = null, partition?: number): RecordInput => ({ key: key === null ? null : utf8.encode(key), headers: { n: String(i) }, fields: { i }, ...(partition !== undefined ? { partition } : {}) });

async function fieldsOf(stream: string, partition: number): Promise<number[]> {
  const read = await getJson(`${live.url}/v1/streams/${stream}/partitions/${partition}/records?offset=0`);
  return read.body.records.map((r: { fields: { i: number } }) => r.fields.i);
}

describe("publishRecords", () => {
  test("unkeyed, one-key and one-partition requests go as batches; mixed keys as MessagePack; all read back", async () => {
    const connection = { gateway: live.url };
    const unkeyed = await publishRecords(connection, "lib", [rec(1), rec(2)]);
    expect(new Set(unkeyed.map((p) => p.partition)).size).toBe(1);
    const named = await publishRecords(connection, "lib", [rec(3, "a", 2), rec(4, "b", 2)], { acks: "durable" });
    expect(named).toEqual([{ partition: 2, offset: expect.any(Number) }, { partition: 2, offset: named[0]!.offset + 1 }]);
    const oneKey = await publishRecords(connection, "lib", [rec(5, "same"), rec(6, "same")]);
    expect(oneKey[0]!.partition).toBe(oneKey[1]!.partition);
    const mixed = await publishRecords(connection, "lib", Array.from({ length: 12 }, (_, i) => rec(100 + i, `k${i}`)));
    expect(new Set(mixed.map((p) => p.partition)).size).toBeGreaterThan(1);
    const all = (await Promise.all([0, 1, 2].map((p) => fieldsOf("lib", p)))).flat().sort((a, b) => a - b);
    expect(all).toEqual([1, 2, 3, 4, 5, 6, ...Array.from({ length: 12 }, (_, i) => 100 + i)]);
  });

  test("a producer's retry answers the same offsets", async () => {
    const connection = { gateway: live.url };
    const producer = { id: 77, epoch: 0, seq: 0 };
    const first = await publishRecords(connection, "lib", [rec(7), rec(8)], { producer });
    const again = await publishRecords(connection, "lib", [rec(7), rec(8)], { producer });
    expect(again).toEqual(first);
    const gap = await publishRecords(connection, "lib", [rec(9)], { producer: { ...producer, seq: 3 } }).catch((e: unknown) => e);
    expect(gap).toBeInstanceOf(StrataError);
    expect((gap as StrataError).code).toBe("SEQUENCE_GAP");
  });

  test("a gateway that answers 415 (or, from before batches, reads the batch as malformed JSON) gets MessagePack", async () => {
    proxy.seen.length = 0;
    const positions = await publishRecords({ gateway: proxy.url }, "old", [rec(1), rec(2)], { producer: { id: 5, epoch: 0, seq: 0 } });
    expect(proxy.seen).toEqual([CLIENT_BATCH_MEDIA_TYPE, "application/msgpack"]);
    expect(await fieldsOf("old", positions[0]!.partition)).toEqual([1, 2]);
    // A gateway from before client-built batches decodes any other Content-Type as JSON.
    proxy.seen.length = 0;
    const json = await publishRecords({ gateway: proxy.url, fetch: asJson }, "lib", [rec(200, null, 1)]);
    expect(proxy.seen).toEqual(["application/json", "application/msgpack"]);
    expect(json[0]!.partition).toBe(1);
  });
});
