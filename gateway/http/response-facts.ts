// What the access log and the request metrics need to know about an answer that the Response
// itself does not say: the stable error code of an error answer, and the size of a body sent
// without a Content-Length (Hono builds JSON and MessagePack answers from strings and bytes
// without one; the server adds it on the wire). The encoders note them on the request's context.
import { Buffer } from "node:buffer";
import type { Context } from "hono";
import type { ErrorCode } from "../../core/errors.ts";

declare module "hono" {
  interface ContextVariableMap {
    /** The code of an error answer (errors.ts). */
    errorCode: ErrorCode;
    /** The byte size of the answer's body, noted by the encoder that built it. */
    bodyBytes: number;
  }
}

/** The UTF-8 size of a string body (native, without encoding it). */
export function utf8Bytes(text: string): number {
  return Buffer.byteLength(text, "utf8");
}

export function noteBodyBytes(c: Context, bytes: number): void {
  c.set("bodyBytes", bytes);
}

/** A Content-Length header's value; undefined when absent or not a number. */
export function contentLength(headers: Headers): number | undefined {
  const value = headers.get("content-length");
  if (value === null) return undefined;
  const n = Number(value);
  return Number.isSafeInteger(n) && n >= 0 ? n : undefined;
}

/** The answer's body size: its Content-Length, else what its encoder noted, else 0 (an uncounted body). */
export function responseBytes(c: Context): number {
  return contentLength(c.res.headers) ?? c.get("bodyBytes") ?? 0;
}
