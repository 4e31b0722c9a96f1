// POST /v1/artefacts against a live gateway: a streamed raw body becomes the same artefact the
// TypeScript push makes (same chunking, same manifest id, safetensors too), only missing chunks are stored, the
// size bound refuses with 413 and stores no manifest, a client that goes away stores no manifest,
// two uploads larger than the in-flight byte cap are served at once, and the route needs publish
// on some stream.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { z } from "zod";
import { encodeManifest, manifestId } from "../../core/artefacts/manifest.ts";
import { chunk } from "../../core/chunking/chunking.ts";
import { parseSafetensorsHeader, writeSafetensors } from "../../core/tensors/safetensors.ts";
import { liveGateway, type LiveGateway } from "../helpers/in-process-gateway.ts";
import { waitFor } from "../edge/edge-fixtures.ts";
import { randomBytes } from "./gateway-fixture.ts";

const MiB = 1024 * 1024;

const answerSchema = z.strictObject({ id: z.string(), size: z.number(), chunks: z.number(), new_chunks: z.number(), new_bytes: z.number() });
const errorSchema = z.object({ error: z.object({ code: z.string() }) });

/** The manifest id the TypeScript push computes for these bytes. */
function pushId(bytes: Uint8Array, mediaType = "application/octet-stream"): string {
  const chunks = chunk(bytes).map((c) => ({ hash: c.hash, length: c.length }));
  return manifestId(encodeManifest({ v: 1, size: bytes.length, mediaType, chunks }));
}

/** A body streamed in uneven pieces, without a Content-Length. */
function streamed(bytes: Uint8Array, piece = 100_003): ReadableStream<Uint8Array> {
  let at = 0;
  return new ReadableStream({
    pull(controller) {
      if (at >= bytes.length) return controller.close();
      controller.enqueue(bytes.slice(at, at + piece));
      at += piece;
    },
  });
}

function post(url: string, body: BodyInit, init: RequestInit = {}, query = ""): Promise<Response> {
  return fetch(`${url}/v1/artefacts${query}`, { method: "POST", body, ...init });
}

async function errorCode(res: Response): Promise<string> {
  return errorSchema.parse(await res.json()).error.code;
}

