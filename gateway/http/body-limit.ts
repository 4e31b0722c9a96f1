// The one request-body limit of every route: PAYLOAD_TOO_LARGE past maxBytes. A body with a
// Content-Length is judged by the header alone, without first touching c.req.raw.body (which
// makes Bun build a stream per request); chunked bodies are counted by hono's bodyLimit.
import type { Context, MiddlewareHandler } from "hono";
import { bodyLimit } from "hono/body-limit";
import { errorResponse } from "./errors.ts";

export function limitBody(maxBytes: number): MiddlewareHandler {
  const tooLarge = (c: Context) => errorResponse(c, "PAYLOAD_TOO_LARGE", `request body is larger than ${maxBytes} bytes`, 413);
  const streamed = bodyLimit({ maxSize: maxBytes, onError: tooLarge });
  return async (c, next) => {
    const length = c.req.header("content-length");
    if (length !== undefined && c.req.header("transfer-encoding") === undefined) {
      if (parseInt(length, 10) > maxBytes) return tooLarge(c);
      await next();
      return;
    }
    return streamed(c, next);
  };
}
