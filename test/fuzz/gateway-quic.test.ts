// Generated QUIC frames against a real gateway process (`strata serve --quic-port 0`): each input
// goes on a connection of its own (after hello on the control stream most of the time, on a
// second stream otherwise). No answer is a 5xx error frame, the gateway ends every stream within
// ANSWER_TIMEOUT_MS, and a stream whose every answer is an error changes no state (catalog,
// offsets, groups; read over HTTP). A compacted stream next to the fuzzed one is the target of
// keyed publishes (tombstones among them) and of `latest` requests, which the plain stream refuses.
import { afterAll, beforeAll, expect, test } from "bun:test";
import fc from "fast-check";
import { ERROR_STATUS, StrataError, type ErrorCode } from "../../core/errors.ts";
import { frameHeader, type Frame } from "../../core/quic/frames.ts";
import { FrameReader, QUIC_CODE_CANCELLED, type QuicDuplex } from "../../core/quic/stream.ts";
import { withTimeout } from "../../core/quic/timeout.ts";
import { connectQuic } from "../../runtime/quic/connect.ts";
import { removeDir, startGateway, type GatewayProcess } from "../helpers/gateway.ts";
import { HELLO } from "../quic/quic-fixture.ts";
import { bytesLike, concat, encodeMsgpackValue, fieldsValue } from "./arbitraries.ts";
import { gatewayState } from "./gateway-state.ts";
import { FUZZ_GROUPS, FUZZ_PARTITIONS, FUZZ_STREAM } from "./http-requests.ts";
import { quicFrameObject } from "./targets.ts";

const STREAMS = 300;
const ANSWER_TIMEOUT_MS = 10_000;
const seed = Number(process.env.STRATA_FUZZ_SEED ?? 20261130);
/** A compacted stream (docs/compaction.md): `latest` answers on it, and is refused on FUZZ_STREAM. */
const COMPACTED_STREAM = "fuzz/c";
const COMPACTED_KEYS = ["k1", "k2", "k3"] as const;
/** Long-polls of `latest` wait at most this long (the watermark of beforeAll may still be current). */
const MAX_LATEST_WAIT_MS = 100;

let gw: GatewayProcess;
let quic: { host: string; port: number; fingerprint: string };
/** The compacted stream's watermark after beforeAll's publish, for `after` in generated requests. */
let compactedWatermark = "";

async function waitFor<T>(what: string, probe: () => T | undefined, timeoutMs = 30_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}:\n${gw.output()}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

beforeAll(async () => {
  gw = await startGateway({ args: ["--quic-port", "0"] });
  quic = await waitFor("the QUIC listening line", () => {
    const m = /QUIC listening on quic:\/\/([^:\s]+):(\d+) .*SHA-256 fingerprint ([0-9a-fA-F:]+)/.exec(gw.output());
    return m ? { host: m[1]!, port: Number(m[2]), fingerprint: m[3]! } : undefined;
  });
  const created = await fetch(`${gw.url}/v1/streams`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ name: FUZZ_STREAM, partitions: FUZZ_PARTITIONS }) });
  expect(created.status).toBe(201);
  const compacted = await fetch(`${gw.url}/v1/streams`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ name: COMPACTED_STREAM, partitions: FUZZ_PARTITIONS, cleanup: "compact" }) });
  expect(compacted.status).toBe(201);
  // k1 and k2 live, k3 written then tombstoned.
  const records = [{ key: "k1", fields: { n: 1 } }, { key: "k2", fields: { n: 2 } }, { key: "k3", fields: { n: 3 } }, { key: "k3", fields: null }];
  const published = await fetch(`${gw.url}/v1/streams/${encodeURIComponent(COMPACTED_STREAM)}/records`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ records }) });
  expect(published.status).toBe(200);
  const latest = await fetch(`${gw.url}/v1/streams/${encodeURIComponent(COMPACTED_STREAM)}/latest`);
  expect(latest.status).toBe(200);
  compactedWatermark = ((await latest.json()) as { watermark: string }).watermark;
}, 60_000);

afterAll(async () => {
  await gw?.stop();
  if (gw) removeDir(gw.dataDir);
});

const requestId = fc.nat(1000);
const partition = fc.nat(FUZZ_PARTITIONS - 1);

