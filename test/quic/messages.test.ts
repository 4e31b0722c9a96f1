// The protocol module: every message type round-trips through encode and parse (pre-encoded
// parts spliced in included), and each malformed variant of each type is refused with the
// code the protocol gives it, naming the field.
import { describe, expect, test } from "bun:test";
import { concatBytes } from "./quic-fixture.ts";
import { isStrataError, StrataError } from "../../core/errors.ts";
import { makeArtefactRef, makeTensor } from "../../core/log/extensions.ts";
import { decodeFramePayload, FrameDecoder } from "../../core/quic/frames.ts";
import { EncodedItems, EncodedMapEntries, encodeMessage, type OutgoingMessage } from "../../core/quic/message-encoding.ts";
import { MESSAGE_SCHEMAS } from "../../core/quic/message-schemas.ts";
import { checkCount, errorFromMessage, parseMessage, parseMessageOf, type Message, type MessageType } from "../../core/quic/messages.ts";
import { encode, ExtData } from "@msgpack/msgpack";
import { extensionCodec } from "../../core/log/extensions.ts";

const hash = (fill: number) => new Uint8Array(32).fill(fill);
const tensor = makeTensor("f32", [2], new Uint8Array(8).fill(1));
const ref = makeArtefactRef("ab".repeat(32), 10, "application/octet-stream");

/** One full example of every message type (every optional field present). */
const EXAMPLES: { [T in MessageType]: Extract<Message, { t: T }> } = {
  hello: { t: "hello", versions: [1, 2], token: "secret", max_frame_bytes: 65536 },
  "hello-ok": { t: "hello-ok", version: 1, max_frame_bytes: 1 << 24, max_in_flight: 32, max_bulk_streams: 8, max_chunk_bytes: 1 << 20, max_chunks_per_frame: 64, max_hashes_per_request: 4096 },
  error: { t: "error", id: 3, code: "BAD_REQUEST", message: "no common version", versions: [1] },
  publish: {
    t: "publish",
    id: 1,
    stream: "a/b",
    records: [{ key: "k", partition: 1, headers: { h: "v", b: new Uint8Array([1]) }, fields: { n: 1, s: "x", b: new Uint8Array([2]), t: tensor, r: ref, list: [1, "two", null, true, { deep: [3] }] } }],
    producer: { id: 42, epoch: 1, seq: 7 },
    acks: "durable",
  },
  ack: { t: "ack", id: 1, records: [{ partition: 1, offset: 99 }] },
  fetch: { t: "fetch", id: 2, stream: "a/b", partition: 0, offset: 5, max_records: 10, max_bytes: 4096, wait_ms: 100, fields: ["n"] },
  records: { t: "records", id: 2, records: [{ offset: 5, timestamp: 1700000000000, key: null, headers: {}, fields: { n: 1 } }, { offset: 6, timestamp: 1700000000001, key: new Uint8Array([7]), headers: { h: "v" }, fields: { t: tensor } }], next_offset: 7, end_offset: 9 },
  latest: { t: "latest", id: 3, stream: "a/b", key: new Uint8Array([7]), after: "w1", wait_ms: 100 },
  "latest-records": { t: "latest-records", id: 3, stream: "a/b", watermark: "w2", records: [{ key: new Uint8Array([7]), partition: 0, offset: 6, timestamp: 1700000000001, headers: {}, fields: { t: tensor } }] },
  commit: { t: "commit", id: 4, group: "g1", stream: "a/b", partition: 0, offset: 3, member: "m1", member_epoch: 2 },
  heartbeat: { t: "heartbeat", id: 9, group: "g1", member: "m1", streams: ["a/b"], member_epoch: 2, instance: "i1", session_timeout_ms: 3000 },
  "heartbeat-ok": { t: "heartbeat-ok", id: 9, member_epoch: 3, assignment: [{ stream: "a/b", partition: 1 }], heartbeat_interval_ms: 1000 },
  leave: { t: "leave", id: 10, group: "g1", member: "m1" },
  left: { t: "left", id: 10, group: "g1", member: "m1" },
  committed: { t: "committed", id: 4, stream: "a/b", partition: 0, offset: 3, updated_at: 1700000000000 },
  "stream-info": { t: "stream-info", id: 5, stream: "a/b" },
  "stream-create": { t: "stream-create", id: 6, name: "a/c", partitions: 3, retention: { ms: 60000, bytes: 1 << 30 } },
  stream: { t: "stream", id: 6, name: "a/c", partitions: [{ partition: 0, start_offset: 0, end_offset: 4, bytes: 400 }], retention: { ms: 60000, bytes: null }, created_at: 1700000000000 },
  "manifest-get": { t: "manifest-get", id: 7, manifest: "cd".repeat(32) },
  manifest: { t: "manifest", id: 7, manifest: "cd".repeat(32), bytes: new Uint8Array([0x80]) },
  "chunks-missing": { t: "chunks-missing", id: 8, hashes: [hash(1), hash(2)] },
  missing: { t: "missing", id: 8, missing: [hash(2)] },
  "chunks-put": { t: "chunks-put", chunks: [[hash(1), new Uint8Array([1, 2, 3])]] },
  stored: { t: "stored", stored: 1, existing: 0 },
  "chunks-get": { t: "chunks-get", hashes: [hash(1)] },
  chunks: { t: "chunks", count: 1 },
};

