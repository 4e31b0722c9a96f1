// GET /v1/streams/{name}/latest against a real gateway: the latest record per key after many
// updates, tombstones, one key, MessagePack, the long-poll, a restart that rebuilds the index, and
// refused input that changes nothing.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { decode } from "@msgpack/msgpack";
import { extensionCodec } from "../../core/log/extensions.ts";
import { getJson, liveGateway, postJson, type LiveGateway } from "../helpers/in-process-gateway.ts";
import { removeDir, tempDir } from "../helpers/gateway.ts";

let live: LiveGateway;
let v1: string;
const dataDir = tempDir();

beforeAll(async () => {
  live = await liveGateway({ dataDir });
  v1 = `${live.url}/v1`;
  expect((await postJson(`${v1}/streams`, { name: "params", partitions: 2, cleanup: "compact" })).status).toBe(201);
});
afterAll(async () => {
  await live.close();
  removeDir(dataDir);
});

const publish = (stream: string, records: unknown[]) => postJson(`${v1}/streams/${stream}/records`, { records });
const b64 = (s: string) => ({ $base64: Buffer.from(s).toString("base64") });

describe("latest per key", () => {
  test("keeps the newest record of each key; a tombstone removes its key", async () => {
    for (let round = 0; round < 20; round++) {
      const published = await publish("params", ["lr", "momentum", "schedule"].map((key) => ({ key, fields: { value: round, key } })));
      expect(published.status).toBe(200);
    }
    expect((await publish("params", [{ key: "schedule", fields: null }])).status).toBe(200);
    const latest = await getJson(`${v1}/streams/params/latest`);
    expect(latest.status).toBe(200);
    expect(latest.body.stream).toBe("params");
    expect(typeof latest.body.watermark).toBe("string");
    const byKey = new Map(latest.body.records.map((r: { key: unknown; fields: unknown }) => [JSON.stringify(r.key), r.fields]));
    expect(byKey.size).toBe(2);
    expect(byKey.get(JSON.stringify(b64("lr")))).toEqual({ value: 19, key: "lr" });
    expect(byKey.get(JSON.stringify(b64("momentum")))).toEqual({ value: 19, key: "momentum" });
    for (const r of latest.body.records) {
      expect(typeof r.partition).toBe("number");
      expect(typeof r.offset).toBe("number");
      expect(typeof r.timestamp).toBe("number");
    }
    const one = await getJson(`${v1}/streams/params/latest?key=lr`);
    expect(one.body.records).toHaveLength(1);
    expect(one.body.records[0].fields.value).toBe(19);
    expect((await getJson(`${v1}/streams/params/latest?key=schedule`)).body.records).toEqual([]);
  });

  test("MessagePack answers carry the same records with native bytes", async () => {
    const response = await fetch(`${v1}/streams/params/latest?key=lr`, { headers: { accept: "application/msgpack" } });
    expect(response.headers.get("content-type")).toContain("msgpack");
    const body = decode(new Uint8Array(await response.arrayBuffer()), { extensionCodec }) as { watermark: string; records: { key: Uint8Array; fields: { value: number } }[] };
    expect(new TextDecoder().decode(body.records[0]!.key)).toBe("lr");
    expect(body.records[0]!.fields.value).toBe(19);
  });

  test("a long-poll wakes on a publish with a new watermark; a timed-out one answers the same watermark", async () => {
    const before = (await getJson(`${v1}/streams/params/latest`)).body.watermark;
    const quiet = await getJson(`${v1}/streams/params/latest?after=${before}&wait_ms=50`);
    expect(quiet.body.watermark).toBe(before);
    const waiting = getJson(`${v1}/streams/params/latest?after=${before}&wait_ms=20000`);
    expect((await publish("params", [{ key: "lr", fields: { value: 0.5 } }])).status).toBe(200);
    const woke = await waiting;
    expect(woke.body.watermark).not.toBe(before);
    expect(woke.body.records.find((r: { key: unknown }) => JSON.stringify(r.key) === JSON.stringify(b64("lr"))).fields).toEqual({ value: 0.5 });
  });

  test("refused input: a keyless record (KEY_REQUIRED, nothing written), a delete stream, bad wait_ms", async () => {
    const before = (await getJson(`${v1}/streams/params`)).body.partitions.map((p: { end_offset: number }) => p.end_offset);
    const keyless = await publish("params", [{ key: "ok", fields: { v: 1 } }, { fields: { v: 2 } }]);
    expect(keyless.status).toBe(400);
    expect(keyless.body.error.code).toBe("KEY_REQUIRED");
    expect(keyless.body.error.message).toContain("records[1]");
    expect((await getJson(`${v1}/streams/params`)).body.partitions.map((p: { end_offset: number }) => p.end_offset)).toEqual(before);
    expect((await getJson(`${v1}/streams/params/latest?key=ok`)).body.records).toEqual([]);
    expect((await postJson(`${v1}/streams`, { name: "plain" })).status).toBe(201);
    const plain = await getJson(`${v1}/streams/plain/latest`);
    expect(plain.status).toBe(400);
    expect(plain.body.error.code).toBe("BAD_REQUEST");
    expect((await getJson(`${v1}/streams/params/latest?wait_ms=-1`)).status).toBe(400);
    expect((await getJson(`${v1}/streams/nope/latest`)).status).toBe(404);
    for (const body of [{ name: "c1", cleanup: "sometimes" }, { name: "c2", tombstone_ms: 5 }, { name: "c3", cleanup: "compact", tombstone_ms: -1 }]) {
      const created = await postJson(`${v1}/streams`, body);
      expect(created.status).toBe(400);
      expect((await getJson(`${v1}/streams/${body.name}`)).status).toBe(404);
    }
    const described = await getJson(`${v1}/streams/params`);
    expect(described.body.cleanup).toBe("compact");
    expect(described.body.tombstone_ms).toBeNull();
  });

  test("a restart rebuilds the index from the log", async () => {
    const before = (await getJson(`${v1}/streams/params/latest`)).body.records;
    await live.close();
    live = await liveGateway({ dataDir });
    v1 = `${live.url}/v1`;
    const after = await getJson(`${v1}/streams/params/latest`);
    expect(after.body.records).toEqual(before);
  });
});

test("a dataset over a compacted stream is refused (400) and nothing is created", async () => {
  const refused = await postJson(`${v1}/datasets`, { name: "params-set", stream: "params" });
  expect(refused.status).toBe(400);
  expect(refused.body.error.message).toContain("compacted");
  expect((await getJson(`${v1}/datasets`)).body.datasets ?? []).toEqual([]);
});
