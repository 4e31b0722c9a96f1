// One client connection: the first frame of each stream says what it is (hello: the control
// stream; chunks-put / chunks-get: a bulk stream). Version negotiation, the credit window of
// outstanding requests, and the rule that a malformed or oversized frame is answered with an
// error frame and closes its stream (never more than the connection, never the process).
import { isStrataError, StrataError } from "../../core/errors.ts";
import { FrameWriter } from "../../core/quic/frame-writer.ts";
import { decodeFramePayload, MAX_HELLO_FRAME_BYTES, QUIC_PROTOCOL_VERSIONS, type Frame } from "../../core/quic/frames.ts";
import { chooseVersion, errorFrame, FRAME, helloOkFrame, optionalUint, requestId } from "../../core/quic/messages.ts";
import { FrameReader, QUIC_CODE_PROTOCOL_ERROR, type QuicConnection, type QuicDuplex } from "../../core/quic/stream.ts";
import type { GatewayServices } from "../services.ts";
import { handleBulkFrame } from "./bulk-handlers.ts";
import { handleControlFrame } from "./control-handlers.ts";
import type { QuicLimits } from "./quic-limits.ts";

/** Time a client gets to read an error frame before its connection is closed. */
const CLOSE_AFTER_ERROR_MS = 1000;

export interface ConnectionOptions {
  readonly limits: QuicLimits;
  /** When set, hello must carry this token. */
  readonly token?: string;
}

function withTimeout<T>(promise: Promise<T>, ms: number, message: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new StrataError("BAD_REQUEST", message)), ms)));
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

/** A failure as an error frame: StrataErrors keep their code, anything else is INTERNAL. */
function failureFrame(e: unknown, id?: number): Frame {
  if (isStrataError(e)) return errorFrame(e.code, e.message, id);
  console.error("strata: QUIC request failed", e);
  return errorFrame("INTERNAL", "internal error", id);
}

