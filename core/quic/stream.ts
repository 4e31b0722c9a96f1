// The runtime-independent view of a QUIC connection and its bidirectional streams, which the
// Bun (node:quic) and Deno (Deno.QuicEndpoint) adapters implement, and a frame reader over one
// stream. No I/O here: the adapters do it.
import { StrataError } from "../errors.ts";
import { decodeFramePayload, FrameDecoder, type Frame } from "./frames.ts";

/** One bidirectional QUIC stream. */
export interface QuicDuplex {
  /** The received bytes, in order; ends at the peer's FIN, throws on a reset. Read once. */
  readonly chunks: AsyncIterable<Uint8Array>;
  /** Queues bytes; resolves once the stream's send buffer is below its high-water mark again. */
  write(bytes: Uint8Array): Promise<void>;
  /** Sends FIN after everything queued. */
  end(): Promise<void>;
  /** Abandons the stream both ways (RESET_STREAM and STOP_SENDING with this code). */
  abort(code: number): void;
}

/** One QUIC connection, client or server side. */
export interface QuicConnection {
  /** The ALPN protocol the handshake chose. */
  readonly protocol: string | undefined;
  openBidi(): Promise<QuicDuplex>;
  /** Calls back for every bidirectional stream the peer opens. */
  onBidi(handler: (stream: QuicDuplex) => void): void;
  close(code?: number, reason?: string): Promise<void>;
  /** Settles when the connection is gone, for whatever reason. */
  readonly closed: Promise<void>;
}

/** Application error codes used in RESET_STREAM / CONNECTION_CLOSE. */
export const QUIC_CODE_OK = 0;
export const QUIC_CODE_PROTOCOL_ERROR = 1;
export const QUIC_CODE_CANCELLED = 2;

/**
 * Reads frames from a stream: next() is the next frame, or null at a clean end. Malformed or
 * oversized input throws a StrataError (BAD_REQUEST, PAYLOAD_TOO_LARGE); a reset throws what
 * the runtime threw. raw() switches to raw bytes after a frame (chunk downloads).
 */
export class FrameReader {
  readonly #iterator: AsyncIterator<Uint8Array>;
  readonly #decoder: FrameDecoder;
  /** Received bytes not yet fed to the decoder. */
  #rest: Uint8Array | null = null;

  constructor(chunks: AsyncIterable<Uint8Array>, maxFrameBytes: number) {
    this.#iterator = chunks[Symbol.asyncIterator]();
    this.#decoder = new FrameDecoder(maxFrameBytes);
  }

  set maxFrameBytes(n: number) {
    this.#decoder.maxFrameBytes = n;
  }

  async next(): Promise<Frame | null> {
    const payload = await this.nextPayload();
    return payload === null ? null : decodeFramePayload(payload);
  }

  async nextPayload(): Promise<Uint8Array | null> {
    for (;;) {
      let bytes = this.#rest;
      this.#rest = null;
      if (bytes === null) {
        const { value, done } = await this.#iterator.next();
        if (done) {
          this.#decoder.end();
          return null;
        }
        bytes = value;
      }
      const { frame, used } = this.#decoder.pushOne(bytes);
      if (used < bytes.length) this.#rest = bytes.subarray(used);
      if (frame) return frame;
    }
  }

  /** The raw bytes after the last frame returned; use instead of next() from then on. */
  async *raw(): AsyncGenerator<Uint8Array> {
    if (!this.#decoder.atBoundary) throw new StrataError("BAD_REQUEST", "raw data requested inside a frame");
    const rest = this.#rest;
    this.#rest = null;
    if (rest && rest.length > 0) yield rest;
    for (;;) {
      const { value, done } = await this.#iterator.next();
      if (done) return;
      yield value;
    }
  }

  /** Stops reading (the iterator's return()). */
  async cancel(): Promise<void> {
    await this.#iterator.return?.();
  }
}
