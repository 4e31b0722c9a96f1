// Delta uploads against a live gateway (docs/artefact-protocol.md, "Delta uploads"): the basis's
// block digests, a body of copy and literal frames rebuilt into the same artefact a raw upload of
// the same bytes makes, only the literals on the wire; refusals (unknown basis 404, bad frames
// and out-of-range copies 400, limits 400/413) change nothing: no manifest, no chunk stored.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { createHash } from "node:crypto";
import fc from "fast-check";
import { z } from "zod";
import { encodeManifest, manifestId } from "../../core/artefacts/manifest.ts";
import { chunk } from "../../core/chunking/chunking.ts";
import { bytesToHex } from "../../core/hashing/blake3.ts";
import { deltaFrames, type DeltaOp } from "../../gateway/artefacts/delta-frames.ts";
import { liveGateway, type LiveGateway } from "../helpers/in-process-gateway.ts";
import { randomBytes } from "./gateway-fixture.ts";

const KiB = 1024;
const MiB = 1024 * KiB;
const BLOCK = 64 * KiB;

const uploadSchema = z.strictObject({ id: z.string(), size: z.number(), chunks: z.number(), new_chunks: z.number(), new_bytes: z.number() });
const deltaSchema = uploadSchema.extend({ wire_bytes: z.number() });
const blocksSchema = z.strictObject({ basis: z.string(), size: z.number(), block_size: z.number(), algorithm: z.literal("sha256"), digests: z.array(z.string()) });
const errorSchema = z.object({ error: z.object({ code: z.string(), message: z.string() }) });

function pushId(bytes: Uint8Array, mediaType = "application/octet-stream"): string {
  const chunks = chunk(bytes).map((c) => ({ hash: c.hash, length: c.length }));
  return manifestId(encodeManifest({ v: 1, size: bytes.length, mediaType, chunks }));
}

function copyFrame(index: number, count: number): Uint8Array<ArrayBuffer> {
  const out = new Uint8Array(9);
  const view = new DataView(out.buffer);
  out[0] = 0x43;
  view.setUint32(1, index);
  view.setUint32(5, count);
  return out;
}

function literalFrame(bytes: Uint8Array, declared = bytes.length): Uint8Array<ArrayBuffer> {
  const out = new Uint8Array(5 + bytes.length);
  out[0] = 0x4c;
  new DataView(out.buffer).setUint32(1, declared);
  out.set(bytes, 5);
  return out;
}