const msgpack = (value: unknown): Uint8Array => encode(value, { extensionCodec, ignoreUndefined: true });


/** encode, split into frames by the decoder, parse. */
function roundTrip(message: OutgoingMessage): Message {
  const payloads = new FrameDecoder().push(concatBytes(encodeMessage(message)));
  expect(payloads).toHaveLength(1);
  return parseMessage(decodeFramePayload(payloads[0]!));
}

function refusal(frame: Record<string, unknown> & { t: string }): StrataError {
  try {
    parseMessage(frame);
  } catch (e) {
    if (isStrataError(e)) return e;
    throw e;
  }
  throw new Error(`${JSON.stringify(frame.t)} was accepted`);
}

test("the examples cover every frame type of the protocol", () => {
  expect(Object.keys(EXAMPLES).sort()).toEqual(Object.keys(MESSAGE_SCHEMAS).sort());
});

describe("round trip", () => {
  for (const [t, message] of Object.entries(EXAMPLES)) {
    test(t, () => expect(roundTrip(message)).toEqual(message));
  }

  test("optional fields may be absent, or nil (read as absent)", () => {
    expect(roundTrip({ t: "hello", versions: [1] })).toEqual({ t: "hello", versions: [1] });
    const fetch = parseMessage({ t: "fetch", id: 1, stream: "s", partition: 0, offset: 0, max_records: null, wait_ms: null });
    expect(fetch).toEqual({ t: "fetch", id: 1, stream: "s", partition: 0, offset: 0 });
  });

  test("unknown fields are ignored", () => {
    expect(parseMessage({ t: "stored", stored: 1, existing: 2, extra: "x" })).toEqual({ t: "stored", stored: 1, existing: 2 });
  });

  test("a publish with records already encoded: the items are spliced in as they are", () => {
    // 20 records (an array16 header) encoded one by one, back to back, as the edge outbox holds them.
    const many = Array.from({ length: 20 }, (_, i) => ({ key: new Uint8Array([i]), headers: {}, fields: { i, t: tensor } }));
    const bytes = concatBytes(many.map((r) => msgpack(r)));
    const head = { t: "publish", id: 9, stream: "a/b", acks: "local", producer: { id: 1, epoch: 0, seq: 0 } } as const;
    expect(roundTrip({ ...head, records: new EncodedItems(many.length, bytes) })).toEqual({ ...head, records: many });
  });

  test("a records answer from an encoded read response: its entries join the frame's map", () => {
    const { t: _t, id: _id, ...response } = EXAMPLES.records;
    expect(roundTrip({ t: "records", id: 2, response: new EncodedMapEntries(msgpack(response)) })).toEqual(EXAMPLES.records);
    // 16 entries or more take a map16 header; the frame's header is rewritten for the sum.
    const wide = Object.fromEntries(Array.from({ length: 20 }, (_, i) => [`x${i}`, i]));
    const frame = decodeFramePayload(concatBytes(encodeMessage({ t: "records", id: 2, response: new EncodedMapEntries(msgpack({ ...response, ...wide })) })).subarray(4));
    expect(frame).toEqual({ ...EXAMPLES.records, ...wide });
  });

  test("a frame over the limit is PAYLOAD_TOO_LARGE, spliced or not", () => {
    const big = new Uint8Array(2000);
    expect(() => encodeMessage({ t: "manifest", id: 1, manifest: "cd".repeat(32), bytes: big }, 1000)).toThrow(/exceeds the 1000-byte frame limit/);
    const error = (() => {
      try {
        encodeMessage({ t: "publish", id: 1, stream: "s", records: new EncodedItems(1, big) }, 1000);
      } catch (e) {
        return e;
      }
    })();
    expect(error).toMatchObject({ code: "PAYLOAD_TOO_LARGE" });
  });
});


