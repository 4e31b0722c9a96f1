// Reading a /v1/chunks/get body: every frame checked against the request and its hash, a short
// body reported with how far it got.
import { describe, expect, test } from "bun:test";
import { blake3 } from "../../core/hashing/blake3.ts";
import { encodeFrameHeader } from "../../core/artefacts/chunk-frames.ts";
import { StrataError } from "../../core/errors.ts";
import { TruncatedBodyError } from "../../edge/artefacts/index.ts";
import { type ExpectedChunk, readVerifiedFrames } from "../../edge/artefacts/verified-frames.ts";

function chunks(n: number): { expected: ExpectedChunk[]; data: Uint8Array[] } {
  const data = Array.from({ length: n }, (_, i) => new Uint8Array(1000 + i * 37).map((_, j) => (i * 31 + j) & 0xff));
  return { expected: data.map((d) => ({ hash: blake3(d), length: d.length })), data };
}

function body(parts: Uint8Array[], pieceSize: number): ReadableStream<Uint8Array> {
  const all = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    all.set(p, at);
    at += p.length;
  }
  let pos = 0;
  return new ReadableStream({
    pull(controller) {
      if (pos >= all.length) return controller.close();
      controller.enqueue(all.slice(pos, pos + pieceSize));
      pos += pieceSize;
    },
  });
}

function frames(expected: ExpectedChunk[], data: Uint8Array[]): Uint8Array[] {
  return expected.flatMap((e, i) => [encodeFrameHeader(e.hash, data[i]!.length), data[i]!]);
}

async function read(stream: ReadableStream<Uint8Array>, expected: ExpectedChunk[]): Promise<{ got: Uint8Array[]; error: unknown }> {
  const got: Uint8Array[] = [];
  try {
    await readVerifiedFrames(stream, expected, (i, bytes) => {
      expect(i).toBe(got.length);
      got.push(bytes.slice());
    });
    return { got, error: null };
  } catch (e) {
    return { got, error: e };
  }
}

describe("readVerifiedFrames", () => {
  test("yields every chunk in order whatever the split", async () => {
    const { expected, data } = chunks(5);
    for (const piece of [1, 7, 36, 1000, 1 << 20]) {
      const { got, error } = await read(body(frames(expected, data), piece), expected);
      expect(error).toBeNull();
      expect(got).toEqual(data);
    }
  });

  test("a body cut short is a TruncatedBodyError saying how many chunks arrived", async () => {
    const { expected, data } = chunks(4);
    const parts = frames(expected, data);
    const cut = [...parts.slice(0, 5), parts[5]!.subarray(0, 10)]; // two whole frames, half of the third
    const { got, error } = await read(body(cut, 100), expected);
    expect(error).toBeInstanceOf(TruncatedBodyError);
    expect((error as TruncatedBodyError).received).toBe(2);
    expect(got.length).toBe(2);
  });

  test("bytes that do not hash to the frame's hash are HASH_MISMATCH", async () => {
    const { expected, data } = chunks(2);
    const bad = data.map((d) => d.slice());
    bad[1]![5] = bad[1]![5]! ^ 0xff;
    const { error } = await read(body(frames(expected, bad), 64), expected);
    expect((error as StrataError).code).toBe("HASH_MISMATCH");
  });

  test("a frame for another hash, a wrong length, or trailing bytes are CORRUPT_DATA", async () => {
    const { expected, data } = chunks(3);
    const swapped = [expected[1]!, expected[0]!, expected[2]!];
    expect(((await read(body(frames(expected, data), 64), swapped)).error as StrataError).code).toBe("CORRUPT_DATA");
    const wrongLength = expected.map((e, i) => (i === 1 ? { ...e, length: e.length + 1 } : e));
    expect(((await read(body(frames(expected, data), 64), wrongLength)).error as StrataError).code).toBe("CORRUPT_DATA");
    const trailing = [...frames(expected, data), new Uint8Array(3)];
    expect(((await read(body(trailing, 64), expected)).error as StrataError).code).toBe("CORRUPT_DATA");
    const extra = frames(expected, data);
    expect(((await read(body(extra, 64), expected.slice(0, 2))).error as StrataError).code).toBe("CORRUPT_DATA");
  });
});
