// One JSON call to the gateway for the client library's consumers (group consumer, queue worker):
// fetch, the bearer token, the answer checked by a schema, and a failure answer turned into a
// StrataError carrying the gateway's code, so callers switch on codes, not statuses.
import { z } from "zod";
import { ERROR_STATUS, type ErrorCode, StrataError } from "../../core/errors.ts";

/**
 * Where a client calls: the gateway's base URL, its token and the fetch to use. For several
 * gateways (or retries across one load balancer URL) build it with gatewayConnection
 * (gateway-urls.ts), whose fetch moves each request to the gateway that answers.
 */
export interface GatewayConnection {
  /** The gateway's base URL, e.g. http://127.0.0.1:7070 (with gatewayConnection: the first of its URLs). */
  readonly gateway: string;
  /** A gateway token (`strata tokens issue`), sent as `Authorization: Bearer`. */
  readonly token?: string;
  /** The fetch to use (e.g. one trusting a private CA); the global fetch by default. */
  readonly fetch?: typeof fetch;
}

/** A string-keyed bytes value in the JSON wire form (`{"$base64"}`). */
export const jsonBytesSchema = z.object({ $base64: z.string() });

/** A record as JSON reads and claims carry it. */
export const jsonRecordFields = {
  offset: z.number().int().nonnegative(),
  timestamp: z.number(),
  key: jsonBytesSchema.nullable(),
  headers: z.record(z.string(), z.union([z.string(), jsonBytesSchema])),
  /** Null for a tombstone (docs/compaction.md). */
  fields: z.record(z.string(), z.unknown()).nullable(),
};

/** A gateway's error answer, `{"error": {"code", "message"}}`. */
export const errorSchema = z.object({ error: z.object({ code: z.string(), message: z.string() }) });

function isErrorCode(code: string): code is ErrorCode {
  return Object.hasOwn(ERROR_STATUS, code);
}

/**
 * Calls `method path` with an optional JSON body and answers the parsed body and its length.
 * A body that is not JSON is UNAVAILABLE (a body cut short is worth a retry); a refusal is a
 * StrataError with the gateway's code (an unknown code: UNAVAILABLE for a 5xx, else BAD_REQUEST);
 * an answer the schema refuses is CORRUPT_DATA.
 */
export async function callGateway<S extends z.ZodType>(
  connection: GatewayConnection,
  method: string,
  path: string,
  schema: S,
  body?: unknown,
  signal?: AbortSignal,
): Promise<{ value: z.output<S>; bytes: number }> {
  const headers: Record<string, string> = { accept: "application/json" };
  if (body !== undefined) headers["content-type"] = "application/json";
  if (connection.token !== undefined) headers.authorization = `Bearer ${connection.token}`;
  const url = `${connection.gateway.replace(/\/+$/, "")}${path}`;
  const response = await (connection.fetch ?? fetch)(url, { method, headers, ...(body === undefined ? {} : { body: JSON.stringify(body) }), ...(signal ? { signal } : {}) });
  return gatewayAnswer(response, schema, `${method} ${url}`);
}

/**
 * A gateway's JSON answer checked against `schema`; an error answer becomes its StrataError (an
 * unknown code: UNAVAILABLE for 5xx, else BAD_REQUEST). `what` names the call in messages.
 */
export async function gatewayAnswer<S extends z.ZodType>(response: Response, schema: S, what: string): Promise<{ value: z.output<S>; bytes: number }> {
  const text = await response.text();
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    throw new StrataError("UNAVAILABLE", `${what}: HTTP ${response.status} with a body that is not JSON`);
  }
  if (!response.ok) {
    const failure = errorSchema.safeParse(json);
    const fallback: ErrorCode = response.status >= 500 ? "UNAVAILABLE" : "BAD_REQUEST";
    if (failure.success) throw new StrataError(isErrorCode(failure.data.error.code) ? failure.data.error.code : fallback, failure.data.error.message);
    throw new StrataError(fallback, `${what}: HTTP ${response.status}`);
  }
  const parsed = schema.safeParse(json);
  if (!parsed.success) throw new StrataError("CORRUPT_DATA", `${what}: unexpected answer: ${parsed.error.issues[0]?.message ?? "malformed"}`);
  return { value: parsed.data, bytes: text.length };
}

/** Resolves after `ms`, or at once when `signal` aborts (never rejects). */
export function abortableDelay(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve();
    const done = (): void => {
      clearTimeout(timer);
      signal.removeEventListener("abort", done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal.addEventListener("abort", done, { once: true });
  });
}
