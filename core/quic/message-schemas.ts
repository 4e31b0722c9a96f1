// The schema of every message of the QUIC protocol (docs/quic-protocol.md), one per frame type,
// in wire form (snake_case, as the peer sends it). zod/mini keeps the bundle small; every
// check carries its own message, so a failure reads "fetch.offset must be an integer in [...]".
// Unknown fields are stripped (the protocol ignores them); an optional field may be absent or nil.
// What a request means (stream exists, limits of the services) is checked by the services.
import * as z from "zod/mini";
import type { Fields } from "../log/record.ts";
import { fieldMapProblem, isFieldMap } from "../log/field-values.ts";
import { MAX_HELLO_FRAME_BYTES } from "./frames.ts";

const U32_MAX = 0xffff_ffff;
/** Longest stream or group name (the stream-name rule allows 200 characters). */
const MAX_NAME = 200;
/** Most protocol versions a hello may offer. */
const MAX_OFFERED_VERSIONS = 64;
/** Most field names a fetch may project to. */
const MAX_PROJECTED_FIELDS = 1024;
/** Longest filter expression a fetch may carry: the top of the gateway's maxFilterBytes range. */
const MAX_FILTER_CHARS = 64 * 1024;

function uint(min = 0, max = Number.MAX_SAFE_INTEGER) {
  const error = `must be an integer in [${min}, ${max}]`;
  return z.int({ error }).check(z.minimum(min, { error }), z.maximum(max, { error }));
}

function text(maxLength?: number) {
  if (maxLength === undefined) return z.string({ error: "must be a string" });
  const error = `must be a string of at most ${maxLength} characters`;
  return z.string({ error }).check(z.maxLength(maxLength, { error }));
}

const bytes = z.custom<Uint8Array>((v) => v instanceof Uint8Array, { error: "must be bytes (bin)" });
const hash = z.custom<Uint8Array>((v) => v instanceof Uint8Array && v.length === 32, { error: "must be 32 bytes (bin)" });

function list<T extends z.ZodMiniType>(item: T, bounds: { min?: number; max?: number } = {}) {
  const { min = 0, max } = bounds;
  const error = max === undefined ? (min > 0 ? `must be a non-empty array` : "must be an array") : `must be an array of ${min} to ${max} items`;
  const checks = [...(min > 0 ? [z.minLength(min, { error })] : []), ...(max !== undefined ? [z.maxLength(max, { error })] : [])];
  return z.array(item, { error }).check(...checks);
}

function map<T extends z.core.$ZodLooseShape>(shape: T) {
  return z.object(shape, { error: "must be a map" });
}

/** Absent or nil: both read as absent. */
function optional<T extends z.ZodMiniType>(schema: T) {
  return z.optional(z.pipe(z.nullable(schema), z.transform((v: z.output<T> | null) => v ?? undefined)));
}

const requestId = uint(0, U32_MAX);
const streamName = text(MAX_NAME);
/** The one field-value rule of every transport (core/log/field-values.ts), as HTTP's publish schema applies it. */
const fields = z.custom<Fields>(isFieldMap, { error: (issue) => fieldMapProblem(issue.input) });
const headers = z.record(z.string(), z.union([z.string(), bytes]), { error: "must be a map of strings or bytes" });
const position = map({ partition: uint(0, U32_MAX), offset: uint() });

// ---- the handshake ----

export const helloSchema = map({
  t: z.literal("hello"),
  versions: list(uint(0, U32_MAX), { max: MAX_OFFERED_VERSIONS }),
  token: optional(text(1024)),
  max_frame_bytes: optional(uint(MAX_HELLO_FRAME_BYTES, U32_MAX)),
});

export const helloOkSchema = map({
  t: z.literal("hello-ok"),
  version: uint(0, U32_MAX),
  max_frame_bytes: uint(1, U32_MAX),
  max_in_flight: uint(1, U32_MAX),
  max_bulk_streams: uint(1, U32_MAX),
  max_chunk_bytes: uint(1, U32_MAX),
  max_chunks_per_frame: uint(1, U32_MAX),
  max_hashes_per_request: uint(1, U32_MAX),
});