/** Malformed variants of every type: [what is wrong, the frame with it, the field the error names]. */
const MALFORMED: { [T in MessageType]: [string, Record<string, unknown>, string][] } = {
  hello: [
    ["versions not an array", { versions: "1" }, "versions"],
    ["more than 64 versions", { versions: Array.from({ length: 65 }, (_, i) => i) }, "versions"],
    ["a frame limit under 64 KiB", { max_frame_bytes: 10 }, "max_frame_bytes"],
    ["a token that is not a string", { token: 5 }, "token"],
  ],
  "hello-ok": [
    ["a negative version", { version: -1 }, "version"],
    ["no credit", { max_in_flight: 0 }, "max_in_flight"],
    ["no frame limit", { max_frame_bytes: undefined }, "max_frame_bytes"],
  ],
  error: [
    ["no code", { code: undefined }, "code"],
    ["an id over u32", { id: 2 ** 32 }, "id"],
    ["a message that is not a string", { message: 7 }, "message"],
  ],
  publish: [
    ["a stream that is not a string", { stream: 12 }, "stream"],
    ["a stream name over 200 characters", { stream: "s".repeat(201) }, "stream"],
    ["records not an array", { records: "no" }, "records"],
    ["no records", { records: [] }, "records"],
    ["fields not a map", { records: [{ fields: "x" }] }, "records[0].fields"],
    ["a field value that is no log value", { records: [{ fields: { when: new Date(0) } }] }, "records[0].fields: when is a Date"],
    ["an unregistered extension in a field", { records: [{ fields: { n: [1, new ExtData(9, new Uint8Array(1))] } }] }, "records[0].fields: n[1] is an unregistered MessagePack extension (type 9)"],
    ["a map that would be written as a malformed Tensor", { records: [{ fields: { m: { kind: "tensor", n: 1 } } }] }, "records[0].fields: m is a map whose kind is \"tensor\""],
    ["a key that is a number", { records: [{ key: 5, fields: {} }] }, "records[0].key"],
    ["a header that is a number", { records: [{ headers: { h: 1 }, fields: {} }] }, "records[0].headers.h"],
    ["a producer epoch over 65535", { producer: { id: 1, epoch: 70000, seq: 0 } }, "producer.epoch"],
    ["acks neither local nor durable", { acks: "maybe" }, "acks"],
    ["a negative id", { id: -1 }, "id"],
  ],
  ack: [["a negative offset", { records: [{ partition: 0, offset: -1 }] }, "records[0].offset"]],
  fetch: [
    ["a partition over u32", { partition: 2 ** 32 }, "partition"],
    ["a fractional offset", { offset: 1.5 }, "offset"],
    ["max_records 0", { max_records: 0 }, "max_records"],
    ["fields that are not strings", { fields: [1] }, "fields[0]"],
  ],
  records: [
    ["a key that is a string", { records: [{ offset: 0, timestamp: 0, key: "k", headers: {}, fields: {} }] }, "records[0].key"],
    ["no next_offset", { next_offset: undefined }, "next_offset"],
  ],
  latest: [
    ["a key that is a number", { key: 7 }, "key"],
    ["a negative wait_ms", { wait_ms: -1 }, "wait_ms"],
  ],
  "latest-records": [
    ["a record without a key", { records: [{ partition: 0, offset: 0, timestamp: 0, headers: {}, fields: {} }] }, "records[0].key"],
    ["no watermark", { watermark: undefined }, "watermark"],
  ],
  commit: [
    ["a group that is not a string", { group: 12 }, "group"],
    ["an offset that is not a number", { offset: "x" }, "offset"],
  ],
  committed: [["no updated_at", { updated_at: undefined }, "updated_at"]],
  heartbeat: [
    ["no streams", { streams: [] }, "streams"],
    ["a negative member_epoch", { member_epoch: -1 }, "member_epoch"],
    ["a member that is not a string", { member: 3 }, "member"],
  ],
  "heartbeat-ok": [["a partition that is not an integer", { assignment: [{ stream: "a/b", partition: 0.5 }] }, "assignment[0].partition"]],
  leave: [["no member", { member: undefined }, "member"]],
  left: [["no group", { group: undefined }, "group"]],
  "stream-info": [["no stream", { stream: undefined }, "stream"]],
  "stream-create": [
    ["0 partitions", { partitions: 0 }, "partitions"],
    ["a negative retention", { retention: { ms: -5 } }, "retention.ms"],
  ],
  stream: [
    ["partition bytes that are a string", { partitions: [{ partition: 0, start_offset: 0, end_offset: 0, bytes: "x" }] }, "partitions[0].bytes"],
    ["no retention", { retention: undefined }, "retention"],
  ],
  "manifest-get": [["an id that is not 64 hex", { manifest: "xyz" }, "manifest"]],
  manifest: [["bytes that are a string", { bytes: "x" }, "bytes"]],
  "chunks-missing": [["a 31-byte hash", { hashes: [new Uint8Array(31)] }, "hashes[0]"]],
  missing: [["missing not an array", { missing: "x" }, "missing"]],
  "chunks-put": [
    ["an entry of numbers", { chunks: [[1, 2]] }, "chunks[0]"],
    ["an entry without data", { chunks: [[hash(1)]] }, "chunks[0]"],
  ],
  stored: [["a negative count", { stored: -1 }, "stored"]],
  "chunks-get": [["hashes not an array", { hashes: hash(1) }, "hashes"]],
  chunks: [["no count", { count: undefined }, "count"]],
};