/** Requests a client would send on the control stream (then mutated or not): the inputs that reach the services. */
const controlRequest = fc.oneof(
  fc.record({ t: fc.constant("publish"), id: requestId, stream: fc.constant(FUZZ_STREAM), records: fc.array(fc.record({ fields: fieldsValue, partition }, { requiredKeys: ["fields"] }), { minLength: 1, maxLength: 3 }), acks: fc.constantFrom("local", "durable") }, { requiredKeys: ["t", "id", "stream", "records"] }),
  fc.record({ t: fc.constant("fetch"), id: requestId, stream: fc.constant(FUZZ_STREAM), partition, offset: fc.nat(3), max_records: fc.integer({ min: 1, max: 10 }), fields: fc.array(fc.string({ maxLength: 3 }), { maxLength: 2 }) }, { requiredKeys: ["t", "id", "stream", "partition", "offset"] }),
  fc.record({ t: fc.constant("commit"), id: requestId, group: fc.constantFrom(...FUZZ_GROUPS), stream: fc.constant(FUZZ_STREAM), partition, offset: fc.nat(3) }),
  fc.record({ t: fc.constant("stream-info"), id: requestId, stream: fc.constantFrom(FUZZ_STREAM, "missing/s") }),
  fc.record({ t: fc.constant("stream-create"), id: requestId, name: fc.string({ minLength: 1, maxLength: 8 }).map((n) => `fuzz/q-${n}`), partitions: fc.integer({ min: 1, max: 2 }) }),
  fc.record({ t: fc.constant("chunks-missing"), id: requestId, hashes: fc.array(fc.uint8Array({ minLength: 32, maxLength: 32 }), { maxLength: 3 }) }),
  // Keyed records on the compacted stream; nil fields are a tombstone.
  fc.record({ t: fc.constant("publish"), id: requestId, stream: fc.constantFrom(COMPACTED_STREAM, FUZZ_STREAM), records: fc.array(fc.record({ key: fc.constantFrom(...COMPACTED_KEYS), fields: fc.oneof({ weight: 2, arbitrary: fieldsValue }, fc.constant(null)), partition }, { requiredKeys: ["key", "fields"] }), { minLength: 1, maxLength: 3 }) }),
  fc.record(
    {
      t: fc.constant("latest"),
      id: requestId,
      stream: fc.constantFrom(COMPACTED_STREAM, COMPACTED_STREAM, FUZZ_STREAM, "missing/s"),
      key: fc.oneof(fc.constantFrom(...COMPACTED_KEYS, "absent"), fc.uint8Array({ maxLength: 4 })),
      // A function: the watermark is read in beforeAll, after the arbitraries are built.
      after: fc.oneof(fc.constant(() => compactedWatermark), fc.constant(() => "stale")),
      wait_ms: fc.nat(MAX_LATEST_WAIT_MS),
    },
    { requiredKeys: ["t", "id", "stream"] },
  ).map(({ after, ...request }) => (after === undefined ? request : { ...request, after: after() })),
);

/** Frames of one request stream: a request or any frame map (its bytes mutated or not), after hello or alone. */
const streamInput = fc.record({
  hello: fc.oneof({ weight: 4, arbitrary: fc.constant(true) }, fc.constant(false)),
  bytes: bytesLike(fc.oneof({ weight: 2, arbitrary: controlRequest }, { weight: 1, arbitrary: quicFrameObject }).map((frame) => {
    const payload = encodeMsgpackValue(frame);
    return concat([frameHeader(payload.length), payload]);
  })),
});

function isErrorFrame(frame: Frame): boolean {
  return frame.t === "error";
}

function statusOf(frame: Frame): number {
  const code = frame.code;
  if (typeof code !== "string" || !Object.hasOwn(ERROR_STATUS, code)) throw new Error(`error frame with unknown code ${String(code)}: ${JSON.stringify(frame)}`);
  return ERROR_STATUS[code as ErrorCode];
}

/** Reads a stream's answers until the gateway ends it, or starts raw chunk bytes (a chunks answer). */
async function answers(stream: QuicDuplex): Promise<Frame[]> {
  const reader = new FrameReader(stream.chunks, 1 << 20);
  const frames: Frame[] = [];
  for (let frame = await reader.next(); frame !== null; frame = await reader.next()) {
    frames.push(frame);
    if (frame.t === "chunks") {
      stream.abort(QUIC_CODE_CANCELLED);
      break;
    }
  }
  return frames;
}

/**
 * Sends one input on a connection of its own (a protocol error may close a whole connection, and a
 * closing connection answers UNAVAILABLE by design): after hello on the same stream (a control
 * stream), or on a second stream once hello succeeded on a first (a bulk stream, or a stray frame).
 */
