// A bulk stream: one chunks-put or chunks-get, served once the connection's hello succeeded
// (a bulk stream that arrives first waits for it, up to bulkWaitMs), within maxBulkStreams, and
// authorized like its HTTP route.
import { StrataError } from "../../core/errors.ts";
import type { FrameWriter } from "../../core/quic/frame-writer.ts";
import type { Frame } from "../../core/quic/frames.ts";
import { BULK_REQUEST_TYPES, errorMessage, parseMessageOf, type BulkRequest } from "../../core/quic/messages.ts";
import { QUIC_CODE_PROTOCOL_ERROR, type FrameReader, type QuicDuplex } from "../../core/quic/stream.ts";
import { withTimeout } from "../../core/quic/timeout.ts";
import { handleBulkRequest } from "./bulk-handlers.ts";
import { failureMessage, refuse, type ConnectionContext } from "./connection-context.ts";
import { authorizeRequest } from "./frame-scopes.ts";

export async function runBulkStream(context: ConnectionContext, stream: QuicDuplex, reader: FrameReader, writer: FrameWriter, first: Frame): Promise<void> {
  const { state, limits } = context;
  let request: BulkRequest;
  try {
    const session = await withTimeout(state.whenEstablished(), limits.bulkWaitMs, () => new StrataError("BAD_REQUEST", "a bulk stream needs a completed hello on the control stream"));
    writer.maxFrameBytes = session.peerMaxFrameBytes;
    request = parseMessageOf(first, BULK_REQUEST_TYPES, "as the first frame of a bulk stream");
    authorizeRequest(await context.auth.principal(), request);
  } catch (e) {
    await refuse(reader, writer, failureMessage(e));
    // A token revoked or expired since hello will not verify again: the connection ends.
    if (e instanceof StrataError && e.code === "UNAUTHENTICATED") context.closeSoon("token no longer valid");
    return;
  }
  if (!state.openBulk()) {
    const why = state.isClosing() ? "the connection is closing" : `at most ${limits.maxBulkStreams} bulk streams at once`;
    return refuse(reader, writer, errorMessage("UNAVAILABLE", why));
  }
  try {
    await handleBulkRequest(context.services.artefacts, request, writer);
    await writer.end();
    await reader.cancel().catch(() => undefined);
  } catch (e) {
    // Before any answer byte the failure is an error frame; mid-answer the stream is reset.
    if (!writer.started) await refuse(reader, writer, failureMessage(e));
    else stream.abort(QUIC_CODE_PROTOCOL_ERROR);
  } finally {
    state.closeBulk();
  }
}
