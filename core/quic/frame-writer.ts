// Serialised frame writes on one QUIC stream: concurrent senders never interleave their bytes,
// and each write waits for the stream's send buffer (so a slow reader slows the writers
// instead of growing memory). Runtime-independent.
import { StrataError } from "../errors.ts";
import { encodeMessage, type OutgoingMessage } from "./message-encoding.ts";
import type { QuicDuplex } from "./stream.ts";

/** fresh: nothing sent yet; open: something sent or queued; ending: FIN requested; failed: a write threw. */
export type FrameWriterState = { readonly kind: "fresh" } | { readonly kind: "open" } | { readonly kind: "ending" } | { readonly kind: "failed"; readonly error: unknown };

export class FrameWriter {
  readonly #duplex: QuicDuplex;
  /** The peer's frame limit: larger frames are refused before they are sent. */
  maxFrameBytes: number;
  #tail: Promise<void> = Promise.resolve();
  #state: FrameWriterState = { kind: "fresh" };

  constructor(duplex: QuicDuplex, maxFrameBytes: number) {
    this.#duplex = duplex;
    this.maxFrameBytes = maxFrameBytes;
  }

  get state(): FrameWriterState {
    return this.#state;
  }

  /** Encodes and sends one message (PAYLOAD_TOO_LARGE over the peer's limit, nothing sent). */
  send(message: OutgoingMessage): Promise<void> {
    return this.sendRaw(encodeMessage(message, this.maxFrameBytes));
  }

  /** Whether anything was sent (or queued) yet. */
  get started(): boolean {
    return this.#state.kind !== "fresh";
  }

  /** Sends pieces back to back, with nothing from another sender in between. */
  sendRaw(pieces: readonly Uint8Array[]): Promise<void> {
    if (this.#state.kind === "failed") return Promise.reject(this.#state.error);
    if (this.#state.kind === "ending") return Promise.reject(new StrataError("UNAVAILABLE", "the stream was ended for sending"));
    this.#state = { kind: "open" };
    const run = this.#tail.then(async () => {
      if (this.#state.kind === "failed") throw this.#state.error;
      try {
        for (const piece of pieces) if (piece.length > 0) await this.#duplex.write(piece);
      } catch (e) {
        this.#state = { kind: "failed", error: e };
        throw e;
      }
    });
    this.#tail = run.catch(() => undefined);
    return run;
  }

  /** FIN after everything queued; sends after this are refused. */
  async end(): Promise<void> {
    if (this.#state.kind !== "failed") this.#state = { kind: "ending" };
    await this.#tail;
    if (this.#state.kind !== "failed") await this.#duplex.end();
  }
}
