// The control stream: hello (version negotiation, token, frame limits), then requests within
// the credit window, each authorized like its HTTP route. A request that cannot be served gets
// an error frame with its id and the stream goes on; a frame that cannot be decoded, or a token
// that stops verifying, ends the stream and, a moment later, the connection.
import { isStrataError, StrataError } from "../../core/errors.ts";
import type { FrameWriter } from "../../core/quic/frame-writer.ts";
import { decodeFramePayload, QUIC_PROTOCOL_VERSIONS, type Frame } from "../../core/quic/frames.ts";
import { chooseVersion, CONTROL_REQUEST_TYPES, errorMessage, helloOkMessage, parseMessageOf, requestIdOf, type ErrorMessage, type HelloMessage } from "../../core/quic/messages.ts";
import type { FrameReader } from "../../core/quic/stream.ts";
import { failureMessage, refuse, type ConnectionContext } from "./connection-context.ts";
import type { EstablishedSession } from "./connection-state.ts";
import { handleControlRequest } from "./control-handlers.ts";
import { authorizeRequest } from "./frame-scopes.ts";
import { publisherOf } from "../auth/producer-owners.ts";
import { piecesLength } from "../../core/quic/message-encoding.ts";
import { observeRequest } from "./request-observation.ts";

/** The session hello asks for, or the error frame that refuses it (its token is admitted last). */
async function negotiate(context: ConnectionContext, first: Frame): Promise<EstablishedSession | ErrorMessage> {
  let hello: HelloMessage;
  try {
    hello = parseMessageOf(first, ["hello"], "as the first frame of a control stream");
  } catch (e) {
    return failureMessage(e);
  }
  const version = chooseVersion(hello.versions, QUIC_PROTOCOL_VERSIONS);
  if (version === undefined) {
    return errorMessage("BAD_REQUEST", `no common protocol version; this gateway speaks ${QUIC_PROTOCOL_VERSIONS.join(", ")}`, undefined, QUIC_PROTOCOL_VERSIONS);
  }
  try {
    await context.auth.admit(hello.token);
  } catch (e) {
    return failureMessage(e);
  }
  return { version, peerMaxFrameBytes: hello.max_frame_bytes ?? context.limits.maxFrameBytes };
}

export async function runControlStream(context: ConnectionContext, reader: FrameReader, writer: FrameWriter, first: Frame): Promise<void> {
  const { state, services, limits } = context;
  if (!state.claimControl()) {
    const why = state.isClosing() ? "the connection is closing" : "a connection has one control stream; hello was sent twice";
    return refuse(reader, writer, errorMessage("BAD_REQUEST", why));
  }
  const session = await negotiate(context, first);
  if ("t" in session) {
    await refuse(reader, writer, session);
    return context.closeSoon("hello refused");
  }
  writer.maxFrameBytes = session.peerMaxFrameBytes;
  const artefactLimits = services.artefacts.artefacts.limits;
  const helloOk = helloOkMessage({
    version: session.version,
    maxFrameBytes: limits.maxFrameBytes,
    maxInFlight: limits.maxInFlight,
    maxBulkStreams: limits.maxBulkStreams,
    maxChunkBytes: artefactLimits.maxChunkBytes,
    maxChunksPerFrame: artefactLimits.maxChunksPerRequest,
    maxHashesPerRequest: artefactLimits.maxHashesPerRequest,
  });
  if (!(await writer.send(helloOk).then(() => true, () => false))) return; // the connection is gone
  if (state.isClosing()) return;
  state.establish(session);
  await serveRequests(context, reader, writer, session);
}

/**
 * The credit window: requests run while the state machine has credit (maxInFlight requests,
 * about maxInFlightBytes of their frames); while it has none the stream is not read, so QUIC
 * flow control holds the client back. Once the connection is closing nothing more is read.
 */
async function serveRequests(context: ConnectionContext, reader: FrameReader, writer: FrameWriter, session: EstablishedSession): Promise<void> {
  const { state } = context;
  const requestContext = { peerMaxFrameBytes: session.peerMaxFrameBytes, signal: context.signal, authorization: context.auth.authorization };
  const running = new Set<Promise<void>>();
  for (;;) {
    while (!state.hasCredit() && !state.isClosing()) await state.whenCreditChanges();
    if (state.isClosing()) break;
    let frame: Frame | null;
    let size: number;
    try {
      const payload = await reader.nextPayload();
      if (payload === null) break;
      size = payload.length;
      frame = decodeFramePayload(payload);
    } catch (e) {
      if (!isStrataError(e)) break; // reset, or the connection is gone
      await Promise.allSettled(running);
      await refuse(reader, writer, failureMessage(e));
      return context.closeSoon("malformed frame");
    }
    if (state.isClosing()) break;
    state.admit(size);
    const request = frame;
    const observed = observeRequest(context.services, size);
    const task = (async () => {
      try {
        const parsed = parseMessageOf(request, CONTROL_REQUEST_TYPES, "on the control stream");
        observed.kind = parsed.t;
        const principal = await context.auth.principal();
        // The open principal (no --auth) has no token, so no subject, as on HTTP.
        if (principal.tokenId !== "") observed.subject = principal.subject;
        authorizeRequest(principal, parsed, context.services.groups);
        const answer = await handleControlRequest(context.services, parsed, requestContext, publisherOf(context.services.auth, principal));
        observed.bytesOut = piecesLength(answer);
        await writer.sendRaw(answer);
      } catch (e) {
        observed.failed(e);
        await writer.send(failureMessage(e, requestIdOf(request))).catch(() => undefined);
        // A token revoked or expired since hello will not verify again: the connection ends.
        if (e instanceof StrataError && e.code === "UNAUTHENTICATED") context.closeSoon("token no longer valid");
      } finally {
        state.settle(size);
        observed.finish();
      }
    })();
    running.add(task);
    void task.then(() => running.delete(task));
  }
  await Promise.allSettled(running);
  await writer.end().catch(() => undefined);
}
