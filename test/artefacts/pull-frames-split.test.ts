// The chunk frame parser yields the same frames however the body is split into reads, copying
// only frames that span reads (a frame inside one read is a view of it).
import { expect, test } from "bun:test";
import fc from "fast-check";
import { ChunkFrameParser, encodeFrameHeader, FRAME_HEADER_BYTES } from "../../core/artefacts/chunk-frames.ts";

function body(frames: Uint8Array[]): Uint8Array {
  const parts = frames.flatMap((f, i) => [encodeFrameHeader(new Uint8Array(32).fill(i), f.length), f]);
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

test("frames come out whole and in order for any split of the body", () => {
  fc.assert(
    fc.property(
      fc.array(fc.uint8Array({ minLength: 0, maxLength: 300 }), { minLength: 1, maxLength: 12 }),
      fc.array(fc.integer({ min: 1, max: 400 }), { minLength: 1, maxLength: 40 }),
      (frames, cuts) => {
        const bytes = body(frames);
        const parser = new ChunkFrameParser(1 << 20);
        const got: { hash: Uint8Array; data: Uint8Array }[] = [];
        let at = 0;
        for (let i = 0; at < bytes.length; i++) {
          const n = cuts[i % cuts.length]!;
          got.push(...parser.push(bytes.subarray(at, at + n)));
          at += n;
        }
        parser.end();
        expect(got.map((g) => g.data)).toEqual(frames);
        expect(got.map((g) => g.hash[0])).toEqual(frames.map((_, i) => i));
      },
    ),
    { numRuns: 300 },
  );
});

test("a frame inside one read is a view of it, not a copy", () => {
  const bytes = body([new Uint8Array(100).fill(1), new Uint8Array(100).fill(2)]);
  const parser = new ChunkFrameParser(1 << 20);
  const [first, second] = parser.push(bytes);
  expect(first!.data.buffer).toBe(bytes.buffer);
  expect(second!.data.byteOffset).toBe(bytes.byteOffset + 2 * FRAME_HEADER_BYTES + 100);
});

test("a body cut inside a frame is refused at its end", () => {
  const bytes = body([new Uint8Array(100).fill(1)]);
  const parser = new ChunkFrameParser(1 << 20);
  parser.push(bytes.subarray(0, 50));
  expect(() => parser.end()).toThrow(/ended inside a frame/);
});