export function serveConnection(connection: QuicConnection, services: GatewayServices, options: ConnectionOptions): void {
  const { limits } = options;
  const aborter = new AbortController();
  let helloDone: (peerMaxFrameBytes: number) => void = () => undefined;
  const hello = new Promise<number>((resolve) => (helloDone = resolve));
  let controlOpened = false;
  let bulkOpen = 0;
  void connection.closed.then(() => aborter.abort());
  // A connection that never completes hello (no control stream at all) is dropped.
  const helloDeadline = setTimeout(() => void connection.close(QUIC_CODE_PROTOCOL_ERROR, "no hello"), limits.helloTimeoutMs);
  (helloDeadline as { unref?: () => void }).unref?.();
  void hello.then(() => clearTimeout(helloDeadline));
  void connection.closed.then(() => clearTimeout(helloDeadline));

  const closeSoon = () => {
    const timer = setTimeout(() => void connection.close(QUIC_CODE_PROTOCOL_ERROR, "protocol error"), CLOSE_AFTER_ERROR_MS);
    (timer as { unref?: () => void }).unref?.();
  };

  /** Sends an error frame, then FIN; reading stops. The stream is done. */
  async function refuse(reader: FrameReader, writer: FrameWriter, frame: Frame): Promise<void> {
    await writer.send(frame).catch(() => undefined);
    await writer.end().catch(() => undefined);
    await reader.cancel().catch(() => undefined);
  }

  async function runControl(stream: QuicDuplex, reader: FrameReader, writer: FrameWriter, first: Frame): Promise<void> {
    if (controlOpened) return refuse(reader, writer, errorFrame("BAD_REQUEST", "a connection has one control stream; hello was sent twice"));
    controlOpened = true;
    let version: number | undefined;
    let peerMax: number;
    try {
      version = chooseVersion(first.versions, QUIC_PROTOCOL_VERSIONS);
      peerMax = optionalUint(first.max_frame_bytes, "hello.max_frame_bytes", MAX_HELLO_FRAME_BYTES, 0xffffffff) ?? limits.maxFrameBytes;
    } catch (e) {
      await refuse(reader, writer, failureFrame(e));
      return closeSoon();
    }
    if (version === undefined) {
      await refuse(reader, writer, errorFrame("BAD_REQUEST", `no common protocol version; this gateway speaks ${QUIC_PROTOCOL_VERSIONS.join(", ")}`, undefined, { versions: QUIC_PROTOCOL_VERSIONS }));
      return closeSoon();
    }
    if (options.token !== undefined && first.token !== options.token) {
      await refuse(reader, writer, errorFrame("BAD_REQUEST", "hello.token is missing or wrong"));
      return closeSoon();
    }
    writer.maxFrameBytes = peerMax;
    const artefactLimits = services.artefacts.artefacts.limits;
    const sent = writer.send(
      helloOkFrame(version, {
        maxFrameBytes: limits.maxFrameBytes,
        maxInFlight: limits.maxInFlight,
        maxBulkStreams: limits.maxBulkStreams,
        maxChunkBytes: artefactLimits.maxChunkBytes,
        maxChunksPerFrame: artefactLimits.maxChunksPerRequest,
        maxHashesPerRequest: artefactLimits.maxHashesPerRequest,
      }),
    );
    if (!(await sent.then(() => true, () => false))) return; // the connection is gone
    helloDone(peerMax);

    // The credit window: at most maxInFlight requests (and about maxInFlightBytes of their
    // frames) run at once; while it is full the stream is not read, so QUIC flow control holds
    // the client back.
    let inFlight = 0;
    let inFlightBytes = 0;
    let wake: (() => void) | undefined;
    const context = { peerMaxFrameBytes: peerMax, signal: aborter.signal };
    const running = new Set<Promise<void>>();
    for (;;) {
      while (inFlight >= limits.maxInFlight || inFlightBytes >= limits.maxInFlightBytes) await new Promise<void>((resolve) => (wake = resolve));
      let frame: Frame | null;
      let size = 0;
      try {
        const payload = await reader.nextPayload();
        size = payload?.length ?? 0;
        frame = payload === null ? null : decodeFramePayload(payload);
      } catch (e) {
        if (!isStrataError(e)) break; // reset or connection gone
        await Promise.allSettled(running);
        await refuse(reader, writer, failureFrame(e));
        return closeSoon();
      }
      if (frame === null) break;
      const request = frame;
      inFlight++;
      inFlightBytes += size;
      const task = (async () => {
        let id: number | undefined;
        try {
          id = requestId(request);
          await writer.sendRaw(await handleControlFrame(services, request, context));
        } catch (e) {
          await writer.send(failureFrame(e, id)).catch(() => undefined);
        } finally {
          inFlight--;
          inFlightBytes -= size;
          wake?.();
          wake = undefined;
        }
      })();
      running.add(task);
      void task.then(() => running.delete(task));
    }
    await Promise.allSettled(running);
    await writer.end().catch(() => undefined);
  }

  async function runBulk(stream: QuicDuplex, reader: FrameReader, writer: FrameWriter, first: Frame): Promise<void> {
    const peerMax = await withTimeout(hello, limits.bulkWaitMs, "a bulk stream needs a completed hello on the control stream").catch((e: unknown) => e);
    if (typeof peerMax !== "number") return refuse(reader, writer, failureFrame(peerMax));
    writer.maxFrameBytes = peerMax;
    if (bulkOpen >= limits.maxBulkStreams) return refuse(reader, writer, errorFrame("UNAVAILABLE", `at most ${limits.maxBulkStreams} bulk streams at once`));
    bulkOpen++;
    try {
      await handleBulkFrame(services.artefacts, first, writer);
      await writer.end();
      await reader.cancel().catch(() => undefined);
    } catch (e) {
      // Before any answer byte the failure is an error frame; mid-answer the stream is reset.
      if (!writer.started) await refuse(reader, writer, failureFrame(e));
      else stream.abort(QUIC_CODE_PROTOCOL_ERROR);
    } finally {
      bulkOpen--;
    }
  }

  async function runStream(stream: QuicDuplex): Promise<void> {
    const reader = new FrameReader(stream.chunks, limits.maxFrameBytes);
    const writer = new FrameWriter(stream, MAX_HELLO_FRAME_BYTES);
    let first: Frame | null;
    try {
      first = await withTimeout(reader.next(), limits.helloTimeoutMs, `no frame within ${limits.helloTimeoutMs} ms`);
    } catch (e) {
      if (isStrataError(e)) await refuse(reader, writer, failureFrame(e));
      else stream.abort(QUIC_CODE_PROTOCOL_ERROR);
      return;
    }
    if (first === null) return void (await writer.end().catch(() => undefined));
    if (first.t === FRAME.hello) return runControl(stream, reader, writer, first);
    if (first.t === FRAME.chunksPut || first.t === FRAME.chunksGet) return runBulk(stream, reader, writer, first);
    return refuse(reader, writer, errorFrame("BAD_REQUEST", `a stream starts with hello, chunks-put or chunks-get, not '${first.t}'`));
  }

  connection.onBidi((stream) => {
    runStream(stream).catch((e: unknown) => {
      console.error("strata: QUIC stream failed", e);
      stream.abort(QUIC_CODE_PROTOCOL_ERROR);
    });
  });
}
