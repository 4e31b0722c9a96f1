// What the streams of one connection share (its state machine, the services, the limits), and
// the two ways a stream ends badly: refused with an error frame, or a failure turned into one.
import { getLogger } from "@logtape/logtape";
import { isStrataError } from "../../core/errors.ts";
import type { FrameWriter } from "../../core/quic/frame-writer.ts";
import { errorMessage, type ErrorMessage } from "../../core/quic/messages.ts";
import type { FrameReader } from "../../core/quic/stream.ts";
import type { GatewayServices } from "../services.ts";
import type { ConnectionAuth } from "./connection-auth.ts";
import type { ConnectionStateMachine } from "./connection-state.ts";
import type { QuicLimits } from "./quic-limits.ts";

const log = getLogger(["strata", "quic"]);

export interface ConnectionContext {
  readonly services: GatewayServices;
  readonly limits: QuicLimits;
  /** How the hello is admitted, and who the connection's requests act as. */
  readonly auth: ConnectionAuth;
  readonly state: ConnectionStateMachine;
  /** Aborted when the connection goes away (ends long-polls). */
  readonly signal: AbortSignal;
  /** After a protocol error: the connection moves to closing and is closed a moment later. */
  closeSoon(reason: string): void;
}

/** A failure as an error message: StrataErrors keep their code, anything else is INTERNAL (and logged). */
export function failureMessage(e: unknown, id?: number): ErrorMessage {
  if (isStrataError(e)) return errorMessage(e.code, e.message, id);
  log.error("QUIC request failed: {error}", { error: e });
  return errorMessage("INTERNAL", "internal error", id);
}

/** Sends an error frame, then FIN; reading stops. The stream is done. */
export async function refuse(reader: FrameReader, writer: FrameWriter, message: ErrorMessage): Promise<void> {
  await writer.send(message).catch(() => undefined);
  await writer.end().catch(() => undefined);
  await reader.cancel().catch(() => undefined);
}
