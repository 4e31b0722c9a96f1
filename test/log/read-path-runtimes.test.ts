// Large MessagePack raw reads (bodies streamed as parts) and a small one (joined, with a
// Content-Length) answer the same records under Bun, Deno and Node as the JSON form does.
import { afterAll, beforeAll, expect, test } from "bun:test";
import { Decoder } from "@msgpack/msgpack";
import { extensionCodec } from "../../core/log/extensions.ts";
import { ensureNodeBuild, removeDir, startGateway, tempDir, type Runtime } from "../helpers/gateway.ts";

const decoder = new Decoder({ extensionCodec });
const dataDir = tempDir();
beforeAll(() => ensureNodeBuild());
afterAll(() => removeDir(dataDir));

const runtimes: Runtime[] = ["bun", "deno", "node"];
const STREAM = "read-path%2Fruntimes";
/** Records of 300 KiB: every read of one or more is a streamed body (256 KiB or more). */
const blob = (i: number): string => btoa(String.fromCharCode(i & 0xff).repeat(300 * 1024));

test.each(runtimes.map((r, i) => [r, i] as const))(
  "%s answers large and small raw reads with the records of the JSON form",
  async (runtime, index) => {
    const gateway = await startGateway({ runtime, dataDir, timeoutMs: 60_000 });
    try {
      const v1 = `${gateway.url}/v1`;
      if (index === 0) {
        expect((await fetch(`${v1}/streams`, { method: "POST", body: JSON.stringify({ name: "read-path/runtimes", partitions: 1 }) })).status).toBe(201);
      }
      const records = Array.from({ length: 4 }, (_, j) => ({ key: null, fields: { i: index * 4 + j, data: { $base64: blob(index * 4 + j) } } }));
      const published = await fetch(`${v1}/streams/${STREAM}/records`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ records }) });
      expect(published.status).toBe(200);
      for (const maxBytes of [16 << 20, 1]) {
        const url = `${v1}/streams/${STREAM}/partitions/0/records?offset=0&max_bytes=${maxBytes}`;
        const packed = await fetch(url, { headers: { accept: "application/msgpack" } });
        expect(packed.status).toBe(200);
        const answer = decoder.decode(new Uint8Array(await packed.arrayBuffer())) as { records: { offset: number; fields: { i: number; data: Uint8Array } }[]; next_offset: number };
        const json = (await (await fetch(url)).json()) as { records: { offset: number; fields: { i: number; data: { $base64: string } } }[]; next_offset: number };
        expect(answer.records.length).toBe(maxBytes === 1 ? 1 : 4 * (index + 1));
        expect(answer.records.map((r) => r.offset)).toEqual(json.records.map((r) => r.offset));
        expect(answer.next_offset).toBe(json.next_offset);
        for (const [k, r] of answer.records.entries()) {
          expect(r.fields.i).toBe(k);
          expect(Buffer.from(r.fields.data).toString("base64")).toBe(json.records[k]!.fields.data.$base64);
          expect(Buffer.from(r.fields.data).toString("base64")).toBe(blob(k));
        }
      }
      // An empty read at the end is a small body: joined, with its length.
      const end = 4 * (index + 1);
      const empty = await fetch(`${v1}/streams/${STREAM}/partitions/0/records?offset=${end}`, { headers: { accept: "application/msgpack" } });
      const bytes = new Uint8Array(await empty.arrayBuffer());
      expect(empty.headers.get("content-length")).toBe(String(bytes.length));
      expect(decoder.decode(bytes)).toEqual({ records: [], next_offset: end, end_offset: end });
    } finally {
      await gateway.stop();
    }
  },
  120_000,
);
