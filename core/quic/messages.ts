// The messages of the QUIC protocol (docs/quic-protocol.md) as one typed union, and parse():
// a decoded frame in, a validated Message out (BAD_REQUEST naming the field otherwise). Both ends
// use it: the gateway's handlers for requests, the client for answers. encode is in
// message-encoding.ts.
import type * as z from "zod/mini";
import { ERROR_STATUS, StrataError, type ErrorCode } from "../errors.ts";
import { describeIssues } from "../util/parse-input.ts";
import type { Frame } from "./frames.ts";
import { MESSAGE_SCHEMAS } from "./message-schemas.ts";

type Schemas = typeof MESSAGE_SCHEMAS;
export type MessageType = keyof Schemas;
/** The message of one frame type, in wire form. */
export type MessageOf<T extends MessageType> = z.output<Schemas[T]>;
export type Message = { [T in MessageType]: MessageOf<T> }[MessageType];

export type HelloMessage = MessageOf<"hello">;
export type HelloOkMessage = MessageOf<"hello-ok">;
export type ErrorMessage = MessageOf<"error">;
export type PublishMessage = MessageOf<"publish">;
export type AckMessage = MessageOf<"ack">;
export type FetchMessage = MessageOf<"fetch">;
export type RecordsMessage = MessageOf<"records">;
export type LatestMessage = MessageOf<"latest">;
export type LatestRecordsMessage = MessageOf<"latest-records">;
export type CommitMessage = MessageOf<"commit">;
export type CommittedMessage = MessageOf<"committed">;
export type HeartbeatMessage = MessageOf<"heartbeat">;
export type HeartbeatOkMessage = MessageOf<"heartbeat-ok">;
export type LeaveMessage = MessageOf<"leave">;
export type LeftMessage = MessageOf<"left">;
export type StreamInfoMessage = MessageOf<"stream-info">;
export type StreamCreateMessage = MessageOf<"stream-create">;
export type StreamMessage = MessageOf<"stream">;
export type ManifestGetMessage = MessageOf<"manifest-get">;
export type ManifestMessage = MessageOf<"manifest">;
export type ChunksMissingMessage = MessageOf<"chunks-missing">;
export type MissingMessage = MessageOf<"missing">;
export type ChunksPutMessage = MessageOf<"chunks-put">;
export type StoredMessage = MessageOf<"stored">;
export type ChunksGetMessage = MessageOf<"chunks-get">;
export type ChunksMessage = MessageOf<"chunks">;

/** Requests on the control stream (each carries an id and is answered by one frame with it). */
export type ControlRequest = PublishMessage | FetchMessage | LatestMessage | CommitMessage | HeartbeatMessage | LeaveMessage | StreamInfoMessage | StreamCreateMessage | ManifestGetMessage | ChunksMissingMessage;
export type ControlRequestType = ControlRequest["t"];
/** The first frame of a bulk stream (one request per stream). */
export type BulkRequest = ChunksPutMessage | ChunksGetMessage;
export type BulkRequestType = BulkRequest["t"];

export const CONTROL_REQUEST_TYPES: readonly ControlRequestType[] = ["publish", "fetch", "latest", "commit", "heartbeat", "leave", "stream-info", "stream-create", "manifest-get", "chunks-missing"];
export const BULK_REQUEST_TYPES: readonly BulkRequestType[] = ["chunks-put", "chunks-get"];

/** The answer each control request gets when it succeeds. */
export const ANSWER_TYPE = {
  publish: "ack",
  fetch: "records",
  latest: "latest-records",
  commit: "committed",
  heartbeat: "heartbeat-ok",
  leave: "left",
  "stream-info": "stream",
  "stream-create": "stream",
  "manifest-get": "manifest",
  "chunks-missing": "missing",
} as const satisfies Record<ControlRequestType, MessageType>;

export function isMessageType(t: string): t is MessageType {
  return Object.hasOwn(MESSAGE_SCHEMAS, t);
}