describe("malformed frames are BAD_REQUEST naming the field", () => {
  for (const [t, variants] of Object.entries(MALFORMED)) {
    for (const [what, change, field] of variants) {
      test(`${t}: ${what}`, () => {
        const frame = { ...EXAMPLES[t as MessageType], ...change };
        const error = refusal(frame);
        expect(error.code).toBe("BAD_REQUEST");
        expect(error.message).toContain(`'${t}' frame`);
        expect(error.message).toContain(field);
      });
    }
  }

  test("an unknown frame type", () => {
    const error = refusal({ t: "warp", id: 6 });
    expect(error.code).toBe("BAD_REQUEST");
    expect(error.message).toContain("unknown frame type 'warp'");
  });

  test("a valid message where another is expected", () => {
    expect(() => parseMessageOf(EXAMPLES.ack, ["publish", "fetch"], "on the control stream")).toThrow(/'ack' is not expected on the control stream/);
  });

  test("more hashes or chunks than a session allows are BATCH_TOO_LARGE", () => {
    expect(() => checkCount(5, 4, "hashes")).toThrow(expect.objectContaining({ code: "BATCH_TOO_LARGE" }));
    expect(() => checkCount(4, 4, "hashes")).not.toThrow();
  });
});

test("an error message becomes its StrataError; an unknown code becomes INTERNAL", () => {
  expect(errorFromMessage({ t: "error", code: "STREAM_NOT_FOUND", message: "no stream x" })).toMatchObject({ code: "STREAM_NOT_FOUND", message: "no stream x" });
  expect(errorFromMessage({ t: "error", code: "TEAPOT", message: "short and stout" })).toMatchObject({ code: "INTERNAL", message: "TEAPOT: short and stout" });
});
