// The control messages of the UCX path (docs/native.md), one schema per type, in wire form
// (snake_case MessagePack maps with a type `t`). The first message of an endpoint is a hello
// (carrying the bearer token when the gateway has auth on); then requests, each with a client-chosen
// `id` its answer repeats. Bulk bytes never ride here except inline answers below the gateway's
// inline threshold: larger answers are a registered region the client reads with a one-sided get.
import * as z from "zod/mini";

export const UCX_PROTOCOL_VERSION = 1;
const U32_MAX = 0xffff_ffff;
/** Longest stream name (the stream-name rule allows 200 characters). */
const MAX_NAME = 200;
/** Longest bearer token a hello may carry (a JWT with many scopes stays far below). */
export const MAX_TOKEN_CHARS = 16 * 1024;
/** Most hashes one chunks request may name (the gateway's own limit may be lower). */
export const MAX_HASHES_PER_REQUEST = 65_536;
/** Longest packed remote key accepted in an answer. */
const MAX_RKEY_BYTES = 4096;
/** Longest error message carried back. */
const MAX_ERROR_CHARS = 4096;

function uint(max = Number.MAX_SAFE_INTEGER) {
  const error = `must be an integer in [0, ${max}]`;
  return z.int({ error }).check(z.minimum(0, { error }), z.maximum(max, { error }));
}

function text(maxLength: number) {
  const error = `must be a string of at most ${maxLength} characters`;
  return z.string({ error }).check(z.maxLength(maxLength, { error }));
}

const hash = z.custom<Uint8Array>((v) => v instanceof Uint8Array && v.length === 32, { error: "must be 32 bytes (bin)" });
const bytes = z.custom<Uint8Array>((v) => v instanceof Uint8Array, { error: "must be bytes (bin)" });
const rkey = z.custom<Uint8Array>((v) => v instanceof Uint8Array && v.length > 0 && v.length <= MAX_RKEY_BYTES, { error: `must be 1 to ${MAX_RKEY_BYTES} bytes (bin)` });
const requestId = uint(U32_MAX);

export const helloSchema = z.object({
  t: z.literal("hello"),
  v: uint(U32_MAX),
  token: z.optional(z.nullable(text(MAX_TOKEN_CHARS))),
});

/** The chunks of `hashes` in order, framed as `POST /v1/chunks/get` frames them. */
export const chunksRequestSchema = z.object({
  t: z.literal("chunks"),
  id: requestId,
  hashes: z.array(hash, { error: `must be an array of 1 to ${MAX_HASHES_PER_REQUEST} hashes` }).check(
    z.minLength(1, { error: `must be an array of 1 to ${MAX_HASHES_PER_REQUEST} hashes` }),
    z.maxLength(MAX_HASHES_PER_REQUEST, { error: `must be an array of 1 to ${MAX_HASHES_PER_REQUEST} hashes` }),
  ),
});

/** Bytes [start, end) of the committed segment `base` of a partition (the raw segment route's Range). */
export const segmentRequestSchema = z.object({
  t: z.literal("segment"),
  id: requestId,
  stream: text(MAX_NAME),
  partition: uint(U32_MAX),
  base: uint(),
  start: uint(),
  end: uint(),
});

/** The client has read region `region` (the gateway also frees it on timeout or endpoint close). */
export const releaseSchema = z.object({
  t: z.literal("release"),
  region: uint(U32_MAX),
});

export const clientMessageSchema = z.discriminatedUnion("t", [helloSchema, chunksRequestSchema, segmentRequestSchema, releaseSchema]);

export const welcomeSchema = z.object({
  t: z.literal("welcome"),
  v: uint(U32_MAX),
  /** Largest control message the gateway accepts. */
  max_message_bytes: uint(),
  /** Most answer bytes one request may ask for. */
  max_request_bytes: uint(),
});

/** An answer in a registered region: read `length` bytes at `address` with `rkey`, then release it. */
export const regionAnswerSchema = z.object({
  t: z.literal("region"),
  id: requestId,
  region: uint(U32_MAX),
  /** A virtual address of the gateway process (below 2^53 on every 64-bit platform UCX supports). */
  address: uint(),
  rkey,
  length: uint(),
});

/** A small answer carried in the message itself. */
export const inlineAnswerSchema = z.object({
  t: z.literal("inline"),
  id: requestId,
  data: bytes,
});

/** A refused request (`id` 0 for a refused hello or an unreadable message), with a stable code of core/errors.ts. */
export const errorAnswerSchema = z.object({
  t: z.literal("error"),
  id: requestId,
  code: text(64),
  message: text(MAX_ERROR_CHARS),
});

export const gatewayMessageSchema = z.discriminatedUnion("t", [welcomeSchema, regionAnswerSchema, inlineAnswerSchema, errorAnswerSchema]);

export type HelloMessage = z.infer<typeof helloSchema>;
export type ChunksRequest = z.infer<typeof chunksRequestSchema>;
export type SegmentRequest = z.infer<typeof segmentRequestSchema>;
export type ReleaseMessage = z.infer<typeof releaseSchema>;
export type ClientMessage = z.infer<typeof clientMessageSchema>;
export type WelcomeMessage = z.infer<typeof welcomeSchema>;
export type RegionAnswer = z.infer<typeof regionAnswerSchema>;
export type InlineAnswer = z.infer<typeof inlineAnswerSchema>;
export type ErrorAnswer = z.infer<typeof errorAnswerSchema>;
export type GatewayMessage = z.infer<typeof gatewayMessageSchema>;
export const ERROR_MESSAGE_MAX_CHARS = MAX_ERROR_CHARS;