function concat(parts: readonly Uint8Array[]): Uint8Array<ArrayBuffer> {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

/** The client's side: blocks equal to the basis's become copies (runs coalesced), the rest literals. */
function encodeDelta(bytes: Uint8Array, basisDigests: readonly string[], blockSize: number): Uint8Array<ArrayBuffer> {
  const frames: Uint8Array[] = [];
  let run: { index: number; count: number } | null = null;
  for (let i = 0; i * blockSize < bytes.length; i++) {
    const block = bytes.subarray(i * blockSize, (i + 1) * blockSize);
    if (basisDigests[i] === createHash("sha256").update(block).digest("hex")) {
      if (run && run.index + run.count === i) run.count++;
      else {
        if (run) frames.push(copyFrame(run.index, run.count));
        run = { index: i, count: 1 };
      }
      continue;
    }
    if (run) frames.push(copyFrame(run.index, run.count));
    run = null;
    frames.push(literalFrame(block));
  }
  if (run) frames.push(copyFrame(run.index, run.count));
  return concat(frames);
}

async function errorOf(res: Response): Promise<{ code: string; message: string }> {
  return errorSchema.parse(await res.json()).error;
}

describe("delta upload", () => {
  let gw: LiveGateway;
  let basis: Uint8Array<ArrayBuffer>;
  let basisId: string;
  let digests: string[];
  /** 5 % of the basis changed in two regions, and a tail appended. */
  let changed: Uint8Array<ArrayBuffer>;

  const postDelta = (body: BodyInit, query: string): Promise<Response> => fetch(`${gw.url}/v1/artefacts?${query}`, { method: "POST", body });
  const missing = async (bytes: Uint8Array): Promise<number> => {
    const hashes = chunk(bytes).map((c) => bytesToHex(c.hash));
    const res = await fetch(`${gw.url}/v1/chunks/missing`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ hashes }) });
    return z.object({ missing: z.array(z.string()) }).parse(await res.json()).missing.length;
  };
  /** Asserts a refused upload of `bytes` left nothing: no manifest, and its new chunks still missing. */
  const nothingStored = async (bytes: Uint8Array, before: number): Promise<void> => {
    expect((await fetch(`${gw.url}/v1/manifests/${pushId(bytes)}`)).status).toBe(404);
    expect(await missing(bytes)).toBe(before);
  };

  beforeAll(async () => {
    gw = await liveGateway({ artefacts: { maxUploadBytes: 8 * MiB, packIdleMs: 5, deltaMinBlockBytes: 16 * KiB, deltaMaxBlockBytes: 1 * MiB, deltaMaxBlocks: 80 } });
    basis = randomBytes(4 * MiB, 21);
    const res = await fetch(`${gw.url}/v1/artefacts`, { method: "POST", body: basis });
    expect(res.status).toBe(201);
    basisId = uploadSchema.parse(await res.json()).id;
    changed = basis.slice();
    changed.set(randomBytes(100_000, 22), 300_000);
    changed.set(randomBytes(110_000, 23), 3_000_000);
    changed = concat([changed, randomBytes(50_000, 24)]);
  });
  afterAll(async () => {
    await gw?.close();
  });

  test("block digests are the sha256 of each block, the last one short", async () => {
    const res = await fetch(`${gw.url}/v1/artefacts/${basisId}/blocks?block_size=${BLOCK}`);
    expect(res.status).toBe(200);
    const answer = blocksSchema.parse(await res.json());
    expect(answer).toMatchObject({ basis: basisId, size: basis.length, block_size: BLOCK });
    expect(answer.digests.length).toBe(basis.length / BLOCK);
    answer.digests.forEach((d, i) => expect(d).toBe(createHash("sha256").update(basis.subarray(i * BLOCK, (i + 1) * BLOCK)).digest("hex")));
    digests = answer.digests;
    const odd = blocksSchema.parse(await (await fetch(`${gw.url}/v1/artefacts/${basisId}/blocks?block_size=${100 * KiB}`)).json());
    expect(odd.digests.length).toBe(Math.ceil(basis.length / (100 * KiB)));
    expect(odd.digests.at(-1)).toBe(createHash("sha256").update(basis.subarray(40 * 100 * KiB)).digest("hex"));
  });

  test("a 5 %-changed file moves its changed blocks and is the artefact a raw upload makes", async () => {
    const body = encodeDelta(changed, digests, BLOCK);
    // Two regions of about 100 KB (each over at most 3 blocks) and the 50 KB tail.
    expect(body.length).toBeLessThan(8 * BLOCK);
    const res = await postDelta(body, `basis=${basisId}&block_size=${BLOCK}`);
    expect(res.status).toBe(201);
    const answer = deltaSchema.parse(await res.json());
    expect(answer.id).toBe(pushId(changed));
    expect(answer.size).toBe(changed.length);
    expect(answer.wire_bytes).toBe(body.length);
    expect(answer.new_bytes).toBeLessThan(changed.length * 0.25);
    const got = await fetch(`${gw.url}/v1/artefacts/${answer.id}`);
    expect(new Uint8Array(await got.arrayBuffer())).toEqual(changed);
    // The rebuilt file's digests were kept as it was hashed: the next checkpoint's basis.
    const next = blocksSchema.parse(await (await fetch(`${gw.url}/v1/artefacts/${answer.id}/blocks?block_size=${BLOCK}`)).json());
    expect(next.digests).toEqual(Array.from({ length: Math.ceil(changed.length / BLOCK) }, (_, i) => createHash("sha256").update(changed.subarray(i * BLOCK, (i + 1) * BLOCK)).digest("hex")));
    // The raw upload of the same bytes names the same artefact and stores nothing new.
    const raw = uploadSchema.parse(await (await fetch(`${gw.url}/v1/artefacts`, { method: "POST", body: changed })).json());
    expect(raw.id).toBe(answer.id);
    expect(raw.new_chunks).toBe(0);
  });

  test("media_type is kept, as by the raw upload; an all-copy body rebuilds the basis", async () => {
    const res = await postDelta(copyFrame(0, digests.length), `basis=${basisId}&block_size=${BLOCK}&media_type=application/x-checkpoint`);
    expect(res.status).toBe(201);
    const answer = deltaSchema.parse(await res.json());
    expect(answer).toMatchObject({ id: pushId(basis, "application/x-checkpoint"), size: basis.length, wire_bytes: 9, new_bytes: 0 });
  });

  test("an unknown basis is 404, a basis that is not an id 400, nothing stored", async () => {
    const literal = randomBytes(20_000, 31);
    const before = await missing(literal);
    const unknown = await postDelta(literalFrame(literal), `basis=${"0".repeat(64)}&block_size=${BLOCK}`);
    expect(unknown.status).toBe(404);
    expect((await errorOf(unknown)).code).toBe("NOT_FOUND");
    expect((await fetch(`${gw.url}/v1/artefacts/${"0".repeat(64)}/blocks?block_size=${BLOCK}`)).status).toBe(404);
    expect((await postDelta(literalFrame(literal), `basis=nope&block_size=${BLOCK}`)).status).toBe(400);
    await nothingStored(literal, before);
  });

  test("bad frames are 400 naming the frame; nothing stored", async () => {
    const literal = randomBytes(30_000, 32);
    const before = await missing(literal);
    const cases: [Uint8Array<ArrayBuffer>, string][] = [
      [concat([literalFrame(literal), copyFrame(digests.length - 1, 2)]), "delta frame 1 (body byte 30005): copy of blocks [63, 65) is out of range"],
      [concat([literalFrame(literal), new Uint8Array([0x58, 0, 0])]), "delta frame 1 (body byte 30005): unknown frame type 0x58"],
      [concat([literalFrame(literal), copyFrame(0, 0)]), "delta frame 1 (body byte 30005): a copy of 0 blocks"],
      [literalFrame(literal, literal.length + 1), "delta frame 0 (body byte 0): the body ends 1 bytes short of the literal"],
      [concat([literalFrame(literal), copyFrame(0, 1).subarray(0, 4)]), "delta frame 1 (body byte 30005): the body ends inside the frame's header"],
      [literalFrame(new Uint8Array(0)), "delta frame 0 (body byte 0): a literal of 0 bytes"],
      [concat([new Uint8Array([0x4c]), new Uint8Array([0, 0x20, 0, 1])]), "a literal of 2097153 bytes (1 to 1048576"],
    ];
    for (const [body, message] of cases) {
      const res = await postDelta(body, `basis=${basisId}&block_size=${BLOCK}`);
      expect(res.status).toBe(400);
      const error = await errorOf(res);
      expect(error.code).toBe("BAD_REQUEST");
      expect(error.message).toContain(message);
    }
    await nothingStored(literal, before);
  });

  test("limits: block_size outside its range 400, too many blocks 413, too large 413; nothing stored", async () => {
    const literal = randomBytes(40_000, 33);
    const before = await missing(literal);
    for (const size of [String(8 * KiB), String(2 * MiB), "65536.5", "big"]) {
      expect((await postDelta(literalFrame(literal), `basis=${basisId}&block_size=${size}`)).status).toBe(400);
      expect((await fetch(`${gw.url}/v1/artefacts/${basisId}/blocks?block_size=${size}`)).status).toBe(400);
    }
    // 4 MiB in 32 KiB blocks is 128 blocks, more than deltaMaxBlocks (80).
    expect((await postDelta(literalFrame(literal), `basis=${basisId}&block_size=${32 * KiB}`)).status).toBe(413);
    expect((await fetch(`${gw.url}/v1/artefacts/${basisId}/blocks?block_size=${32 * KiB}`)).status).toBe(413);
    // The rebuilt file past maxUploadBytes (8 MiB): three copies of the 4 MiB basis.
    const tooBig = await postDelta(concat([literalFrame(literal), copyFrame(0, 64), copyFrame(0, 64), copyFrame(0, 64)]), `basis=${basisId}&block_size=${BLOCK}`);
    expect(tooBig.status).toBe(413);
    expect((await errorOf(tooBig)).code).toBe("PAYLOAD_TOO_LARGE");
    await nothingStored(literal, before);
  });
});

