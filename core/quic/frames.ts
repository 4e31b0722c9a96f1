// Frames of the QUIC protocol (docs/quic-protocol.md): a u32 big-endian length, then that many
// bytes of one MessagePack map {t: type, ...}. FrameDecoder takes stream bytes in any split and
// yields whole frame payloads; a length over the limit is refused before anything is allocated.
// Runtime-independent: no I/O here.
import { Encoder } from "@msgpack/msgpack";
import { invariant, StrataError } from "../errors.ts";
import { extensionCodec } from "../log/extensions.ts";
import { BoundedMsgpackDecoder, msgpackCapsFor } from "../log/msgpack-bounds.ts";

export const QUIC_ALPN = "strata/1";
/** Protocol versions this code speaks, newest first. */
export const QUIC_PROTOCOL_VERSIONS: readonly number[] = [1];
export const FRAME_LENGTH_BYTES = 4;
/** Default largest frame payload (the 4 length bytes not counted). */
export const DEFAULT_MAX_FRAME_BYTES = 16 * 1024 * 1024;
/** Largest frame sent before the peer has stated its limit, and the smallest limit a peer may state. */
export const MAX_HELLO_FRAME_BYTES = 64 * 1024;

/** A decoded frame: a map with a string `t` naming its type. Everything else is untrusted. */
export interface Frame {
  readonly t: string;
  readonly [field: string]: unknown;
}

const encoder = new Encoder({ extensionCodec, ignoreUndefined: true, initialBufferSize: 64 * 1024 });

/** Length prefix for a payload of n bytes. */
export function frameHeader(n: number): Uint8Array {
  if (!Number.isInteger(n) || n < 1 || n > 0xffffffff) throw new StrataError("BAD_REQUEST", `frame length ${n} is outside [1, 2^32)`);
  const out = new Uint8Array(FRAME_LENGTH_BYTES);
  new DataView(out.buffer).setUint32(0, n, false);
  return out;
}

/** The MessagePack payload of a frame (no length prefix); undefined fields are left out. */
export function encodeFramePayload(frame: Frame): Uint8Array {
  return encoder.encode(frame);
}

/** The error of a frame over the receiver's limit (nothing of it is sent). */
export function frameTooLarge(t: string, size: number, maxFrameBytes: number): StrataError {
  return new StrataError("PAYLOAD_TOO_LARGE", `a '${t}' frame of ${size} bytes exceeds the ${maxFrameBytes}-byte frame limit`);
}

/** Encodes one frame (length prefix and payload) in one buffer. */
export function encodeFrame(frame: Frame, maxFrameBytes: number = DEFAULT_MAX_FRAME_BYTES): Uint8Array {
  const payload = encodeFramePayload(frame);
  if (payload.length > maxFrameBytes) throw frameTooLarge(frame.t, payload.length, maxFrameBytes);
  const out = new Uint8Array(FRAME_LENGTH_BYTES + payload.length);
  out.set(frameHeader(payload.length), 0);
  out.set(payload, FRAME_LENGTH_BYTES);
  return out;
}

/**
 * Decodes a frame payload; anything but a map with a string `t` is BAD_REQUEST. The bytes are
 * checked before they are decoded (core/log/msgpack-bounds.ts): no length inside may claim more
 * than the payload holds, and containers nest only as deep as record values may.
 */
export function decodeFramePayload(payload: Uint8Array): Frame {
  let value: unknown;
  try {
    value = new BoundedMsgpackDecoder(msgpackCapsFor(payload.length)).decode(payload);
  } catch (e) {
    // A malformed tensor is refused as such, as over HTTP.
    if (e instanceof StrataError && e.code === "INVALID_TENSOR") throw e;
    throw new StrataError("BAD_REQUEST", `malformed frame: ${(e as Error).message}`);
  }
  if (!isMap(value)) throw new StrataError("BAD_REQUEST", "malformed frame: not a map");
  if (!hasType(value)) throw new StrataError("BAD_REQUEST", "malformed frame: no string 't' (type)");
  return value;
}

function isMap(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value) && !(value instanceof Uint8Array);
}

function hasType(map: Record<string, unknown>): map is Frame {
  return typeof map.t === "string" && map.t.length > 0;
}

/**
 * Incremental splitter of length-prefixed frames. push() bytes as they arrive; it returns the
 * payloads completed by them. A declared length of 0 or over maxFrameBytes throws
 * PAYLOAD_TOO_LARGE / BAD_REQUEST at once, before the payload is buffered. Memory follows the
 * bytes actually received (a frame that announces 16 MiB and sends 10 bytes holds 10 bytes):
 * at most maxFrameBytes + 3 bytes are ever held.
 */