/** Validates a decoded frame against the schema of its type. */
export function parseMessage(frame: Frame): Message {
  if (!isMessageType(frame.t)) throw new StrataError("BAD_REQUEST", `unknown frame type '${frame.t}'`);
  const result = MESSAGE_SCHEMAS[frame.t].safeParse(frame);
  if (!result.success) throw new StrataError("BAD_REQUEST", `'${frame.t}' frame: ${describeIssues(result.error.issues)}`);
  return result.data;
}

/** Parses a frame that must be one of `types` (`where` names the place, for the error). */
export function parseMessageOf<T extends MessageType>(frame: Frame, types: readonly T[], where: string): MessageOf<T> {
  const message = parseMessage(frame);
  if (!isOneOf(message, types)) throw new StrataError("BAD_REQUEST", `'${frame.t}' is not expected ${where} (expected ${types.join(", ")})`);
  return message;
}

export function isOneOf<T extends MessageType>(message: Message, types: readonly T[]): message is MessageOf<T> {
  return (types as readonly MessageType[]).includes(message.t);
}

/** The request id of a frame, when it has a valid one (for error frames about a frame that did not parse). */
export function requestIdOf(frame: Frame): number | undefined {
  const id = frame.id;
  return typeof id === "number" && Number.isInteger(id) && id >= 0 && id <= 0xffff_ffff ? id : undefined;
}

// ---- hello ----

/** What the gateway grants in hello-ok. */
export interface SessionLimits {
  /** Largest frame payload the gateway accepts. */
  readonly maxFrameBytes: number;
  /** Requests a client may have outstanding on the control stream. */
  readonly maxInFlight: number;
  /** Bulk streams a client may have open at once. */
  readonly maxBulkStreams: number;
  /** Largest chunk, and most chunks in one chunks-put frame / hashes in one request. */
  readonly maxChunkBytes: number;
  readonly maxChunksPerFrame: number;
  readonly maxHashesPerRequest: number;
}

/** A negotiated session: the version and the gateway's limits. */
export interface Session extends SessionLimits {
  readonly version: number;
}

export function helloOkMessage(session: Session): HelloOkMessage {
  return {
    t: "hello-ok",
    version: session.version,
    max_frame_bytes: session.maxFrameBytes,
    max_in_flight: session.maxInFlight,
    max_bulk_streams: session.maxBulkStreams,
    max_chunk_bytes: session.maxChunkBytes,
    max_chunks_per_frame: session.maxChunksPerFrame,
    max_hashes_per_request: session.maxHashesPerRequest,
  };
}

export function sessionOf(message: HelloOkMessage): Session {
  return {
    version: message.version,
    maxFrameBytes: message.max_frame_bytes,
    maxInFlight: message.max_in_flight,
    maxBulkStreams: message.max_bulk_streams,
    maxChunkBytes: message.max_chunk_bytes,
    maxChunksPerFrame: message.max_chunks_per_frame,
    maxHashesPerRequest: message.max_hashes_per_request,
  };
}

/** The highest version both sides speak, or undefined. */
export function chooseVersion(offered: readonly number[], supported: readonly number[]): number | undefined {
  const common = offered.filter((v) => supported.includes(v));
  return common.length === 0 ? undefined : Math.max(...common);
}

// ---- errors ----

/** The error message; `id` is absent when the failure is not tied to one request. */
export function errorMessage(code: ErrorCode, message: string, id?: number, versions?: readonly number[]): ErrorMessage {
  return { t: "error", code, message, ...(id === undefined ? {} : { id }), ...(versions === undefined ? {} : { versions: [...versions] }) };
}

function isErrorCode(code: string): code is ErrorCode {
  return Object.hasOwn(ERROR_STATUS, code);
}

/** An error message as a StrataError (unknown codes become INTERNAL, the original kept in the message). */
export function errorFromMessage(message: ErrorMessage): StrataError {
  if (isErrorCode(message.code)) return new StrataError(message.code, message.message);
  return new StrataError("INTERNAL", `${message.code}: ${message.message}`);
}

/** Refuses a request holding more items than a session limit allows (BATCH_TOO_LARGE). */
export function checkCount(count: number, max: number, what: string): void {
  if (count > max) throw new StrataError("BATCH_TOO_LARGE", `${count} ${what}; the limit is ${max} per request`);
}