describe("upload", () => {
  let gw: LiveGateway;
  beforeAll(async () => {
    gw = await liveGateway({ artefacts: { maxUploadBytes: 8 * MiB, maxConcurrentUploads: 1, packIdleMs: 5 } });
  });
  afterAll(async () => {
    await gw?.close();
  });

  test("a streamed body becomes the push's artefact; a changed copy stores only its changed chunks", async () => {
    const first = randomBytes(4 * MiB, 7);
    const res = await post(gw.url, streamed(first), { duplex: "half" } as RequestInit);
    expect(res.status).toBe(201);
    const a = answerSchema.parse(await res.json());
    expect(a.id).toBe(pushId(first));
    expect(a.size).toBe(first.length);
    expect(a.new_chunks).toBe(a.chunks);
    expect(a.new_bytes).toBe(first.length);
    const got = await fetch(`${gw.url}/v1/artefacts/${a.id}`);
    expect(got.status).toBe(200);
    expect(new Uint8Array(await got.arrayBuffer())).toEqual(first);

    // 5 % changed, in two regions: most chunks are held already.
    const second = first.slice();
    second.set(randomBytes(100_000, 8), 500_000);
    second.set(randomBytes(110_000, 9), 3_000_000);
    const res2 = await post(gw.url, second, {}, "?media_type=application/x-checkpoint");
    expect(res2.status).toBe(201);
    const b = answerSchema.parse(await res2.json());
    expect(b.id).toBe(pushId(second, "application/x-checkpoint"));
    expect(b.new_bytes).toBeGreaterThan(0);
    expect(b.new_bytes).toBeLessThan(second.length * 0.25);
    expect(b.new_chunks).toBeLessThan(b.chunks);
    const got2 = await fetch(`${gw.url}/v1/artefacts/${b.id}`);
    expect(got2.headers.get("content-type")).toBe("application/x-checkpoint");
    expect(new Uint8Array(await got2.arrayBuffer())).toEqual(second);

    // The same bytes again store nothing.
    const again = answerSchema.parse(await (await post(gw.url, second, {}, "?media_type=application/x-checkpoint")).json());
    expect(again).toEqual({ ...b, new_chunks: 0, new_bytes: 0 });
  });

  test("a safetensors body is chunked at tensor boundaries and indexed, as the push does it", async () => {
    const tensors = Object.fromEntries(Array.from({ length: 4 }, (_, i) => [`layer${i}.weight`, { dtype: "F32" as const, shape: [256, 256 + i], data: new Float32Array(randomBytes(4 * 256 * (256 + i), 30 + i).buffer) }]));
    const file = writeSafetensors(tensors);
    const header = parseSafetensorsHeader(file);
    const index = Object.fromEntries(header.tensors.map((t) => [t.name, { dtype: t.dtype, shape: t.shape, begin: header.dataStart + t.begin, end: header.dataStart + t.end }]));
    const chunks = chunk(file, { safetensors: true }).map((c) => ({ hash: c.hash, length: c.length }));
    const expected = manifestId(encodeManifest({ v: 1, size: file.length, mediaType: "application/safetensors", chunks, tensors: index }));
    const res = await post(gw.url, streamed(file, 65_537), { duplex: "half" } as RequestInit, "?media_type=application/safetensors");
    expect(res.status).toBe(201);
    expect(answerSchema.parse(await res.json()).id).toBe(expected);
    const notSafetensors = await post(gw.url, randomBytes(100_000, 40), {}, "?media_type=application/safetensors");
    expect(notSafetensors.status).toBe(422);
    expect(await errorCode(notSafetensors)).toBe("INVALID_SAFETENSORS");
  });

  test("an empty body is an empty artefact", async () => {
    const res = await post(gw.url, new Uint8Array(0));
    expect(res.status).toBe(201);
    const a = answerSchema.parse(await res.json());
    expect(a).toEqual({ id: pushId(new Uint8Array(0)), size: 0, chunks: 0, new_chunks: 0, new_bytes: 0 });
  });

  test("past maxUploadBytes: 413, by the header or as the body streams, and no manifest", async () => {
    const big = randomBytes(8 * MiB + 1, 11);
    const byHeader = await post(gw.url, big);
    expect(byHeader.status).toBe(413);
    expect(await errorCode(byHeader)).toBe("PAYLOAD_TOO_LARGE");
    const byCount = await post(gw.url, streamed(big, 1 * MiB), { duplex: "half" } as RequestInit);
    expect(byCount.status).toBe(413);
    expect(await errorCode(byCount)).toBe("PAYLOAD_TOO_LARGE");
    expect((await fetch(`${gw.url}/v1/artefacts/${pushId(big)}`)).status).toBe(404);
  });

  test("a bad media_type is 400", async () => {
    const res = await post(gw.url, new Uint8Array(10), {}, "?media_type=%0Abad");
    expect(res.status).toBe(400);
  });

  test("a client that goes away midway stores no manifest; the upload slot is freed", async () => {
    const bytes = randomBytes(3 * MiB, 13);
    const abort = new AbortController();
    let sent = 0;
    let release!: () => void;
    const halfway = new Promise<void>((resolve) => (release = resolve));
    const body = new ReadableStream<Uint8Array>({
      async pull(controller) {
        if (sent >= 1 * MiB) {
          release();
          return new Promise(() => undefined); // never sends the rest
        }
        controller.enqueue(bytes.slice(sent, sent + 256 * 1024));
        sent += 256 * 1024;
      },
    });
    const pending = post(gw.url, body, { duplex: "half", signal: abort.signal } as RequestInit).catch((e: unknown) => e);
    await halfway;
    // One upload at a time (maxConcurrentUploads 1): a second one is refused while it runs.
    await waitFor(async () => (await post(gw.url, new Uint8Array(10))).status === 503, 10_000, "the second upload refused");
    abort.abort();
    await pending;
    // The slot frees once the gateway sees the disconnect.
    await waitFor(async () => (await post(gw.url, new Uint8Array(10))).status === 201, 10_000, "the upload slot freed");
    expect((await fetch(`${gw.url}/v1/artefacts/${pushId(bytes)}`)).status).toBe(404);
  });
});

test("uploads are exempt from the in-flight byte cap: two larger than it are served at once", async () => {
  const gw = await liveGateway({ limits: { maxRecordBytes: 32 * 1024, maxRequestBytes: 64 * 1024, maxRequestBytesInFlight: 64 * 1024 }, artefacts: { packIdleMs: 5 } });
  try {
    const bytes = randomBytes(2 * MiB, 17);
    // Two uploads larger than the cap, at once: both are served.
    const [a, b] = await Promise.all([post(gw.url, bytes), post(gw.url, bytes.slice().reverse())]);
    expect([a.status, b.status]).toEqual([201, 201]);
  } finally {
    await gw.close();
  }
});

test("the upload needs publish on some stream", async () => {
  const adminToken = "a".repeat(40);
  const gw = await liveGateway({ auth: { enabled: true, adminToken } });
  try {
    const issue = async (scopes: { action: string; streams: string }[]): Promise<string> => {
      const res = await fetch(`${gw.url}/v1/tokens`, { method: "POST", headers: { authorization: `Bearer ${adminToken}`, "content-type": "application/json" }, body: JSON.stringify({ subject: "rank", scopes, ttl_s: 600 }) });
      expect(res.status).toBe(201);
      return z.object({ token: z.string() }).parse(await res.json()).token;
    };
    const reader = await issue([{ action: "consume", streams: "jobs/>" }]);
    const writer = await issue([{ action: "publish", streams: "jobs/>" }]);
    const body = randomBytes(10_000, 19);
    expect((await post(gw.url, body)).status).toBe(401);
    expect((await post(gw.url, body, { headers: { authorization: `Bearer ${reader}` } })).status).toBe(403);
    expect((await post(gw.url, body, { headers: { authorization: `Bearer ${writer}` } })).status).toBe(201);
  } finally {
    await gw.close();
  }
});
