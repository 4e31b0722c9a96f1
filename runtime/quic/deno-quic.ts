// QUIC through Deno's unstable API (Deno.QuicEndpoint, Deno.connectQuic; run with
// --unstable-net): its connections and web streams behind core/quic/stream.ts's interfaces.
// Only the parts used here are typed (the tree is typechecked with Bun's types).
import { StrataError } from "../../core/errors.ts";
import type { QuicConnection, QuicDuplex } from "../../core/quic/stream.ts";

export interface DenoQuicBidi {
  readonly readable: ReadableStream<Uint8Array>;
  readonly writable: WritableStream<Uint8Array>;
}

export interface DenoQuicCloseInfo {
  closeCode: number;
  reason: string;
}

export interface DenoQuicConn {
  readonly protocol: string | undefined;
  readonly closed: Promise<DenoQuicCloseInfo>;
  readonly incomingBidirectionalStreams: ReadableStream<DenoQuicBidi>;
  createBidirectionalStream(options?: { readonly waitUntilAvailable?: boolean }): Promise<DenoQuicBidi>;
  close(info?: DenoQuicCloseInfo): void;
}

/** Flow-control settings Deno exposes (its QuicTransportOptions). */
export interface DenoQuicTuning {
  readonly maxConcurrentBidirectionalStreams?: number;
  readonly maxConcurrentUnidirectionalStreams?: number;
  readonly maxIdleTimeout?: number;
  readonly keepAliveInterval?: number;
  readonly congestionControl?: "throughput" | "low-latency" | "default";
}

export interface DenoQuicIncoming {
  accept(): Promise<DenoQuicConn>;
  refuse(): void;
}

export interface DenoQuicListener extends AsyncIterable<DenoQuicIncoming> {
  stop(): void;
}

export interface DenoQuicEndpoint {
  readonly addr: { hostname: string; port: number };
  listen(options: { cert: string; key: string; alpnProtocols: string[] } & DenoQuicTuning): DenoQuicListener;
  close(info?: DenoQuicCloseInfo): void;
}

export interface DenoQuicApi {
  QuicEndpoint: new (options: { hostname?: string; port?: number }) => DenoQuicEndpoint;
  connectQuic(options: { hostname: string; port: number; serverName?: string; alpnProtocols: string[]; caCerts?: string[] } & DenoQuicTuning): Promise<DenoQuicConn>;
}

/** Deno's QUIC API, or an UNAVAILABLE error naming what is missing. */
export function denoQuic(): DenoQuicApi {
  const deno = (globalThis as { Deno?: Partial<DenoQuicApi> }).Deno;
  if (!deno) throw new StrataError("UNAVAILABLE", "not running under Deno");
  if (typeof deno.QuicEndpoint !== "function" || typeof deno.connectQuic !== "function") {
    throw new StrataError("UNAVAILABLE", "Deno's QUIC API is missing: run deno with --unstable-net");
  }
  return deno as DenoQuicApi;
}

export function wrapDenoStream(bidi: DenoQuicBidi): QuicDuplex {
  const writer = bidi.writable.getWriter();
  const reader = bidi.readable.getReader();
  let failure: unknown;
  async function* chunks(): AsyncGenerator<Uint8Array> {
    try {
      for (;;) {
        const { value, done } = await reader.read();
        if (done) return;
        yield value;
      }
    } finally {
      reader.releaseLock();
    }
  }
  return {
    chunks: chunks(),
    async write(bytes) {
      if (failure !== undefined) throw failure;
      // Not awaiting the write itself keeps one chunk in flight while the next is prepared;
      // ready waits until the stream's queue has room again.
      writer.write(bytes).catch((e: unknown) => (failure ??= e));
      await writer.ready;
    },
    async end() {
      if (failure !== undefined) throw failure;
      await writer.close();
    },
    abort(code) {
      writer.abort(new StrataError("UNAVAILABLE", `stream aborted (${code})`)).catch(() => undefined);
      reader.cancel().catch(() => undefined);
    },
  };
}

export function wrapDenoConn(conn: DenoQuicConn): QuicConnection {
  const closed = conn.closed.then(
    () => undefined,
    () => undefined,
  );
  let isClosed = false;
  void closed.then(() => (isClosed = true));
  return {
    protocol: conn.protocol,
    async openBidi() {
      // The peer returns stream credit (MAX_STREAMS) only after a finished stream is gone on its
      // side, a moment after the client saw its end: wait for it instead of failing with RangeError.
      return wrapDenoStream(await conn.createBidirectionalStream({ waitUntilAvailable: true }));
    },
    onBidi(handler) {
      void (async () => {
        const incoming = conn.incomingBidirectionalStreams.getReader();
        try {
          for (;;) {
            const { value, done } = await incoming.read();
            if (done) return;
            handler(wrapDenoStream(value));
          }
        } catch {
          // the connection closed
        }
      })();
    },
    async close(code = 0, reason = "") {
      if (isClosed) return;
      try {
        conn.close({ closeCode: code, reason });
      } catch {
        // already closed
      }
      await closed;
    },
    closed,
  };
}
