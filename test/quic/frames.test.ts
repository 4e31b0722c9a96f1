// Frame encoding and the incremental decoder: any split, the size limit enforced from the
// length prefix alone, malformed payloads refused with a StrataError.
import { expect, test } from "bun:test";
import { concatBytes } from "./quic-fixture.ts";
import { StrataError } from "../../core/errors.ts";
import { decodeFramePayload, encodeFrame, FrameDecoder, frameHeader } from "../../core/quic/frames.ts";
import { FrameReader } from "../../core/quic/stream.ts";

const frames = [
  { t: "hello", versions: [1], token: "x" },
  { t: "publish", id: 1, stream: "a/b", records: [{ fields: { n: 1, b: new Uint8Array([1, 2, 3]) } }] },
  { t: "ack", id: 1, records: [{ partition: 0, offset: 7 }] },
];

test("frames round-trip through the decoder in every split", () => {
  const wire = concatBytes(frames.map((f) => encodeFrame(f)));
  for (let split = 1; split <= wire.length; split += 3) {
    const decoder = new FrameDecoder(1024);
    const got: unknown[] = [];
    for (let at = 0; at < wire.length; at += split) {
      for (const payload of decoder.push(wire.subarray(at, at + split))) got.push(decodeFramePayload(payload));
    }
    decoder.end();
    expect(got).toEqual(frames);
  }
});

test("an oversized length is refused from the prefix, before the payload arrives", () => {
  const decoder = new FrameDecoder(100);
  expect(() => decoder.push(frameHeader(101))).toThrow(/exceeds the 100-byte limit/);
  const huge = new Uint8Array([0xff, 0xff, 0xff, 0xff]);
  try {
    new FrameDecoder(16 * 1024 * 1024).push(huge);
    throw new Error("no throw");
  } catch (e) {
    expect(e).toBeInstanceOf(StrataError);
    expect((e as StrataError).code).toBe("PAYLOAD_TOO_LARGE");
  }
});

test("encodeFrame refuses a frame over the limit", () => {
  expect(() => encodeFrame({ t: "x", data: new Uint8Array(200) }, 100)).toThrow(/exceeds the 100-byte frame limit/);
});

test("malformed payloads and zero lengths are BAD_REQUEST", () => {
  const bad = [new Uint8Array([0xc1]), new Uint8Array([0x93, 1, 2, 3]), new Uint8Array([0x81, 0xa1, 0x74, 0x01]), new Uint8Array([0xdf, 0xff, 0xff, 0xff, 0xff])];
  for (const payload of bad) {
    try {
      decodeFramePayload(payload);
      throw new Error("no throw");
    } catch (e) {
      expect((e as StrataError).code).toBe("BAD_REQUEST");
    }
  }
  expect(() => new FrameDecoder(10).push(new Uint8Array(4))).toThrow(/length 0/);
});

test("lengths inside a payload may claim no more than it holds, and nesting is bounded", () => {
  // {t: "x", a: [array32 of 2^32-1 items]} in 17 bytes: refused before anything is allocated for it.
  const claim = Uint8Array.of(0x82, 0xa1, 0x74, 0xa1, 0x78, 0xa1, 0x61, 0xdd, 0xff, 0xff, 0xff, 0xff, 1, 2, 3, 4, 5);
  expect(() => decodeFramePayload(claim)).toThrow(/malformed frame/);
  // A map whose one value is 10,000 arrays deep.
  const deep = concatBytes([Uint8Array.of(0x82, 0xa1, 0x74, 0xa1, 0x78, 0xa1, 0x61), new Uint8Array(10_000).fill(0x91), Uint8Array.of(0x01)]);
  expect(() => decodeFramePayload(deep)).toThrow(/nest deeper/);
});

test("a stream ending inside a frame is an error; at a boundary it is not", () => {
  const decoder = new FrameDecoder(1024);
  const wire = encodeFrame(frames[0]!);
  decoder.push(wire.subarray(0, 6));
  expect(() => decoder.end()).toThrow(/ended inside a frame/);
  decoder.push(wire.subarray(6));
  decoder.end();
});

test("FrameReader yields frames, then the raw bytes after them", async () => {
  const wire = concatBytes([encodeFrame({ t: "chunks", count: 2 }), new Uint8Array([9, 8, 7, 6])]);
  async function* source() {
    yield wire.subarray(0, 3);
    yield wire.subarray(3);
    yield new Uint8Array([5]);
  }
  const reader = new FrameReader(source(), 1024);
  expect(await reader.next()).toEqual({ t: "chunks", count: 2 });
  const raw: number[] = [];
  for await (const piece of reader.raw()) raw.push(...piece);
  expect(raw).toEqual([9, 8, 7, 6, 5]);
});

test("a frame's bytes are held as they arrive, never allocated ahead from its length", () => {
  const decoder = new FrameDecoder(16 * 1024 * 1024);
  expect(decoder.push(frameHeader(16 * 1024 * 1024))).toEqual([]);
  expect(decoder.push(new Uint8Array(10))).toEqual([]);
  expect(decoder.buffered).toBe(10);
  expect(decoder.atBoundary).toBe(false);
});
