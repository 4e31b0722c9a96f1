// Declares a route's input for hono/client's types only. Bodies may be JSON or MessagePack, so
// decoding happens in readBody, not in Hono's JSON validator; this middleware costs nothing.
import type { MiddlewareHandler } from "hono";

export function jsonInput<T>(): MiddlewareHandler<object, string, { in: { json: T }; out: { json: T } }> {
  return async (_c, next) => {
    await next();
  };
}

export function queryInput<T extends Record<string, string | undefined>>(): MiddlewareHandler<object, string, { in: { query: T }; out: { query: T } }> {
  return async (_c, next) => {
    await next();
  };
}