export const errorSchema = map({
  t: z.literal("error"),
  id: optional(requestId),
  code: text(64),
  message: text(MAX_HELLO_FRAME_BYTES),
  versions: optional(list(uint(0, U32_MAX))),
});

// ---- control-stream requests and their answers ----

const publishRecord = map({
  key: optional(z.union([z.string(), bytes], { error: "must be a string or bytes" })),
  partition: optional(uint(0, U32_MAX)),
  headers: optional(headers),
  /** Nil is a tombstone (docs/compaction.md). */
  fields: z.nullable(fields),
});

const producer = map({ id: uint(), epoch: uint(0, 0xffff), seq: uint(0, U32_MAX) });

export const publishSchema = map({
  t: z.literal("publish"),
  id: requestId,
  stream: streamName,
  records: list(publishRecord, { min: 1 }),
  producer: optional(producer),
  acks: optional(z.enum(["local", "durable"], { error: "must be local or durable" })),
});

export const ackSchema = map({ t: z.literal("ack"), id: requestId, records: list(position) });

export const fetchSchema = map({
  t: z.literal("fetch"),
  id: requestId,
  stream: streamName,
  partition: uint(0, U32_MAX),
  offset: uint(),
  max_records: optional(uint(1)),
  max_bytes: optional(uint(1)),
  wait_ms: optional(uint()),
  fields: optional(list(z.string({ error: "must be a string" }), { max: MAX_PROJECTED_FIELDS })),
  /** A CEL filter (docs/filters.md); the gateway checks its length against its own limit. */
  filter: optional(text(MAX_FILTER_CHARS)),
});

const fetchedRecord = map({
  offset: uint(),
  timestamp: uint(),
  key: z.nullable(bytes),
  headers,
  /** Nil for a tombstone (docs/compaction.md). */
  fields: z.nullable(fields),
});

export const recordsSchema = map({
  t: z.literal("records"),
  id: requestId,
  records: list(fetchedRecord),
  next_offset: uint(),
  end_offset: uint(),
});

/** The latest record per key of a compacted stream (GET /v1/streams/{name}/latest, docs/compaction.md). */
export const latestSchema = map({
  t: z.literal("latest"),
  id: requestId,
  stream: streamName,
  /** One key; absent: every key. */
  key: optional(z.union([z.string(), bytes], { error: "must be a string or bytes" })),
  /** A watermark of an earlier answer; with wait_ms the answer waits until the map moved past it. */
  after: optional(text(64)),
  wait_ms: optional(uint()),
});

export const latestRecordsSchema = map({
  t: z.literal("latest-records"),
  id: requestId,
  stream: z.string({ error: "must be a string" }),
  watermark: z.string({ error: "must be a string" }),
  records: list(
    map({
      key: bytes,
      partition: uint(0, U32_MAX),
      offset: uint(),
      timestamp: uint(),
      headers,
      fields,
    }),
  ),
});

export const commitSchema = map({
  t: z.literal("commit"),
  id: requestId,
  group: text(MAX_NAME),
  stream: streamName,
  partition: optional(uint(0, U32_MAX)),
  // Its range is the group service's (INVALID_OFFSET, as over HTTP).
  offset: z.number({ error: "must be a number" }),
  /** The committing member and its epoch, when the group has members (docs/groups.md). */
  member: optional(text(MAX_NAME)),
  member_epoch: optional(uint()),
});

/** A consumer-group member's heartbeat, as POST /v1/groups/{group}/heartbeat (the service checks names and bounds). */
export const heartbeatSchema = map({
  t: z.literal("heartbeat"),
  id: requestId,
  group: text(MAX_NAME),
  member: text(MAX_NAME),
  streams: list(streamName, { min: 1, max: 10_000 }),
  member_epoch: optional(uint()),
  instance: optional(text(MAX_NAME)),
  session_timeout_ms: optional(uint(1)),
});

