// A tombstone (a record with null fields, docs/compaction.md) is data every client receives as
// such: a QUIC fetch (with and without a projection), the library's group consumer and its queue
// worker each see `fields: null` at the tombstone's offset and the other records unchanged, and
// `strata consume` (alone and as a group member) prints it with `"fields": null`. The QUIC
// `latest` frame answers the latest map without tombstoned keys and long-polls like HTTP's. The
// edge's artefact search (HTTP and QUIC) passes over a newer tombstone to the artefact before it. One real gateway
// in this process, served over HTTP and QUIC on loopback; the CLI runs as real processes.
import { afterAll, beforeAll, expect, test } from "bun:test";
import { StrataError } from "../../core/errors.ts";
import { consumeGroup, describeQueue, work, type ClaimedRecord } from "../../gateway/client.ts";
import { startQuicServer, type QuicServer } from "../../gateway/quic/server.ts";
import { QuicClient } from "../../edge/transports/quic-client.ts";
import { liveGateway, postJson, type LiveGateway } from "../helpers/in-process-gateway.ts";
import { until } from "../queues/queue-http.ts";
import { cli, waitFor } from "../edge/edge-fixtures.ts";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { ARTEFACT_FIELD } from "../../edge/artefacts/artefact-field.ts";
import { GatewayHttp } from "../../edge/artefacts/gateway-http.ts";
import { pushArtefact } from "../../edge/artefacts/push.ts";
import { latestArtefact } from "../../edge/artefacts/stream-api.ts";
import { quicChunkSource } from "../../edge/transports/quic-chunk-source.ts";

const STREAM = "tombstones/params";
/** What is published, in offset order on the stream's one partition: offset 2 is the tombstone. */
const PUBLISHED = [
  { key: "lr", fields: { value: 0.1 } },
  { key: "wd", fields: { value: 0.01 } },
  { key: "lr", fields: null },
  { key: "wd", fields: { value: 0.02 } },
] as const;
const EXPECTED = PUBLISHED.map((r, offset) => ({ offset, fields: r.fields }));

let live: LiveGateway;
let quic: QuicServer;
let client: QuicClient;

beforeAll(async () => {
  live = await liveGateway();
  quic = await startQuicServer(live.gateway.services, { host: "127.0.0.1", port: 0, dataDir: live.dataDir, limits: {} });
  client = await QuicClient.connect({ host: "127.0.0.1", port: quic.listener.port, ca: quic.tls.certPem });
  expect((await postJson(`${live.url}/v1/streams`, { name: STREAM, partitions: 1, cleanup: "compact" })).status).toBe(201);
  const published = await postJson(`${live.url}/v1/streams/${encodeURIComponent(STREAM)}/records?acks=durable`, { records: PUBLISHED });
  expect(published.status).toBe(200);
  expect(published.body.records.map((r: { offset: number }) => r.offset)).toEqual([0, 1, 2, 3]);
});

afterAll(async () => {
  await client?.close();
  await quic?.close();
  await live?.close();
});

test("a QUIC fetch answers the tombstone with nil fields at its offset, projected or not", async () => {
  const page = await client.fetch({ stream: STREAM, partition: 0, offset: 0 });
  expect(page.records.map((r) => ({ offset: r.offset, fields: r.fields }))).toEqual(EXPECTED);
  expect(new TextDecoder().decode(page.records[2]!.key!)).toBe("lr");
  expect(page.next_offset).toBe(4);
  const projected = await client.fetch({ stream: STREAM, partition: 0, offset: 1, fields: ["value"] });
  expect(projected.records.map((r) => r.fields)).toEqual([{ value: 0.01 }, null, { value: 0.02 }]);
});

test("the group consumer hands the tombstone over with null fields", async () => {
  const consumer = consumeGroup({ gateway: live.url, group: "tombstone-readers", streams: [STREAM], waitMs: 200, autoCommit: false });
  try {
    const seen: { offset: number; fields: unknown }[] = [];
    while (seen.length < PUBLISHED.length) {
      const next = await consumer.next();
      if (next.done) throw new Error(`the consumer ended after ${seen.length} records`);
      seen.push(...next.value.records.map((r) => ({ offset: r.offset, fields: r.fields })));
    }
    expect(seen).toEqual(EXPECTED);
  } finally {
    await consumer.close();
  }
});

