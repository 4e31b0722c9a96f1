// One client connection. The first frame of each stream says what it is (hello: the control
// stream; chunks-put / chunks-get: a bulk stream); the connection's state machine
// (connection-state.ts) decides what may happen next. A malformed or oversized frame is
// answered with an error frame and closes its stream (and, on the control stream, the
// connection a moment later): never more than the connection, never the process.
import { getLogger } from "@logtape/logtape";
import { isStrataError, StrataError } from "../../core/errors.ts";
import { FrameWriter } from "../../core/quic/frame-writer.ts";
import { MAX_HELLO_FRAME_BYTES, type Frame } from "../../core/quic/frames.ts";
import { BULK_REQUEST_TYPES, errorMessage } from "../../core/quic/messages.ts";
import { FrameReader, QUIC_CODE_PROTOCOL_ERROR, type QuicConnection, type QuicDuplex } from "../../core/quic/stream.ts";
import { background, withTimeout } from "../../core/quic/timeout.ts";
import type { GatewayServices } from "../services.ts";
import { runBulkStream } from "./bulk-stream.ts";
import { failureMessage, refuse, type ConnectionContext } from "./connection-context.ts";
import { ConnectionAuth, type HelloGate } from "./connection-auth.ts";
import { ConnectionStateMachine } from "./connection-state.ts";
import { runControlStream } from "./control-stream.ts";
import type { QuicLimits } from "./quic-limits.ts";

const log = getLogger(["strata", "quic"]);

/** Time a client gets to read an error frame before its connection is closed. */
const CLOSE_AFTER_ERROR_MS = 1000;

export interface ConnectionOptions {
  readonly limits: QuicLimits;
  /** How hello is admitted: open, a shared token, or a signed token (auth on). */
  readonly gate: HelloGate;
}

function isBulkRequestType(t: string): boolean {
  return BULK_REQUEST_TYPES.some((type) => type === t);
}

/** Serves a connection; returns its state machine (for observation). */
export function serveConnection(connection: QuicConnection, services: GatewayServices, options: ConnectionOptions): ConnectionStateMachine {
  const { limits } = options;
  const state = new ConnectionStateMachine({ maxInFlight: limits.maxInFlight, maxInFlightBytes: limits.maxInFlightBytes, maxBulkStreams: limits.maxBulkStreams });
  const aborter = new AbortController();
  const closeNow = (reason: string) => {
    state.close(reason);
    void connection.close(QUIC_CODE_PROTOCOL_ERROR, reason);
  };
  const context: ConnectionContext = {
    services,
    limits,
    auth: new ConnectionAuth(options.gate),
    state,
    signal: aborter.signal,
    closeSoon(reason) {
      state.close(reason);
      background(CLOSE_AFTER_ERROR_MS, () => void connection.close(QUIC_CODE_PROTOCOL_ERROR, reason));
    },
  };
  // A connection whose hello has not succeeded within helloTimeoutMs is dropped.
  const cancelHelloDeadline = background(limits.helloTimeoutMs, () => {
    if (state.state.kind === "awaiting-hello") closeNow("no hello");
  });
  void state.whenEstablished().then(cancelHelloDeadline, cancelHelloDeadline);
  void connection.closed.then(() => {
    cancelHelloDeadline();
    state.close("connection closed");
    aborter.abort();
  });

  async function runStream(stream: QuicDuplex): Promise<void> {
    const reader = new FrameReader(stream.chunks, limits.maxFrameBytes);
    const writer = new FrameWriter(stream, MAX_HELLO_FRAME_BYTES);
    const closing = () => refuse(reader, writer, errorMessage("UNAVAILABLE", "the connection is closing"));
    if (state.isClosing()) return closing();
    let first: Frame | null;
    try {
      first = await withTimeout(reader.next(), limits.helloTimeoutMs, () => new StrataError("BAD_REQUEST", `no frame within ${limits.helloTimeoutMs} ms`));
    } catch (e) {
      if (isStrataError(e)) await refuse(reader, writer, failureMessage(e));
      else stream.abort(QUIC_CODE_PROTOCOL_ERROR);
      return;
    }
    if (first === null) return void (await writer.end().catch(() => undefined));
    if (state.isClosing()) return closing();
    if (first.t === "hello") return runControlStream(context, reader, writer, first);
    if (isBulkRequestType(first.t)) return runBulkStream(context, stream, reader, writer, first);
    return refuse(reader, writer, errorMessage("BAD_REQUEST", `a stream starts with hello, chunks-put or chunks-get, not '${first.t}'`));
  }

  connection.onBidi((stream) => {
    runStream(stream).catch((e: unknown) => {
      log.error("QUIC stream failed: {error}", { error: e });
      stream.abort(QUIC_CODE_PROTOCOL_ERROR);
    });
  });
  return state;
}