export const heartbeatOkSchema = map({
  t: z.literal("heartbeat-ok"),
  id: requestId,
  member_epoch: uint(),
  assignment: list(map({ stream: z.string({ error: "must be a string" }), partition: uint(0, U32_MAX) })),
  heartbeat_interval_ms: uint(),
});

/** A member leaves its group at once, as DELETE /v1/groups/{group}/members/{member}; answered `left`. */
export const leaveSchema = map({ t: z.literal("leave"), id: requestId, group: text(MAX_NAME), member: text(MAX_NAME) });

export const leftSchema = map({ t: z.literal("left"), id: requestId, group: z.string({ error: "must be a string" }), member: z.string({ error: "must be a string" }) });

export const committedSchema = map({
  t: z.literal("committed"),
  id: requestId,
  stream: z.string({ error: "must be a string" }),
  partition: uint(0, U32_MAX),
  offset: uint(),
  updated_at: uint(),
});

export const streamInfoSchema = map({ t: z.literal("stream-info"), id: requestId, stream: streamName });

export const streamCreateSchema = map({
  t: z.literal("stream-create"),
  id: requestId,
  name: streamName,
  partitions: optional(uint(1, U32_MAX)),
  retention: optional(map({ ms: optional(uint(1)), bytes: optional(uint(1)) })),
});

export const streamSchema = map({
  t: z.literal("stream"),
  id: requestId,
  name: z.string({ error: "must be a string" }),
  partitions: list(map({ partition: uint(0, U32_MAX), start_offset: uint(), end_offset: uint(), bytes: uint() })),
  retention: map({ ms: z.nullable(uint()), bytes: z.nullable(uint()) }),
  created_at: uint(),
});

const manifestId = z.string({ error: "must be 64 lowercase hex characters" }).check(z.regex(/^[0-9a-f]{64}$/, { error: "must be 64 lowercase hex characters" }));

export const manifestGetSchema = map({ t: z.literal("manifest-get"), id: requestId, manifest: manifestId });

export const manifestSchema = map({ t: z.literal("manifest"), id: requestId, manifest: manifestId, bytes });

export const chunksMissingSchema = map({ t: z.literal("chunks-missing"), id: requestId, hashes: list(hash) });

export const missingSchema = map({ t: z.literal("missing"), id: requestId, missing: list(hash) });

// ---- bulk streams ----

export const chunksPutSchema = map({
  t: z.literal("chunks-put"),
  chunks: list(z.tuple([hash, bytes], { error: "must be [bin32 hash, bin data]" })),
});

export const storedSchema = map({ t: z.literal("stored"), stored: uint(), existing: uint() });

export const chunksGetSchema = map({ t: z.literal("chunks-get"), hashes: list(hash) });

export const chunksSchema = map({ t: z.literal("chunks"), count: uint() });

/** Every frame type and its schema. */
export const MESSAGE_SCHEMAS = {
  hello: helloSchema,
  "hello-ok": helloOkSchema,
  error: errorSchema,
  publish: publishSchema,
  ack: ackSchema,
  fetch: fetchSchema,
  records: recordsSchema,
  latest: latestSchema,
  "latest-records": latestRecordsSchema,
  commit: commitSchema,
  committed: committedSchema,
  heartbeat: heartbeatSchema,
  "heartbeat-ok": heartbeatOkSchema,
  leave: leaveSchema,
  left: leftSchema,
  "stream-info": streamInfoSchema,
  "stream-create": streamCreateSchema,
  stream: streamSchema,
  "manifest-get": manifestGetSchema,
  manifest: manifestSchema,
  "chunks-missing": chunksMissingSchema,
  missing: missingSchema,
  "chunks-put": chunksPutSchema,
  stored: storedSchema,
  "chunks-get": chunksGetSchema,
  chunks: chunksSchema,
} as const;
