// Compaction against a real gateway: superseded records leave sealed segments, offsets stay
// stable and reads skip the gaps (JSON and MessagePack, from inside a gap), tombstones go after
// tombstone_ms with their key, a delete stream is never compacted, consumer groups and queues
// work on a compacted stream, and POST /v1/admin/compact refuses bad input.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { decode } from "@msgpack/msgpack";
import { extensionCodec } from "../../core/log/extensions.ts";
import { getJson, liveGateway, postJson, type LiveGateway } from "../helpers/in-process-gateway.ts";

let live: LiveGateway;
let v1: string;

beforeAll(async () => {
  // Background passes off (an hour apart): the tests compact on demand.
  live = await liveGateway({ compaction: { intervalMs: 3_600_000, minRemovableRatio: 0 } });
  v1 = `${live.url}/v1`;
});
afterAll(() => live.close());

type Json = { status: number; body: any };
const durable = (stream: string, records: unknown[]): Promise<Json> => postJson(`${v1}/streams/${stream}/records?acks=durable`, { records });
const compact = (stream: string): Promise<Json> => postJson(`${v1}/admin/compact`, { stream });
const text = (key: { $base64: string } | null) => (key ? Buffer.from(key.$base64, "base64").toString() : null);

async function readAll(stream: string, from = 0): Promise<{ offset: number; key: string | null; fields: any }[]> {
  const out: { offset: number; key: string | null; fields: any }[] = [];
  let offset = from;
  for (;;) {
    const r = await getJson(`${v1}/streams/${stream}/partitions/0/records?offset=${offset}&max_records=7`);
    expect(r.status).toBe(200);
    for (const rec of r.body.records) out.push({ offset: rec.offset, key: text(rec.key), fields: rec.fields });
    if (r.body.next_offset >= r.body.end_offset) return out;
    expect(r.body.next_offset).toBeGreaterThan(offset);
    offset = r.body.next_offset;
  }
}

/** Ten sealed segments of keys a, b, c then "tick" (the last record of each segment, which compaction always keeps). */
async function fill(stream: string): Promise<void> {
  for (let round = 0; round < 10; round++) {
    const written = await durable(stream, [...["a", "b", "c"].map((key) => ({ key, fields: { round } })), { key: "tick", fields: { round } }]);
    expect(written.status).toBe(200);
  }
}