async function exchange(input: { hello: boolean; bytes: Uint8Array }): Promise<Frame[]> {
  const connection = await connectQuic({ host: "127.0.0.1", port: quic.port, fingerprint: quic.fingerprint });
  try {
    const control = await connection.openBidi();
    if (input.hello) {
      await control.write(concat([HELLO, input.bytes]));
      await control.end();
      return await answers(control);
    }
    await control.write(HELLO);
    const reader = new FrameReader(control.chunks, 1 << 20);
    const hello = await reader.next();
    if (hello?.t !== "hello-ok") throw new Error(`hello answered ${JSON.stringify(hello)}`);
    const stream = await connection.openBidi();
    await stream.write(input.bytes);
    await stream.end();
    return await answers(stream);
  } finally {
    await connection.close();
  }
}

test(`${STREAMS} generated QUIC streams: never a 5xx error frame, every stream ended, a refused one changes no state`, async () => {
  let before = await gatewayState(gw.url);
  let answered = 0;
  let latestAnswered = 0;
  await fc.assert(
    fc.asyncProperty(streamInput, async (input) => {
      const what = `${input.hello ? "after hello" : "on a second stream"}: bytes (hex) ${Buffer.from(input.bytes).toString("hex").slice(0, 400)}`;
      const frames = await withTimeout(exchange(input), ANSWER_TIMEOUT_MS, () => new StrataError("UNAVAILABLE", `no end of the answers within ${ANSWER_TIMEOUT_MS} ms to ${what}`));
      const answers = frames.filter((f) => f.t !== "hello-ok");
      for (const f of answers.filter(isErrorFrame)) {
        if (statusOf(f) >= 500) throw new Error(`${what} answered ${JSON.stringify(f)}`);
      }
      if (answers.some((f) => !isErrorFrame(f))) answered++;
      if (answers.some((f) => f.t === "latest-records")) latestAnswered++;
      const after = await gatewayState(gw.url);
      if (answers.length > 0 && answers.every(isErrorFrame) && after !== before) {
        throw new Error(`${what} was refused (${JSON.stringify(answers)}) but changed the state:\nbefore ${before}\nafter  ${after}`);
      }
      before = after;
    }),
    { numRuns: STREAMS, seed, endOnFailure: true },
  );
  // Some generated requests are valid and served, not only refused.
  expect(answered).toBeGreaterThan(0);
  expect(latestAnswered).toBeGreaterThan(0);
}, 120_000);

/** One unmutated control request after hello; its answers without hello-ok. */
async function request(frame: Record<string, unknown>): Promise<Frame[]> {
  const payload = encodeMsgpackValue(frame);
  const frames = await exchange({ hello: true, bytes: concat([frameHeader(payload.length), payload]) });
  return frames.filter((f) => f.t !== "hello-ok");
}

test("latest answers the latest map of a compacted stream (a nil-fields publish removes its key), and refuses a stream that is not compacted with a 4xx and no state change", async () => {
  const [ack] = await request({ t: "publish", id: 1, stream: COMPACTED_STREAM, records: [{ key: "k1", fields: { n: 9 } }, { key: "k2", fields: null }] });
  expect(ack?.t).toBe("ack");
  const [compacted] = await request({ t: "latest", id: 2, stream: COMPACTED_STREAM });
  expect(compacted?.t).toBe("latest-records");
  const records = compacted?.records as { key: Uint8Array; fields: Record<string, unknown> }[];
  const keys = records.map((r) => new TextDecoder().decode(r.key));
  // Whatever the fuzzing published before, only the fuzzed keys are there, k1 as just written, k2 tombstoned.
  for (const key of keys) expect(COMPACTED_KEYS as readonly string[]).toContain(key);
  expect(new Set(keys).size).toBe(keys.length);
  expect(records.find((r) => new TextDecoder().decode(r.key) === "k1")?.fields).toEqual({ n: 9 });
  expect(keys).not.toContain("k2");
  const [one] = await request({ t: "latest", id: 3, stream: COMPACTED_STREAM, key: "k1" });
  expect(one?.t).toBe("latest-records");
  expect((one?.records as unknown[]).length).toBe(1);

  const before = await gatewayState(gw.url);
  const [plain] = await request({ t: "latest", id: 4, stream: FUZZ_STREAM });
  expect(plain?.t).toBe("error");
  expect(plain?.id).toBe(4);
  expect(statusOf(plain!)).toBe(400);
  expect(await gatewayState(gw.url)).toBe(before);
}, 30_000);