test("a queue worker claims the tombstone, sees null fields, and acks it like any record", async () => {
  const handled: { offset: number; fields: unknown }[] = [];
  const stop = new AbortController();
  const handler = async (record: ClaimedRecord): Promise<void> => {
    handled.push({ offset: record.offset, fields: record.fields });
  };
  const running = work({ gateway: live.url, group: "tombstone-workers", streams: [STREAM], handler, visibilityMs: 30_000, signal: stop.signal });
  // The queue exists from the worker's first claim on: until then describing it is NOT_FOUND.
  const acked = async (): Promise<number> => {
    try {
      return (await describeQueue({ gateway: live.url }, "tombstone-workers")).totals.acked;
    } catch (e) {
      if (e instanceof StrataError && e.code === "NOT_FOUND") return 0;
      throw e;
    }
  };
  await until("every record acked", async () => ((await acked()) === PUBLISHED.length ? true : undefined));
  stop.abort();
  const summary = await running;
  expect(summary).toEqual({ acked: PUBLISHED.length, nacked: 0, unsettled: 0 });
  expect(handled.sort((a, b) => a.offset - b.offset)).toEqual(EXPECTED);
});

/** (offset, fields) of each JSON line `strata consume --json` printed. */
function printed(stdout: string): { offset: number; fields: unknown }[] {
  return stdout
    .split("\n")
    .filter((l) => l.length > 0)
    .map((l) => JSON.parse(l) as { offset: number; fields: unknown })
    .map((l) => ({ offset: l.offset, fields: l.fields }));
}

test("strata consume prints the tombstone with null fields, alone and as a group member", async () => {
  const alone = await cli(["consume", STREAM, "--from", "earliest", "--max", String(PUBLISHED.length), "--json", "--gateway", live.url]).done;
  expect(alone.code).toBe(0);
  expect(printed(alone.stdout)).toEqual(EXPECTED);

  let stdout = "";
  const member = cli(["consume", STREAM, "--group", "tombstone-cli", "--from", "earliest", "--json", "--gateway", live.url]);
  member.child.stdout!.on("data", (d: Buffer) => (stdout += d.toString()));
  await waitFor(() => printed(stdout).length === PUBLISHED.length, 20_000, "the member printed every record");
  member.child.kill("SIGTERM");
  expect((await member.done).code).toBe(0);
  expect(printed(stdout)).toEqual(EXPECTED);
}, 60_000);

test("the QUIC latest frame: the map without tombstoned keys, one key, a long-poll woken by a publish, and a delete stream refused", async () => {
  const utf8 = new TextEncoder();
  const all = await client.latest({ stream: STREAM });
  expect(all.stream).toBe(STREAM);
  expect(all.records.map((r) => ({ key: new TextDecoder().decode(r.key), partition: r.partition, offset: r.offset, fields: r.fields }))).toEqual([{ key: "wd", partition: 0, offset: 3, fields: { value: 0.02 } }]);
  expect((await client.latest({ stream: STREAM, key: "lr" })).records).toEqual([]);
  expect((await client.latest({ stream: STREAM, key: utf8.encode("wd") })).records.map((r) => r.offset)).toEqual([3]);
  // Nothing changed since the watermark: the poll waits until the publish below moves the map.
  const polled = client.latest({ stream: STREAM, after: all.watermark, wait_ms: 20_000 });
  const published = await postJson(`${live.url}/v1/streams/${encodeURIComponent(STREAM)}/records`, { records: [{ key: "lr", fields: { value: 0.05 } }] });
  expect(published.status).toBe(200);
  const moved = await polled;
  expect(moved.watermark).not.toBe(all.watermark);
  expect(moved.records.map((r) => [new TextDecoder().decode(r.key), r.fields])).toEqual([
    ["wd", { value: 0.02 }],
    ["lr", { value: 0.05 }],
  ]);
  await live.gateway.services.streams.create({ name: "tombstones/plain" });
  const refused = await client.latest({ stream: "tombstones/plain" }).catch((e: unknown) => e);
  expect(refused).toMatchObject({ code: "BAD_REQUEST" });
});

test("the edge's newest-artefact search, over HTTP and QUIC, passes over a newer tombstone", async () => {
  const file = join(live.dataDir, "model.bin");
  writeFileSync(file, new Uint8Array(4096).fill(7));
  const pushed = await pushArtefact({ gateway: live.url, file, stream: "tombstones/models" });
  const tombstone = await postJson(`${live.url}/v1/streams/tombstones%2Fmodels/records`, { records: [{ key: "m", fields: null }] });
  expect(tombstone.status).toBe(200);
  expect(tombstone.body.records[0].offset).toBe(pushed.record.offset + 1);
  const overHttp = await latestArtefact(new GatewayHttp(live.url, { requestTimeoutMs: 10_000, attempts: 1 }), "tombstones/models", ARTEFACT_FIELD);
  const overQuic = await quicChunkSource(client, "quic").latest("tombstones/models", ARTEFACT_FIELD);
  for (const found of [overHttp, overQuic]) expect({ offset: found.offset, manifest: found.ref.manifest }).toEqual({ offset: pushed.record.offset, manifest: pushed.artefact });
});
