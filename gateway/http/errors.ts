// Every failure leaves as {"error": {"code", "message"}} with a fitting status, and is logged once
// here with its code (docs/logging.md): 5xx at error level with their cause, except 503s (retry
// later: back-pressure, a moving leader, the metadata database away) at warning; 4xx at debug.
import { getLogger } from "@logtape/logtape";
import type { Context } from "hono";
import { HTTPException } from "hono/http-exception";
import type { ContentfulStatusCode } from "hono/utils/http-status";
import { type ErrorCode, StrataError } from "../../core/errors.ts";
import { LibsqlError } from "@libsql/client";
import { DrizzleQueryError } from "drizzle-orm/errors";
import { literal } from "../observability/log-message.ts";
import { noteBodyBytes, utf8Bytes } from "./response-facts.ts";

const log = getLogger(["strata", "http"]);

export interface ErrorBody {
  error: { code: ErrorCode; message: string };
}

export function errorResponse(c: Context, code: ErrorCode, message: string, status: number, cause?: unknown): Response {
  logError(c, code, message, status, cause);
  const body: ErrorBody = { error: { code, message } };
  const text = JSON.stringify(body);
  c.set("errorCode", code);
  noteBodyBytes(c, utf8Bytes(text));
  return c.body(text, status as ContentfulStatusCode, { "content-type": "application/json" });
}

/** The level an error answer is logged at, by its status. */
function levelOf(status: number): "debug" | "warning" | "error" {
  if (status === 503) return "warning";
  return status >= 500 ? "error" : "debug";
}

function logError(c: Context, code: ErrorCode, message: string, status: number, cause: unknown): void {
  const level = levelOf(status);
  if (!log.isEnabledFor(level)) return;
  const properties = { status, code, method: c.req.method, path: c.req.path, message, error: cause };
  // The request's path and message print as they are; the cause is rendered by the formatter.
  const text = literal(`${status} ${code} ${c.req.method} ${c.req.path}: ${message}`);
  const template = cause === undefined ? text : `${text}: {error}`;
  if (level === "error") log.error(template, properties);
  else if (level === "warning") log.warn(template, properties);
  else log.debug(template, properties);
}

export function onError(err: Error, c: Context): Response {
  if (err instanceof StrataError) {
    const res = errorResponse(c, err.code, err.message, err.status, err.cause);
    // RFC 6750: a refused or missing bearer token says which scheme to use.
    if (err.code === "UNAUTHENTICATED") res.headers.set("www-authenticate", 'Bearer realm="strata"');
    // Cluster mode: a leader moving or the metadata database away is worth a retry in a second.
    if (err.code === "NOT_LEADER" || err.code === "LEASE_LOST" || err.code === "METADATA_UNAVAILABLE") res.headers.set("retry-after", "1");
    return res;
  }
  if (err instanceof HTTPException) return errorResponse(c, err.status === 413 ? "PAYLOAD_TOO_LARGE" : "BAD_REQUEST", err.message, err.status);
  if (metadataUnreachable(err)) {
    const res = errorResponse(c, "METADATA_UNAVAILABLE", "the metadata database did not answer; retry", 503, err);
    res.headers.set("retry-after", "1");
    return res;
  }
  return errorResponse(c, "INTERNAL", "internal error", 500, err);
}

/** Network failures (Bun's, Node's and undici's codes) and a libSQL server answering 5xx while it starts or stops. */
const UNREACHABLE = new Set(["ECONNREFUSED", "ECONNRESET", "ETIMEDOUT", "EPIPE", "EHOSTUNREACH", "ENETUNREACH", "ConnectionRefused", "UND_ERR_SOCKET", "UND_ERR_CONNECT_TIMEOUT", "SERVER_ERROR"]);

/** A metadata query (drizzle or libSQL) that failed because the database did not answer: 503, not a 500. */
function metadataUnreachable(err: Error): boolean {
  let query = false;
  for (let e: unknown = err, depth = 0; e instanceof Error && depth < 8; e = e.cause, depth++) {
    if (e instanceof DrizzleQueryError || e instanceof LibsqlError) query = true;
    const code = "code" in e && typeof e.code === "string" ? e.code : undefined;
    if (query && ((code !== undefined && UNREACHABLE.has(code)) || (e instanceof TypeError && e.message === "fetch failed"))) return true;
  }
  return false;
}
