// Reads the body of `POST /v1/chunks/get` (framing in core/artefacts/chunk-frames.ts) against what was
// asked: frame i must carry the i-th requested hash with the manifest's length, and its bytes
// must hash to it. A short body is a TruncatedBodyError carrying how many chunks arrived whole,
// so the caller can ask again for the rest; anything else wrong is CORRUPT_DATA or HASH_MISMATCH.
import { ChunkFrameParser } from "../../core/artefacts/chunk-frames.ts";
import { StrataError } from "../../core/errors.ts";
import { bytesToHex } from "../../core/util/hex.ts";
import { HARD_LIMITS } from "./limits.ts";
import { equalBytes } from "../../core/util/equal-bytes.ts";
import { type ChunkHasher, type HashedChunk, inlineHasher } from "./chunk-hasher.ts";

export interface ExpectedChunk {
  readonly hash: Uint8Array;
  readonly length: number;
}

export class TruncatedBodyError extends StrataError {
  readonly received: number;
  constructor(received: number, expected: number, cause?: unknown) {
    super("UNAVAILABLE", `chunk stream ended after ${received} of ${expected} chunks`, cause === undefined ? undefined : { cause });
    this.received = received;
  }
}


/** Frames hashed ahead of the one being delivered (their bytes are held meanwhile). */
const HASH_WINDOW = 16;

/**
 * Reads frames for `expected` from `body`, calling `onChunk(index, bytes)` for each verified
 * chunk in order (`bytes` may be a view into a network buffer: copy it to keep it). Hashes run on
 * `hasher` (default: this thread), up to HASH_WINDOW frames ahead of delivery.
 */
export async function readVerifiedFrames(
  body: ReadableStream<Uint8Array>,
  expected: readonly ExpectedChunk[],
  onChunk: (index: number, bytes: Uint8Array) => void | Promise<void>,
  hasher: ChunkHasher = inlineHasher,
): Promise<void> {
  const reader = body.getReader();
  const parser = new ChunkFrameParser(HARD_LIMITS.maxChunkBytes);
  /** Frames checked for hash and length, their hashes in flight, in order. */
  const hashing: Promise<HashedChunk>[] = [];
  let parsed = 0;
  let delivered = 0;
  const deliverOne = async (): Promise<void> => {
    const { bytes, hash } = await hashing.shift()!;
    const want = expected[delivered]!;
    if (!equalBytes(hash, want.hash)) {
      throw new StrataError("HASH_MISMATCH", `chunk stream: bytes of chunk ${bytesToHex(want.hash)} do not hash to it`);
    }
    await onChunk(delivered, bytes);
    delivered++;
  };
  let done = false;
  try {
    while (!done) {
      let result: { done: boolean; value?: Uint8Array | undefined };
      try {
        result = await reader.read();
      } catch (e) {
        while (hashing.length > 0) await deliverOne();
        throw new TruncatedBodyError(delivered, expected.length, e);
      }
      if (result.done) {
        done = true;
        break;
      }
      if (!result.value) continue;
      for (const frame of parser.push(result.value)) {
        const want = expected[parsed];
        if (!want) throw new StrataError("CORRUPT_DATA", `chunk stream: more than the ${expected.length} chunks asked for`);
        if (!equalBytes(frame.hash, want.hash)) {
          throw new StrataError("CORRUPT_DATA", `chunk stream: frame ${parsed} is ${bytesToHex(frame.hash)}, asked for ${bytesToHex(want.hash)}`);
        }
        if (frame.data.length !== want.length) {
          throw new StrataError("CORRUPT_DATA", `chunk stream: chunk ${bytesToHex(want.hash)} is ${frame.data.length} bytes, the manifest says ${want.length}`);
        }
        hashing.push(hasher.hash(frame.data));
        parsed++;
        if (hashing.length >= HASH_WINDOW) await deliverOne();
      }
    }
    while (hashing.length > 0) await deliverOne();
    if (delivered < expected.length) throw new TruncatedBodyError(delivered, expected.length);
    parser.end();
  } finally {
    if (!done) await reader.cancel().catch(() => undefined);
  }
}
