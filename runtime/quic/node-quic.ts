// QUIC through `node:quic` (Bun 1.4; Node only when built with QUIC, which official builds are
// not): the runtime's sessions and streams behind core/quic/stream.ts's interfaces. Only the
// parts of node:quic used here are typed; the module has no type declarations in this tree.
import { StrataError } from "../../core/errors.ts";
import type { QuicConnection, QuicDuplex } from "../../core/quic/stream.ts";

/** node:quic's writer resolves this method's promise once its buffer has drained. */
const DRAINABLE: unique symbol = Symbol.for("Stream.drainableProtocol");

export interface NodeQuicWriter {
  readonly desiredSize: number | null;
  [DRAINABLE]?(): Promise<unknown> | null;
  writeSync(chunk: Uint8Array): boolean;
  end(): Promise<number>;
  fail(reason?: unknown): void;
}

export interface NodeQuicStream extends AsyncIterable<Uint8Array[]> {
  readonly direction: "bidi" | "uni";
  readonly writer: NodeQuicWriter;
  readonly closed: Promise<void>;
  highWaterMark: number;
  destroy(error?: unknown): void;
  stopSending(code?: bigint): void;
  resetStream(code?: bigint): void;
}

export interface NodeQuicCertificate {
  readonly fingerprint256: string;
  checkHost(name: string): string | undefined;
  checkIP(ip: string): string | undefined;
}

export interface NodeQuicSession {
  readonly opened: Promise<{ protocol?: string; validationErrorReason?: string }>;
  readonly closed: Promise<void>;
  readonly destroyed: boolean;
  readonly peerCertificate: NodeQuicCertificate | undefined;
  onstream: ((stream: NodeQuicStream) => void) | undefined;
  onerror: ((error: unknown) => void) | undefined;
  createBidirectionalStream(options?: { highWaterMark?: number }): Promise<NodeQuicStream>;
  close(): Promise<void>;
  destroy(error?: unknown): void;
}

/** Transport parameters and windows shared by both sides (node:quic option names). */
export interface NodeQuicTuning {
  readonly transportParams?: {
    readonly initialMaxStreamsBidi?: number;
    readonly initialMaxStreamsUni?: number;
    readonly initialMaxData?: number;
    readonly initialMaxStreamDataBidiLocal?: number;
    readonly initialMaxStreamDataBidiRemote?: number;
    readonly maxIdleTimeout?: number;
  };
  readonly maxStreamWindow?: number;
  readonly maxWindow?: number;
}

export interface NodeQuicModule {
  connect(address: string, options: Record<string, unknown>): Promise<NodeQuicSession>;
  listen(onsession: (session: NodeQuicSession) => void, options: Record<string, unknown>): Promise<{ readonly address: { port: number } | undefined; close(): Promise<void>; destroy(error?: unknown): void }>;
}

/** Send buffer of each stream before writes wait (node:quic's default is 64 KiB). */
export const STREAM_HIGH_WATER_MARK = 1024 * 1024;

/** How long close() lets open streams finish before the session is destroyed. */
export const CLOSE_GRACE_MS = 1000;

export async function loadNodeQuic(): Promise<NodeQuicModule> {
  const specifier = "node:quic";
  try {
    return (await import(specifier)) as NodeQuicModule;
  } catch (e) {
    throw new StrataError("UNAVAILABLE", `this runtime has no node:quic (${(e as Error).message})`);
  }
}

function waitForDrain(writer: NodeQuicWriter): Promise<void> {
  const pending = writer[DRAINABLE]?.();
  if (pending) return pending.then(() => undefined);
  return new Promise((resolve) => setTimeout(resolve, 1));
}

export function wrapNodeStream(stream: NodeQuicStream): QuicDuplex {
  stream.highWaterMark = STREAM_HIGH_WATER_MARK;
  let writer: NodeQuicWriter | undefined;
  const writerOf = () => (writer ??= stream.writer);
  async function* chunks(): AsyncGenerator<Uint8Array> {
    for await (const batch of stream) for (const chunk of batch) yield chunk;
  }
  return {
    chunks: chunks(),
    async write(bytes) {
      const w = writerOf();
      while (!w.writeSync(bytes)) {
        if (w.desiredSize === null) throw new StrataError("UNAVAILABLE", "QUIC stream closed for writing");
        await waitForDrain(w);
      }
    },
    async end() {
      await writerOf().end();
    },
    abort(code) {
      try {
        stream.stopSending(BigInt(code));
      } catch {
        // already closed for reading
      }
      try {
        stream.resetStream(BigInt(code));
      } catch {
        // already closed for writing
      }
    },
  };
}

export function wrapNodeSession(session: NodeQuicSession, protocol: string | undefined): QuicConnection {
  // With onerror set, session and stream errors are reported here instead of as unhandled rejections.
  session.onerror = () => undefined;
  const closed = session.closed.then(
    () => undefined,
    () => undefined,
  );
  return {
    protocol,
    async openBidi() {
      return wrapNodeStream(await session.createBidirectionalStream({ highWaterMark: STREAM_HIGH_WATER_MARK }));
    },
    onBidi(handler) {
      session.onstream = (stream) => {
        if (stream.direction !== "bidi") {
          stream.destroy();
          return;
        }
        handler(wrapNodeStream(stream));
      };
    },
    async close() {
      if (session.destroyed) return;
      // A graceful close waits for open streams; past the grace period the session is destroyed.
      let timer: ReturnType<typeof setTimeout> | undefined;
      const grace = new Promise<void>((resolve) => (timer = setTimeout(resolve, CLOSE_GRACE_MS)));
      await Promise.race([session.close().catch(() => undefined), grace]);
      clearTimeout(timer);
      if (!session.destroyed) session.destroy();
    },
    closed,
  };
}