/** Between frames, or inside one: its length prefix (`fill` of 4 bytes read), or its payload. */
export type FrameDecoderState =
  | { readonly kind: "length"; readonly fill: number }
  | { readonly kind: "payload"; readonly length: number; readonly fill: number; readonly pieces: Uint8Array[] };

const BETWEEN_FRAMES: FrameDecoderState = { kind: "length", fill: 0 };

export class FrameDecoder {
  #max: number;
  readonly #header = new Uint8Array(FRAME_LENGTH_BYTES);
  /** The payload's bytes are held as the pieces they came in (nothing is allocated ahead of the bytes). */
  #state: FrameDecoderState = BETWEEN_FRAMES;

  constructor(maxFrameBytes: number = DEFAULT_MAX_FRAME_BYTES) {
    this.#max = checkMax(maxFrameBytes);
  }

  get maxFrameBytes(): number {
    return this.#max;
  }

  /** Raises or lowers the limit for frames whose length has not been read yet (after hello). */
  set maxFrameBytes(n: number) {
    this.#max = checkMax(n);
  }

  get state(): FrameDecoderState {
    return this.#state;
  }

  /** Bytes held of a frame not yet complete. */
  get buffered(): number {
    return this.#state.fill;
  }

  /** Whether the stream could end here (no partial frame pending). */
  get atBoundary(): boolean {
    return this.#state.kind === "length" && this.#state.fill === 0;
  }

  push(bytes: Uint8Array): Uint8Array[] {
    const out: Uint8Array[] = [];
    let at = 0;
    while (at < bytes.length) {
      const { frame, used } = this.pushOne(at === 0 ? bytes : bytes.subarray(at));
      at += used;
      if (frame) out.push(frame);
    }
    return out;
  }

  /**
   * Consumes bytes up to the end of the first frame they complete (all of them if none):
   * `used` says how many were taken, `frame` is the completed payload or null.
   */
  pushOne(bytes: Uint8Array): { frame: Uint8Array | null; used: number } {
    let at = 0;
    while (at < bytes.length) {
      const s = this.#state;
      if (s.kind === "length") {
        const take = Math.min(FRAME_LENGTH_BYTES - s.fill, bytes.length - at);
        this.#header.set(bytes.subarray(at, at + take), s.fill);
        at += take;
        if (s.fill + take < FRAME_LENGTH_BYTES) {
          this.#set({ kind: "length", fill: s.fill + take });
          break;
        }
        const length = new DataView(this.#header.buffer).getUint32(0, false);
        this.#set(BETWEEN_FRAMES);
        if (length === 0) throw new StrataError("BAD_REQUEST", "malformed frame: length 0");
        if (length > this.#max) throw new StrataError("PAYLOAD_TOO_LARGE", `frame of ${length} bytes exceeds the ${this.#max}-byte limit`);
        // A frame wholly inside this chunk is handed out as a view, without a copy.
        if (bytes.length - at >= length) return { frame: bytes.subarray(at, at + length), used: at + length };
        this.#set({ kind: "payload", length, fill: 0, pieces: [] });
        continue;
      }
      const take = Math.min(s.length - s.fill, bytes.length - at);
      s.pieces.push(bytes.subarray(at, at + take));
      at += take;
      if (s.fill + take === s.length) {
        this.#set(BETWEEN_FRAMES);
        return { frame: concat(s.pieces, s.length), used: at };
      }
      this.#set({ ...s, fill: s.fill + take });
    }
    return { frame: null, used: at };
  }

  /** Call when the stream ends: a partial frame left over is an error. */
  end(): void {
    if (!this.atBoundary) throw new StrataError("BAD_REQUEST", `stream ended inside a frame (${this.buffered} bytes held)`);
  }

  #set(next: FrameDecoderState): void {
    if (next.kind === "length") invariant(next.fill >= 0 && next.fill < FRAME_LENGTH_BYTES, `length prefix fill ${next.fill}`);
    else invariant(next.fill >= 0 && next.fill < next.length, `payload fill ${next.fill} of ${next.length}`);
    this.#state = next;
  }
}

function concat(pieces: readonly Uint8Array[], length: number): Uint8Array {
  if (pieces.length === 1) return pieces[0]!;
  const out = new Uint8Array(length);
  let at = 0;
  for (const piece of pieces) {
    out.set(piece, at);
    at += piece.length;
  }
  return out;
}

function checkMax(n: number): number {
  if (!Number.isInteger(n) || n < 1 || n > 0xffffffff) throw new StrataError("BAD_REQUEST", `maxFrameBytes ${n} is outside [1, 2^32)`);
  return n;
}
