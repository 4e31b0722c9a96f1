// GET /v1/artefacts/{id} against a live gateway: the whole artefact and many random ranges
// across chunk and read-block boundaries match the file byte for byte; suffix and open ranges,
// 416, 304, If-Range, HEAD and the empty artefact.
import { afterAll, beforeAll, expect, test } from "bun:test";
import { liveGateway, type LiveGateway } from "../helpers/in-process-gateway.ts";
import { chunkFile, errorCode, randomBytes, upload, type ChunkedFile } from "./gateway-fixture.ts";

let gw: LiveGateway;
let file: ChunkedFile;

beforeAll(async () => {
  // Small read blocks so ranges also cross block boundaries inside packs.
  gw = await liveGateway({ artefacts: { maxChunkBytes: 64 * 1024, maxChunkRequestBytes: 1024 * 1024, readBlockBytes: 20_000, packMaxBytes: 300_000, packIdleMs: 5, memoryCacheBytes: 100_000, diskCacheBytes: 200_000 } });
  file = chunkFile(randomBytes(1_000_003, 31), "application/x-test");
  await upload(gw.url, file);
});
afterAll(async () => {
  await gw?.close();
});

function get(headers: Record<string, string> = {}, method = "GET"): Promise<Response> {
  return fetch(`${gw.url}/v1/artefacts/${file.id}`, { method, headers });
}

test("the whole artefact, with its headers", async () => {
  const res = await get();
  expect(res.status).toBe(200);
  expect(res.headers.get("content-type")).toBe("application/x-test");
  expect(res.headers.get("content-length")).toBe(String(file.bytes.length));
  expect(res.headers.get("etag")).toBe(`"${file.id}"`);
  expect(res.headers.get("accept-ranges")).toBe("bytes");
  expect(new Uint8Array(await res.arrayBuffer()) as Uint8Array).toEqual(file.bytes);
});

test("random ranges across chunk boundaries match the file byte for byte", async () => {
  let seed = 12345;
  const rand = (n: number) => {
    seed = (seed * 1103515245 + 12345) % 2 ** 31;
    return seed % n;
  };
  const size = file.bytes.length;
  const boundaries = file.chunks.map((c) => c.offset);
  for (let i = 0; i < 120; i++) {
    let a: number;
    let b: number;
    if (i % 3 === 0) {
      // Straddle a chunk boundary exactly.
      const cut = boundaries[1 + rand(boundaries.length - 1)]!;
      a = Math.max(0, cut - 1 - rand(3000));
      b = Math.min(size - 1, cut + rand(3000));
    } else {
      a = rand(size);
      b = Math.min(size - 1, a + rand(i % 2 ? 50_000 : 500));
    }
    const res = await get({ range: `bytes=${a}-${b}` });
    expect(res.status).toBe(206);
    expect(res.headers.get("content-range")).toBe(`bytes ${a}-${b}/${size}`);
    expect(res.headers.get("content-length")).toBe(String(b - a + 1));
    const body = new Uint8Array(await res.arrayBuffer());
    expect(body.length).toBe(b - a + 1);
    expect(Buffer.compare(body, file.bytes.subarray(a, b + 1))).toBe(0);
  }
});

test("suffix, open and clipped ranges; unsatisfiable is 416; ignored ranges send the whole body", async () => {
  const size = file.bytes.length;
  let res = await get({ range: "bytes=-1000" });
  expect([res.status, res.headers.get("content-range")]).toEqual([206, `bytes ${size - 1000}-${size - 1}/${size}`]);
  expect(new Uint8Array(await res.arrayBuffer()) as Uint8Array).toEqual(file.bytes.subarray(size - 1000));
  res = await get({ range: `bytes=-${size + 50}` });
  expect([res.status, res.headers.get("content-range")]).toEqual([206, `bytes 0-${size - 1}/${size}`]);
  expect((await res.arrayBuffer()).byteLength).toBe(size);
  res = await get({ range: "bytes=999000-" });
  expect([res.status, res.headers.get("content-range")]).toEqual([206, `bytes 999000-${size - 1}/${size}`]);
  expect(new Uint8Array(await res.arrayBuffer()) as Uint8Array).toEqual(file.bytes.subarray(999000));
  res = await get({ range: `bytes=${size - 10}-${size + 1000}` });
  expect([res.status, res.headers.get("content-range")]).toEqual([206, `bytes ${size - 10}-${size - 1}/${size}`]);
  expect(new Uint8Array(await res.arrayBuffer()) as Uint8Array).toEqual(file.bytes.subarray(size - 10));
  for (const range of [`bytes=${size}-`, `bytes=${size + 5}-${size + 10}`, "bytes=-0"]) {
    res = await get({ range });
    expect([range, res.status, res.headers.get("content-range"), await errorCode(res)]).toEqual([range, 416, `bytes */${size}`, "OFFSET_OUT_OF_RANGE"]);
  }
  for (const range of ["bytes=0-1,5-9", "bytes=9-5", "items=0-5", "bytes=abc"]) {
    res = await get({ range });
    expect([range, res.status]).toEqual([range, 200]);
    expect((await res.arrayBuffer()).byteLength).toBe(size);
  }
});

test("conditional requests: If-None-Match → 304, If-Range honoured only for the ETag; HEAD has no body", async () => {
  const etag = `"${file.id}"`;
  let res = await get({ "if-none-match": etag });
  expect(res.status).toBe(304);
  expect(res.headers.get("etag")).toBe(etag);
  expect((await res.arrayBuffer()).byteLength).toBe(0);
  expect((await get({ "if-none-match": `"other", W/${etag}` })).status).toBe(304);
  res = await get({ "if-none-match": '"other"' });
  expect(res.status).toBe(200);
  await res.arrayBuffer();
  res = await get({ range: "bytes=0-9", "if-range": etag });
  expect(res.status).toBe(206);
  expect(new Uint8Array(await res.arrayBuffer()) as Uint8Array).toEqual(file.bytes.subarray(0, 10));
  res = await get({ range: "bytes=0-9", "if-range": '"stale"' });
  expect(res.status).toBe(200);
  expect((await res.arrayBuffer()).byteLength).toBe(file.bytes.length);
  res = await get({ range: "bytes=10-19" }, "HEAD");
  expect([res.status, res.headers.get("content-length"), res.headers.get("content-range")]).toEqual([206, "10", `bytes 10-19/${file.bytes.length}`]);
  expect((await res.arrayBuffer()).byteLength).toBe(0);
});

test("an empty artefact is served with length 0, and any range of it is 416", async () => {
  const empty = chunkFile(new Uint8Array(0));
  await upload(gw.url, empty);
  let res = await fetch(`${gw.url}/v1/artefacts/${empty.id}`);
  expect([res.status, res.headers.get("content-length")]).toEqual([200, "0"]);
  expect((await res.arrayBuffer()).byteLength).toBe(0);
  res = await fetch(`${gw.url}/v1/artefacts/${empty.id}`, { headers: { range: "bytes=0-" } });
  expect(res.status).toBe(416);
});