describe("compaction", () => {
  test("keeps the newest record per key (and each segment's last); offsets stay stable; reads cross the gaps", async () => {
    expect((await postJson(`${v1}/streams`, { name: "kv", cleanup: "compact" })).status).toBe(201);
    await fill("kv");
    const before = await readAll("kv");
    expect(before).toHaveLength(40);
    const done = await compact("kv");
    expect(done.status).toBe(200);
    expect(done.body.segments_rewritten).toBe(9);
    expect(done.body.records_removed).toBe(27);
    const after = await readAll("kv");
    // Survivors: every "tick" (the last record of its segment) and the last round's a, b, c.
    expect(after.map((r) => `${r.key}@${r.offset}`)).toEqual([...Array.from({ length: 9 }, (_, i) => `tick@${i * 4 + 3}`), "a@36", "b@37", "c@38", "tick@39"]);
    for (const r of after) expect(r).toEqual(before.find((b) => b.offset === r.offset)!);
    const described = (await getJson(`${v1}/streams/kv`)).body.partitions[0];
    expect(described.start_offset).toBe(0);
    expect(described.end_offset).toBe(40);
    // From inside a gap: the next surviving record.
    const inGap = await getJson(`${v1}/streams/kv/partitions/0/records?offset=1&max_records=1`);
    expect(inGap.body.records.map((r: { offset: number }) => r.offset)).toEqual([3]);
    expect(inGap.body.next_offset).toBe(4);
    const msgpack = await fetch(`${v1}/streams/kv/partitions/0/records?offset=13&max_records=2`, { headers: { accept: "application/msgpack" } });
    const raw = decode(new Uint8Array(await msgpack.arrayBuffer()), { extensionCodec }) as { records: { offset: number }[]; next_offset: number };
    expect(raw.records.map((r) => r.offset)).toEqual([15, 19]);
    expect(raw.next_offset).toBe(20);
    const projected = await fetch(`${v1}/streams/kv/partitions/0/records?offset=30&fields=round`, { headers: { accept: "application/msgpack" } });
    const rows = decode(new Uint8Array(await projected.arrayBuffer()), { extensionCodec }) as { records: { offset: number; fields: { round: number } }[] };
    expect(rows.records.map((r) => r.offset)).toEqual([31, 35, 36, 37, 38, 39]);
    // A filtered read walks the gaps too.
    const filtered = await getJson(`${v1}/streams/kv/partitions/0/records?offset=0&filter=${encodeURIComponent("fields.round == 9")}`);
    expect(filtered.body.records.map((r: { offset: number }) => r.offset)).toEqual([36, 37, 38, 39]);
    const metrics = await (await fetch(`${live.url}/metrics`)).text();
    expect(metrics).toContain('strata_compaction_segments_rewritten_total{stream="kv"} 9');
    expect(metrics).toContain('strata_compaction_records_removed_total{stream="kv"} 27');
    // A second pass finds nothing more to remove; latest is unchanged.
    expect((await compact("kv")).body.records_removed).toBe(0);
    const latest = await getJson(`${v1}/streams/kv/latest`);
    expect(latest.body.records.map((r: { key: { $base64: string }; fields: { round: number } }) => [text(r.key), r.fields.round])).toEqual([["a", 9], ["b", 9], ["c", 9], ["tick", 9]]);
  });

  test("a tombstone removes its key's records at once and itself after tombstone_ms", async () => {
    expect((await postJson(`${v1}/streams`, { name: "tomb", cleanup: "compact", tombstone_ms: 1 })).status).toBe(201);
    await fill("tomb");
    const tombstoned = await durable("tomb", [{ key: "b", fields: null }, { key: "tick", fields: { round: 10 } }]);
    expect(tombstoned.status).toBe(200);
    const tombstoneOffset = tombstoned.body.records[0].offset;
    const t0 = Date.now();
    // Wait for the condition: a pass after tombstone_ms removes the tombstone.
    let all = await readAll("tomb");
    while (all.some((r) => r.offset === tombstoneOffset)) {
      expect(Date.now() - t0).toBeLessThan(20_000);
      expect((await compact("tomb")).status).toBe(200);
      all = await readAll("tomb");
    }
    expect(all.filter((r) => r.key === "b")).toEqual([]);
    const latest = await getJson(`${v1}/streams/tomb/latest`);
    expect(latest.body.records.map((r: { key: { $base64: string } }) => text(r.key))).toEqual(["a", "c", "tick"]);
  });

  test("a delete stream is never compacted", async () => {
    expect((await postJson(`${v1}/streams`, { name: "plain-kv" })).status).toBe(201);
    await fill("plain-kv");
    const refused = await compact("plain-kv");
    expect(refused.status).toBe(400);
    expect(await readAll("plain-kv")).toHaveLength(40);
  });

  test("consumer groups and queues read a compacted stream across its gaps", async () => {
    const committed = await postJson(`${v1}/groups/g1/offsets`, { stream: "kv", partition: 0, offset: 5 });
    expect(committed.status).toBeLessThan(300);
    const claimed = await postJson(`${v1}/queues/q1/claim`, { streams: ["kv"], max_records: 100 });
    expect(claimed.status).toBe(200);
    expect(claimed.body.records.map((r: { offset: number }) => r.offset)).toEqual([3, 7, 11, 15, 19, 23, 27, 31, 35, 36, 37, 38, 39]);
  });

  test("bad input: unknown stream 404, malformed body 400", async () => {
    expect((await compact("nope")).status).toBe(404);
    expect((await postJson(`${v1}/admin/compact`, { streams: "kv" })).status).toBe(400);
  });
});

test("tombstones read back as null fields: JSON, MessagePack, projected, filtered", async () => {
  expect((await postJson(`${v1}/streams`, { name: "tomb-read", cleanup: "compact" })).status).toBe(201);
  expect((await postJson(`${v1}/streams/tomb-read/records`, { records: [{ key: "k", fields: { v: 1 } }, { key: "k", fields: null }] })).status).toBe(200);
  const json = await getJson(`${v1}/streams/tomb-read/partitions/0/records?offset=0`);
  expect(json.body.records.map((r: { fields: unknown }) => r.fields)).toEqual([{ v: 1 }, null]);
  for (const query of ["", "&fields=v"]) {
    const response = await fetch(`${v1}/streams/tomb-read/partitions/0/records?offset=0${query}`, { headers: { accept: "application/msgpack" } });
    const body = decode(new Uint8Array(await response.arrayBuffer()), { extensionCodec }) as { records: { fields: unknown }[] };
    expect(body.records.map((r) => r.fields)).toEqual([{ v: 1 }, null]);
  }
  const projected = await getJson(`${v1}/streams/tomb-read/partitions/0/records?offset=0&fields=v`);
  expect(projected.body.records.map((r: { fields: unknown }) => r.fields)).toEqual([{ v: 1 }, null]);
  const filtered = await getJson(`${v1}/streams/tomb-read/partitions/0/records?offset=0&filter=${encodeURIComponent("fields.v == 1")}`);
  expect(filtered.body.records.map((r: { offset: number }) => r.offset)).toEqual([0]);
  const rawFiltered = await fetch(`${v1}/streams/tomb-read/partitions/0/records?offset=0&filter=${encodeURIComponent("fields.v == 1")}`, { headers: { accept: "application/msgpack" } });
  const raw = decode(new Uint8Array(await rawFiltered.arrayBuffer()), { extensionCodec }) as { records: { offset: number }[] };
  expect(raw.records.map((r) => r.offset)).toEqual([0]);
});
