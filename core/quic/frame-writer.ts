// Serialised frame writes on one QUIC stream: concurrent senders never interleave their bytes,
// and each write waits for the stream's send buffer (so a slow reader slows the writers
// instead of growing memory). Runtime-independent.
import { encodeFrame, type Frame } from "./frames.ts";
import type { QuicDuplex } from "./stream.ts";

export class FrameWriter {
  readonly #duplex: QuicDuplex;
  /** The peer's frame limit: larger frames are refused before they are sent. */
  maxFrameBytes: number;
  #tail: Promise<void> = Promise.resolve();
  #failed: unknown;
  #started = false;

  constructor(duplex: QuicDuplex, maxFrameBytes: number) {
    this.#duplex = duplex;
    this.maxFrameBytes = maxFrameBytes;
  }

  /** Encodes and sends one frame (PAYLOAD_TOO_LARGE over the peer's limit, nothing sent). */
  send(frame: Frame): Promise<void> {
    return this.sendRaw([encodeFrame(frame, this.maxFrameBytes)]);
  }

  /** Whether anything was sent (or queued) yet. */
  get started(): boolean {
    return this.#started;
  }

  /** Sends pieces back to back, with nothing from another sender in between. */
  sendRaw(pieces: readonly Uint8Array[]): Promise<void> {
    this.#started = true;
    const run = this.#tail.then(async () => {
      if (this.#failed !== undefined) throw this.#failed;
      try {
        for (const piece of pieces) if (piece.length > 0) await this.#duplex.write(piece);
      } catch (e) {
        this.#failed = e;
        throw e;
      }
    });
    this.#tail = run.catch(() => undefined);
    return run;
  }

  /** FIN after everything queued. */
  async end(): Promise<void> {
    await this.#tail;
    if (this.#failed === undefined) await this.#duplex.end();
  }
}
