// Every failure leaves as {"error": {"code", "message"}} with a fitting status.
import { getLogger } from "@logtape/logtape";
import type { Context } from "hono";
import { HTTPException } from "hono/http-exception";
import type { ContentfulStatusCode } from "hono/utils/http-status";
import { type ErrorCode, StrataError } from "../../core/errors.ts";

const log = getLogger(["strata", "http"]);

export interface ErrorBody {
  error: { code: ErrorCode; message: string };
}

export function errorResponse(c: Context, code: ErrorCode, message: string, status: number): Response {
  const body: ErrorBody = { error: { code, message } };
  return c.json(body, status as ContentfulStatusCode);
}

export function onError(err: Error, c: Context): Response {
  if (err instanceof StrataError) {
    const res = errorResponse(c, err.code, err.message, err.status);
    // RFC 6750: a refused or missing bearer token says which scheme to use.
    if (err.code === "UNAUTHENTICATED") res.headers.set("www-authenticate", 'Bearer realm="strata"');
    // Cluster mode: a leader moving or the metadata database away is worth a retry in a second.
    if (err.code === "NOT_LEADER" || err.code === "LEASE_LOST" || err.code === "METADATA_UNAVAILABLE") res.headers.set("retry-after", "1");
    return res;
  }
  if (err instanceof HTTPException) return errorResponse(c, err.status === 413 ? "PAYLOAD_TOO_LARGE" : "BAD_REQUEST", err.message, err.status);
  log.error("unexpected error in {method} {path}: {error}", { method: c.req.method, path: c.req.path, error: err });
  return errorResponse(c, "INTERNAL", "internal error", 500);
}