test("the delta routes need publish on some stream, as the raw upload", async () => {
  const adminToken = "a".repeat(40);
  const gw = await liveGateway({ auth: { enabled: true, adminToken }, artefacts: { packIdleMs: 5 } });
  try {
    const issue = async (scopes: { action: string; streams: string }[]): Promise<string> => {
      const res = await fetch(`${gw.url}/v1/tokens`, { method: "POST", headers: { authorization: `Bearer ${adminToken}`, "content-type": "application/json" }, body: JSON.stringify({ subject: "rank", scopes, ttl_s: 600 }) });
      expect(res.status).toBe(201);
      return z.object({ token: z.string() }).parse(await res.json()).token;
    };
    const reader = await issue([{ action: "consume", streams: "jobs/>" }]);
    const writer = await issue([{ action: "publish", streams: "jobs/>" }]);
    const basis = randomBytes(600 * KiB, 41);
    const raw = await fetch(`${gw.url}/v1/artefacts`, { method: "POST", body: basis, headers: { authorization: `Bearer ${writer}` } });
    const id = uploadSchema.parse(await raw.json()).id;
    const blocks = `${gw.url}/v1/artefacts/${id}/blocks?block_size=${256 * KiB}`;
    const delta = `${gw.url}/v1/artefacts?basis=${id}&block_size=${256 * KiB}`;
    const as = (token?: string): RequestInit => (token ? { headers: { authorization: `Bearer ${token}` } } : {});
    expect((await fetch(blocks, as())).status).toBe(401);
    expect((await fetch(blocks, as(reader))).status).toBe(403);
    expect((await fetch(blocks, as(writer))).status).toBe(200);
    expect((await fetch(delta, { method: "POST", body: copyFrame(0, 3) })).status).toBe(401);
    expect((await fetch(delta, { method: "POST", body: copyFrame(0, 3), ...as(reader) })).status).toBe(403);
    const ok = await fetch(delta, { method: "POST", body: copyFrame(0, 3), ...as(writer) });
    expect(ok.status).toBe(201);
    expect(deltaSchema.parse(await ok.json()).id).toBe(id);
  } finally {
    await gw.close();
  }
});

