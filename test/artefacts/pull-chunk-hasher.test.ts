// The pull's chunk hasher: BLAKE3 on a Worker (the second core) gives the same hashes as the
// calling thread, and frames read through it are still refused when their bytes do not match.
import { expect, test } from "bun:test";
import { encodeFrameHeader } from "../../core/artefacts/chunk-frames.ts";
import { blake3 } from "../../core/hashing/blake3.ts";
import type { StrataError } from "../../core/errors.ts";
import { workerHasher } from "../../edge/artefacts/chunk-hasher.ts";
import { readVerifiedFrames } from "../../edge/artefacts/verified-frames.ts";

const chunk = (n: number, seed: number): Uint8Array => new Uint8Array(n).map((_, i) => (i * 13 + seed) & 0xff);

function bodyOf(frames: { hash: Uint8Array; data: Uint8Array }[], split: number): ReadableStream<Uint8Array> {
  const all = Buffer.concat(frames.flatMap((f) => [encodeFrameHeader(f.hash, f.data.length), f.data]));
  return new ReadableStream({
    start(c) {
      for (let at = 0; at < all.length; at += split) c.enqueue(new Uint8Array(all.subarray(at, at + split)));
      c.close();
    },
  });
}

test("a worker hashes like the calling thread and hands the bytes back", async () => {
  const hasher = workerHasher();
  try {
    const inputs = Array.from({ length: 40 }, (_, i) => chunk(1000 + i * 977, i));
    const results = await Promise.all(inputs.map((b) => hasher.hash(b.subarray(0))));
    for (const [i, r] of results.entries()) {
      expect(r.bytes).toEqual(inputs[i]!);
      expect(r.hash).toEqual(blake3(inputs[i]!));
    }
    expect(hasher.where()).toBe("worker");
  } finally {
    hasher.close();
  }
});

test("frames verified on a worker arrive in order; a frame whose bytes do not hash to its name is refused", async () => {
  const datas = Array.from({ length: 50 }, (_, i) => chunk(3000 + i, i));
  const frames = datas.map((data) => ({ hash: blake3(data), data }));
  const expected = frames.map((f) => ({ hash: f.hash, length: f.data.length }));
  const hasher = workerHasher();
  try {
    const got: Uint8Array[] = [];
    await readVerifiedFrames(bodyOf(frames, 7001), expected, (i, bytes) => {
      expect(i).toBe(got.length);
      got.push(bytes.slice());
    }, hasher);
    expect(got).toEqual(datas);
    expect(hasher.where()).toBe("worker");

    const bad = frames.map((f, i) => (i === 30 ? { hash: f.hash, data: chunk(f.data.length, 99) } : f));
    let delivered = 0;
    const error = await readVerifiedFrames(bodyOf(bad, 4096), expected, () => void delivered++, hasher).then(
      () => null,
      (e: unknown) => e as StrataError,
    );
    expect(error?.code).toBe("HASH_MISMATCH");
    expect(delivered).toBe(30);
  } finally {
    hasher.close();
  }
});

test("chunks in flight when the hasher closes are hashed on the calling thread", async () => {
  const hasher = workerHasher();
  const data = chunk(200_000, 3);
  const pending = hasher.hash(data);
  hasher.close();
  expect((await pending).hash).toEqual(blake3(data));
  expect((await hasher.hash(data)).hash).toEqual(blake3(data));
});
