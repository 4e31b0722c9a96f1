// A dataset version's segment ranges read over UCX (UcxSegmentReader, the TypeScript dataset
// reader's path) are the bytes HTTP serves, their batches CRC-verified and holding the pinned
// records; a range cut mid-batch leaves that batch for the next read; with UCX unreachable the
// reader says so once and reads over HTTP.
import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { decodeBatchRecords } from "../../core/log/batch.ts";
import { closeSegmentWorker, readSegmentRangeUcx, UcxSegmentReader, verifiedBatches } from "../../gateway/client/ucx-segments.ts";
import { decodeFooter } from "../../gateway/log/segment-format.ts";
import { freePort } from "../edge/edge-fixtures.ts";
import { removeDir, tempDir } from "../helpers/gateway.ts";
import { ucxForTests } from "../helpers/ucx.ts";
import { startUcxGateway, type UcxGateway } from "./ucx-fixtures.ts";

setDefaultTimeout(60_000);

const ready = ucxForTests().available;
const dir = tempDir("strata-ucx-segments-");
let g: UcxGateway;
let segments: { base: number; end: number; bytes: number }[];

beforeAll(async () => {
  if (!ready) return;
  const config = join(dir, "config.json");
  writeFileSync(config, JSON.stringify({ storage: { segmentMs: 20 }, ucx: { inlineMaxBytes: 1024 } }));
  g = await startUcxGateway({ dataDir: join(dir, "data"), args: ["--config", config] });
  const post = (path: string, body: unknown) => fetch(`${g.gw.url}/v1${path}`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body) });
  expect((await post("/streams", { name: "train/rows", partitions: 1 })).status).toBe(201);
  for (let from = 0; from < 40; from += 10) {
    const records = Array.from({ length: 10 }, (_, i) => ({ fields: { n: from + i, pad: "x".repeat(20_000) } }));
    expect((await post("/streams/train%2Frows/records?acks=durable", { records })).status).toBe(200);
  }
  expect((await post("/datasets", { name: "rows", stream: "train/rows" })).status).toBe(201);
  segments = ((await (await fetch(`${g.gw.url}/v1/streams/train%2Frows/partitions/0/segments`)).json()) as { segments: typeof segments }).segments;
});

afterAll(async () => {
  await closeSegmentWorker();
  await g?.gw.kill();
  removeDir(dir);
});

async function httpSegment(base: number): Promise<Uint8Array> {
  return new Uint8Array(await (await fetch(`${g.gw.url}/v1/streams/train%2Frows/partitions/0/segments/${base}`)).arrayBuffer());
}

describe.skipIf(!ready)("segment ranges over UCX", () => {
  test("the dataset's pinned records, read segment by segment over UCX, are HTTP's bytes and decode to the records", async () => {
    const version = (await (await fetch(`${g.gw.url}/v1/datasets/rows/versions/latest`)).json()) as { partitions: { start: number; end: number }[] };
    expect(version.partitions[0]).toMatchObject({ start: 0, end: 40 });
    const reader = new UcxSegmentReader({ gateway: g.gw.url, via: g.ucxUrl });
    const numbers: number[] = [];
    try {
      for (const s of segments) {
        const whole = await httpSegment(s.base);
        const { dataLength } = decodeFooter(whole.subarray(Math.max(0, whole.length - 4096)), whole.length);
        const read = await reader.read({ stream: "train/rows", partition: 0, base: s.base, start: 0, end: dataLength });
        expect(read.via).toBe("ucx");
        expect(Buffer.compare(read.bytes, whole.subarray(0, dataLength))).toBe(0);
        expect(read.next).toBe(dataLength);
        for (const b of read.batches) numbers.push(...decodeBatchRecords(b.bytes, b.header).map((r) => Number(r.fields?.n)));
      }
    } finally {
      await reader.close();
    }
    expect(numbers).toEqual(Array.from({ length: 40 }, (_, i) => i));
  });

  test("a range ending mid-batch returns the whole batches before it and where to go on", async () => {
    const s = segments[0]!;
    const whole = await httpSegment(s.base);
    const { dataLength } = decodeFooter(whole.subarray(Math.max(0, whole.length - 4096)), whole.length);
    const all = verifiedBatches(whole.subarray(0, dataLength), 0).batches;
    const first = await readSegmentRangeUcx({ gateway: g.gw.url, via: g.ucxUrl, stream: "train/rows", partition: 0, base: s.base, start: 0, end: dataLength - 1 });
    expect(first.batches.map((b) => b.position)).toEqual(all.slice(0, -1).map((b) => b.position));
    expect(first.next).toBe(all[all.length - 1]!.position);
    const rest = await readSegmentRangeUcx({ gateway: g.gw.url, via: g.ucxUrl, stream: "train/rows", partition: 0, base: s.base, start: first.next, end: dataLength });
    expect(rest.batches.map((b) => b.position)).toEqual([first.next]);
    expect(rest.next).toBe(dataLength);
  });

  test("errors of the gateway are the HTTP codes: an out-of-range request is OFFSET_OUT_OF_RANGE, an unknown segment NOT_FOUND", async () => {
    const s = segments[0]!;
    const reader = new UcxSegmentReader({ gateway: g.gw.url, via: g.ucxUrl });
    try {
      await expect(reader.read({ stream: "train/rows", partition: 0, base: s.base, start: 0, end: s.bytes + 1 })).rejects.toMatchObject({ code: "OFFSET_OUT_OF_RANGE" });
      await expect(reader.read({ stream: "train/rows", partition: 0, base: 999_999, start: 0, end: 10 })).rejects.toMatchObject({ code: "NOT_FOUND" });
    } finally {
      await reader.close();
    }
  });

  test("with UCX unreachable the reader says why once and reads over HTTP", async () => {
    const s = segments[0]!;
    const messages: string[] = [];
    const dead = `ucx://127.0.0.1:${await freePort()}`;
    const reader = new UcxSegmentReader({ gateway: g.gw.url, via: dead, timeoutMs: 10_000, onFallback: (m) => messages.push(m) });
    try {
      const a = await reader.read({ stream: "train/rows", partition: 0, base: s.base, start: 0, end: 64 });
      const b = await reader.read({ stream: "train/rows", partition: 0, base: s.base, start: 0, end: 128 });
      expect([a.via, b.via]).toEqual(["http", "http"]);
      expect(Buffer.compare(b.bytes, (await httpSegment(s.base)).subarray(0, 128))).toBe(0);
    } finally {
      await reader.close();
    }
    expect(messages).toHaveLength(1);
    expect(messages[0]).toContain(`UCX ${dead} failed`);
  });
});
