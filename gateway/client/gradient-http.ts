// The gateway calls of gradient clients (docs/gradients.md), in MessagePack so tensors travel as
// bytes: contribute a rank's gradients, read a stream's records (long-polling), describe a stream,
// create one, and publish one record. Refusals are StrataErrors with the gateway's code.
import { Decoder, Encoder } from "@msgpack/msgpack";
import { z } from "zod";
import { ERROR_STATUS, type ErrorCode, StrataError } from "../../core/errors.ts";
import { extensionCodec } from "../../core/log/extensions.ts";
import type { Fields, Tensor } from "../../core/log/record.ts";
import { contributionAnswerSchema, type ContributionAnswer } from "../gradients/gradient-wire.ts";
import type { GatewayConnection } from "./gateway-call.ts";

const MSGPACK = "application/msgpack";
const encoder = new Encoder({ extensionCodec, ignoreUndefined: true });
const decoder = new Decoder({ extensionCodec, useBigInt64: false });
const errorSchema = z.object({ error: z.object({ code: z.string(), message: z.string() }) });

function isErrorCode(code: string): code is ErrorCode {
  return Object.hasOwn(ERROR_STATUS, code);
}

const path = (stream: string): string => encodeURIComponent(stream);

/** One call; the decoded MessagePack (or JSON) answer checked by `schema`. */
async function call<S extends z.ZodType>(connection: GatewayConnection, method: string, route: string, schema: S, body?: unknown, signal?: AbortSignal): Promise<z.output<S>> {
  const headers: Record<string, string> = { accept: MSGPACK };
  if (body !== undefined) headers["content-type"] = MSGPACK;
  if (connection.token !== undefined) headers.authorization = `Bearer ${connection.token}`;
  const url = `${connection.gateway.replace(/\/+$/, "")}${route}`;
  const init: RequestInit = { method, headers, ...(signal ? { signal } : {}) };
  if (body !== undefined) init.body = encoder.encode(body) as Uint8Array<ArrayBuffer>;
  const response = await (connection.fetch ?? fetch)(url, init);
  const bytes = new Uint8Array(await response.arrayBuffer());
  let value: unknown;
  try {
    const type = response.headers.get("content-type") ?? "";
    value = type.startsWith(MSGPACK) ? decoder.decode(bytes) : JSON.parse(new TextDecoder().decode(bytes));
  } catch {
    throw new StrataError("UNAVAILABLE", `${method} ${url}: HTTP ${response.status} with a body that does not decode`);
  }
  if (!response.ok) {
    const failure = errorSchema.safeParse(value);
    const fallback: ErrorCode = response.status >= 500 ? "UNAVAILABLE" : "BAD_REQUEST";
    if (failure.success) throw new StrataError(isErrorCode(failure.data.error.code) ? failure.data.error.code : fallback, failure.data.error.message);
    throw new StrataError(fallback, `${method} ${url}: HTTP ${response.status}`);
  }
  const parsed = schema.safeParse(value);
  if (!parsed.success) throw new StrataError("CORRUPT_DATA", `${method} ${url}: unexpected answer: ${parsed.error.issues[0]?.message ?? "malformed"}`);
  return parsed.data;
}

/** What a rank sends for one step. */
export interface GradientContribution {
  readonly rank: number;
  readonly worldSize: number;
  /** By name; F32, F16 or BF16 (makeTensor in core/log/extensions.ts builds one). */
  readonly tensors: Readonly<Record<string, Tensor>>;
}

/** Contributes a rank's gradients to `step` of `stream` (POST /v1/gradients/{stream}/steps/{step}); a repeat answers the first position. */
export function contributeGradients(connection: GatewayConnection, stream: string, step: number, contribution: GradientContribution, signal?: AbortSignal): Promise<ContributionAnswer> {
  return call(connection, "POST", `/v1/gradients/${path(stream)}/steps/${step}`, contributionAnswerSchema, { rank: contribution.rank, world_size: contribution.worldSize, tensors: contribution.tensors }, signal);
}

const storedRecordSchema = z.object({
  offset: z.number().int().nonnegative(),
  timestamp: z.number(),
  key: z.instanceof(Uint8Array).nullable(),
  headers: z.record(z.string(), z.union([z.string(), z.instanceof(Uint8Array)])),
  fields: z.record(z.string(), z.unknown()),
});

const readAnswerSchema = z.object({ records: z.array(storedRecordSchema), next_offset: z.number().int().nonnegative(), end_offset: z.number().int().nonnegative() });

export type StoredRecord = z.output<typeof storedRecordSchema>;
export type ReadAnswer = z.output<typeof readAnswerSchema>;

/** Records of one partition from `offset`, waiting up to `waitMs` for one when there are none yet. */
export function readPartition(connection: GatewayConnection, stream: string, partition: number, offset: number, waitMs: number, signal?: AbortSignal): Promise<ReadAnswer> {
  return call(connection, "GET", `/v1/streams/${path(stream)}/partitions/${partition}/records?offset=${offset}&wait_ms=${waitMs}`, readAnswerSchema, undefined, signal);
}

const streamAnswerSchema = z.object({ name: z.string(), partitions: z.array(z.object({ partition: z.number().int().nonnegative(), start_offset: z.number().int().nonnegative() })).min(1) });

/** The first offset still held of each partition of the stream (retention removes older ones), or undefined when the stream does not exist. */
export async function startOffsetsOf(connection: GatewayConnection, stream: string, signal?: AbortSignal): Promise<number[] | undefined> {
  try {
    const answer = await call(connection, "GET", `/v1/streams/${path(stream)}`, streamAnswerSchema, undefined, signal);
    return [...answer.partitions].sort((a, b) => a.partition - b.partition).map((p) => p.start_offset);
  } catch (e) {
    if (e instanceof StrataError && e.code === "STREAM_NOT_FOUND") return undefined;
    throw e;
  }
}

/** Creates `stream` with one partition unless it exists. */
export async function ensureStream(connection: GatewayConnection, stream: string, signal?: AbortSignal): Promise<void> {
  try {
    await call(connection, "POST", "/v1/streams", z.unknown(), { name: stream, partitions: 1 }, signal);
  } catch (e) {
    if (!(e instanceof StrataError) || e.code !== "STREAM_EXISTS") throw e;
  }
}

const publishAnswerSchema = z.object({ records: z.array(z.object({ partition: z.number().int().nonnegative(), offset: z.number().int().nonnegative() })).length(1) });

/** Appends one record to `stream` and answers where it is. */
export async function publishRecord(connection: GatewayConnection, stream: string, record: { key: string; headers: Readonly<Record<string, string>>; fields: Fields }, signal?: AbortSignal): Promise<{ partition: number; offset: number }> {
  const answer = await call(connection, "POST", `/v1/streams/${path(stream)}/records`, publishAnswerSchema, { records: [record] }, signal);
  return answer.records[0]!;
}
