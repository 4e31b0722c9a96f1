// The chunk framing of `application/vnd.strata.chunks` (POST /v1/chunks/get) and of pack
// objects: each chunk is [32-byte BLAKE3 hash][u32 little-endian length][length bytes].
// ChunkFrameParser takes the bytes in any split and yields whole chunks.
import { StrataError } from "../errors.ts";

export const CHUNKS_MEDIA_TYPE = "application/vnd.strata.chunks";
export const FRAME_HASH_BYTES = 32;
export const FRAME_HEADER_BYTES = FRAME_HASH_BYTES + 4;

export interface FramedChunk {
  readonly hash: Uint8Array;
  readonly data: Uint8Array;
}

/** The 36-byte header of one frame. */
export function encodeFrameHeader(hash: Uint8Array, length: number): Uint8Array {
  if (hash.length !== FRAME_HASH_BYTES) throw new StrataError("BAD_REQUEST", `chunk frame: hash must be ${FRAME_HASH_BYTES} bytes`);
  if (!Number.isInteger(length) || length < 0 || length > 0xffffffff) throw new StrataError("BAD_REQUEST", `chunk frame: bad length ${length}`);
  const out = new Uint8Array(FRAME_HEADER_BYTES);
  out.set(hash, 0);
  new DataView(out.buffer).setUint32(FRAME_HASH_BYTES, length, true);
  return out;
}

/** Incremental parser: push() bytes as they arrive, get back the chunks completed by them. */
export class ChunkFrameParser {
  readonly #maxChunkBytes: number;
  #pending: Uint8Array[] = [];
  #pendingBytes = 0;

  constructor(maxChunkBytes: number) {
    this.#maxChunkBytes = maxChunkBytes;
  }

  /** Bytes received but not yet part of a whole frame. */
  get buffered(): number {
    return this.#pendingBytes;
  }

  push(bytes: Uint8Array): FramedChunk[] {
    if (bytes.length > 0) {
      this.#pending.push(bytes);
      this.#pendingBytes += bytes.length;
    }
    const out: FramedChunk[] = [];
    while (this.#pendingBytes >= FRAME_HEADER_BYTES) {
      const header = this.#peek(FRAME_HEADER_BYTES);
      const length = new DataView(header.buffer, header.byteOffset, header.byteLength).getUint32(FRAME_HASH_BYTES, true);
      if (length > this.#maxChunkBytes) throw new StrataError("CORRUPT_DATA", `chunk frame: length ${length} exceeds ${this.#maxChunkBytes}`);
      if (this.#pendingBytes < FRAME_HEADER_BYTES + length) break;
      const frame = this.#take(FRAME_HEADER_BYTES + length);
      out.push({ hash: frame.subarray(0, FRAME_HASH_BYTES), data: frame.subarray(FRAME_HEADER_BYTES) });
    }
    return out;
  }

  /** Call at the end of the body: a partial frame left over means the body was cut short. */
  end(): void {
    if (this.#pendingBytes > 0) throw new StrataError("CORRUPT_DATA", `chunk frames: body ended inside a frame (${this.#pendingBytes} bytes left)`);
  }

  /**
   * Makes the first pending piece at least `n` bytes long by copying only the bytes of the
   * pieces it spans into one new buffer of `n` bytes (never the rest of the last piece: copying
   * whole pieces costs a second copy of every frame that follows in them).
   */
  #merge(n: number): Uint8Array {
    const joined = new Uint8Array(n);
    let at = 0;
    while (at < n) {
      const piece = this.#pending[0]!;
      const take = Math.min(piece.length, n - at);
      joined.set(take === piece.length ? piece : piece.subarray(0, take), at);
      at += take;
      if (take === piece.length) this.#pending.shift();
      else this.#pending[0] = piece.subarray(take);
    }
    this.#pending.unshift(joined);
    return joined;
  }

  #peek(n: number): Uint8Array {
    const first = this.#pending[0]!;
    if (first.length >= n) return first.subarray(0, n);
    return this.#merge(n);
  }

  #take(n: number): Uint8Array {
    const all = this.#pending[0]!.length >= n ? this.#pending[0]! : this.#merge(n);
    const taken = all.subarray(0, n);
    const rest = all.subarray(n);
    this.#pending[0] = rest;
    if (rest.length === 0) this.#pending.shift();
    this.#pendingBytes -= n;
    return taken;
  }
}
