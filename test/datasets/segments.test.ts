// Raw committed segments over HTTP against a real gateway process: the listing matches what was
// sealed, a whole segment decodes as batches holding the published records, Range reads are the
// same bytes, and ETag, HEAD, unknown segments and unsatisfiable ranges behave.
import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { z } from "zod";
import { decodeBatchRecords, readBatchHeader } from "../../core/log/batch.ts";
import { decodeFooter } from "../../gateway/log/segment-format.ts";
import { type GatewayProcess, removeDir, startGateway, tempDir } from "../helpers/gateway.ts";

setDefaultTimeout(60_000);

let gw: GatewayProcess;
const dataDir = tempDir("strata-segments-");
const segmentsSchema = z.object({ segments: z.array(z.object({ base: z.number(), end: z.number(), bytes: z.number() })) });
const base = () => `${gw.url}/v1/streams/raw%2Fseg/partitions/0/segments`;

beforeAll(async () => {
  const config = join(dataDir, "config.json");
  writeFileSync(config, JSON.stringify({ storage: { segmentMs: 20 } }));
  gw = await startGateway({ dataDir, args: ["--config", config] });
  const post = (path: string, body: unknown) => fetch(`${gw.url}/v1${path}`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body) });
  expect((await post("/streams", { name: "raw/seg", partitions: 1 })).status).toBe(201);
  // acks=durable answers once the records are in a committed segment.
  for (const from of [0, 3]) {
    const records = Array.from({ length: 3 }, (_, i) => ({ fields: { n: from + i, pad: "x".repeat(100) } }));
    expect((await post("/streams/raw%2Fseg/records?acks=durable", { records })).status).toBe(200);
  }
});

afterAll(async () => {
  await gw.stop();
  removeDir(dataDir);
});

describe("raw segments", () => {
  test("the listing covers the durable records; a whole segment decodes to them; ranges are its bytes", async () => {
    const { segments } = segmentsSchema.parse(await (await fetch(base())).json());
    expect(segments.length).toBeGreaterThanOrEqual(1);
    expect(segments[0]!.base).toBe(0);
    for (let i = 1; i < segments.length; i++) expect(segments[i]!.base).toBe(segments[i - 1]!.end);
    expect(segments[segments.length - 1]!.end).toBe(6);

    const numbers: number[] = [];
    for (const s of segments) {
      const whole = await fetch(`${base()}/${s.base}`);
      expect(whole.status).toBe(200);
      expect(whole.headers.get("accept-ranges")).toBe("bytes");
      const bytes = new Uint8Array(await whole.arrayBuffer());
      expect(bytes.length).toBe(s.bytes);
      const footer = decodeFooter(bytes.subarray(bytes.length - Math.min(bytes.length, 4096)), bytes.length);
      expect([footer.baseOffset, footer.endOffset]).toEqual([s.base, s.end]);
      let at = 0;
      while (at < footer.dataLength) {
        const header = readBatchHeader(bytes.subarray(at), { verifyCrc: true });
        if (header === null) throw new Error(`no batch at ${at}`);
        numbers.push(...decodeBatchRecords(bytes.subarray(at, at + header.length), header).map((r) => Number(r.fields?.n)));
        at += header.length;
      }
      const ranged = await fetch(`${base()}/${s.base}`, { headers: { range: "bytes=10-49" } });
      expect(ranged.status).toBe(206);
      expect(ranged.headers.get("content-range")).toBe(`bytes 10-49/${s.bytes}`);
      expect(new Uint8Array(await ranged.arrayBuffer())).toEqual(bytes.subarray(10, 50));
      const etag = whole.headers.get("etag")!;
      expect((await fetch(`${base()}/${s.base}`, { headers: { "if-none-match": etag } })).status).toBe(304);
      const head = await fetch(`${base()}/${s.base}`, { method: "HEAD" });
      expect(head.status).toBe(200);
      expect(head.headers.get("content-length")).toBe(String(s.bytes));
      expect((await fetch(`${base()}/${s.base}`, { headers: { range: `bytes=${s.bytes}-` } })).status).toBe(416);
    }
    expect(numbers).toEqual([0, 1, 2, 3, 4, 5]);
  });

  test("an unknown segment, partition or stream is refused", async () => {
    expect((await fetch(`${base()}/1`)).status).toBe(404);
    expect((await fetch(`${gw.url}/v1/streams/raw%2Fseg/partitions/7/segments`)).status).toBe(404);
    expect((await fetch(`${gw.url}/v1/streams/none/partitions/0/segments`)).status).toBe(404);
    expect((await fetch(`${base()}/x`)).status).toBe(400);
  });
});
