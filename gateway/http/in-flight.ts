// One cap on request-body bytes in flight across the gateway's HTTP routes, so that many large
// requests at once cannot exhaust memory (each body is held, and decoded, while it is served).
// A body with a Content-Length reserves its length before it is read; a chunked body reserves
// its bytes as they stream in. Past the cap the request is refused with 503 UNAVAILABLE and
// Retry-After; the reservation is released when the request has been answered. A single body
// larger than the whole cap (a route with a larger body limit) is admitted only while nothing
// else is in flight, so it can still be served, alone.
import type { Context, MiddlewareHandler } from "hono";
import { invariant } from "../../core/errors.ts";
import { errorResponse } from "./errors.ts";

/** Seconds a refused client is told to wait. */
const RETRY_AFTER_S = 1;

/** Bytes reserved by requests being served, against one capacity. */
export class InFlightBytes {
  #used = 0;

  constructor(readonly capacity: number) {
    invariant(Number.isSafeInteger(capacity) && capacity > 0, "in-flight capacity is a positive integer");
  }

  get used(): number {
    return this.#used;
  }

  /** Reserves `n` bytes if they fit (or if nothing is in flight); false otherwise. */
  tryReserve(n: number): boolean {
    invariant(Number.isSafeInteger(n) && n >= 0, "reserve a byte count");
    if (this.#used + n > this.capacity && this.#used > 0) return false;
    this.#used += n;
    return true;
  }

  release(n: number): void {
    invariant(n >= 0 && n <= this.#used, "release only what was reserved");
    this.#used -= n;
  }
}

/** Requests at least this large ask the runtime for a garbage collection when they finish. */
const COLLECT_AFTER_BYTES = 16 * 1024 * 1024;

/**
 * The runtime's explicit collection, where it has one (Bun.gc; Node's and Deno's gc() only with
 * --expose-gc / --v8-flags=--expose-gc). A large body leaves several times its size of garbage
 * (text, parsed values, decoded bytes) that a lazy collector may keep for many requests more:
 * collecting after each large request is what keeps the cap a bound on memory, not only on bytes.
 */
const runtime: { Bun?: { gc(force: boolean): void }; gc?: () => void } = globalThis;
const collectGarbage: () => void = runtime.Bun ? () => runtime.Bun?.gc(true) : runtime.gc ?? (() => {});

/** Raised inside a chunked body's stream when its next bytes do not fit. */
class InFlightFull extends Error {}

export function limitInFlight(budget: InFlightBytes): MiddlewareHandler {
  const refuse = (c: Context): Response => {
    c.header("Retry-After", String(RETRY_AFTER_S));
    // The body is not read: closing the connection spares the server from draining it.
    c.header("Connection", "close");
    return errorResponse(c, "UNAVAILABLE", `the gateway holds ${budget.capacity} bytes of requests in flight (limits.maxRequestBytesInFlight); retry`, 503);
  };
  return async (c, next) => {
    const length = c.req.header("content-length");
    const chunked = c.req.header("transfer-encoding") !== undefined;
    if (!chunked) {
      const n = length === undefined ? 0 : Number.parseInt(length, 10);
      if (!Number.isSafeInteger(n) || n <= 0) return next(); // no body, or a length the body limit refuses
      if (!budget.tryReserve(n)) return refuse(c);
      try {
        await next();
      } finally {
        budget.release(n);
        if (n >= COLLECT_AFTER_BYTES) collectGarbage();
      }
      return;
    }
    const body = c.req.raw.body;
    if (body === null) return next();
    let reserved = 0;
    let answered = false;
    const counted = body.pipeThrough(new TransformStream<Uint8Array, Uint8Array>({
      transform(chunk, controller) {
        if (answered) return; // the handler left the rest of the body unread
        if (!budget.tryReserve(chunk.length)) throw new InFlightFull();
        reserved += chunk.length;
        controller.enqueue(chunk);
      },
    }));
    // A streamed request body needs duplex "half" (Node's fetch), which the DOM RequestInit type lacks.
    const init: RequestInit & { duplex: "half" } = { body: counted, duplex: "half" };
    c.req.raw = new Request(c.req.raw, init);
    try {
      await next();
      if (c.error instanceof InFlightFull) c.res = refuse(c);
    } catch (e) {
      if (e instanceof InFlightFull) return refuse(c);
      throw e;
    } finally {
      answered = true;
      budget.release(reserved);
      if (reserved >= COLLECT_AFTER_BYTES) collectGarbage();
    }
  };
}