test("the frame parser answers the same operations however the body is cut into pieces", async () => {
  const frame = fc.oneof(
    fc.record({ kind: fc.constant("copy" as const), index: fc.nat({ max: 2 ** 32 - 1 }), count: fc.integer({ min: 1, max: 2 ** 32 - 1 }) }),
    fc.record({ kind: fc.constant("literal" as const), bytes: fc.uint8Array({ minLength: 1, maxLength: 300 }) }),
  );
  await fc.assert(
    fc.asyncProperty(fc.array(frame, { maxLength: 20 }), fc.array(fc.integer({ min: 1, max: 64 }), { minLength: 1, maxLength: 8 }), async (frames, cuts) => {
      const body = concat(frames.map((f) => (f.kind === "copy" ? copyFrame(f.index, f.count) : literalFrame(f.bytes))));
      async function* pieces(): AsyncGenerator<Uint8Array> {
        for (let at = 0, i = 0; at < body.length; i++) {
          const n = cuts[i % cuts.length]!;
          yield body.subarray(at, at + n);
          at += n;
        }
      }
      const ops: DeltaOp[] = [];
      let seen = 0;
      for await (const op of deltaFrames(pieces(), { maxLiteralBytes: 300, onBytes: (n) => (seen = n) })) ops.push(op);
      expect(seen).toBe(body.length);
      // Literal pieces of one frame joined again.
      const joined: ({ kind: "copy"; index: number; count: number } | { kind: "literal"; bytes: Uint8Array })[] = [];
      let last = -1;
      for (const op of ops) {
        if (op.kind === "copy") joined.push({ kind: "copy", index: op.index, count: op.count });
        else if (op.frame === last) {
          const prev = joined.at(-1)!;
          if (prev.kind === "literal") prev.bytes = concat([prev.bytes, op.bytes]);
        } else joined.push({ kind: "literal", bytes: op.bytes.slice() });
        last = op.frame;
      }
      expect(joined).toEqual(frames);
    }),
    { numRuns: 200 },
  );
});
