// W3C Trace Context `traceparent` (https://www.w3.org/TR/trace-context/), version 00 only:
// `00-<32 hex trace id>-<16 hex parent id>-<2 hex flags>`, lowercase, neither id all zeros.
// A header that is not exactly that is ignored by tracing (parse answers undefined): a bad
// traceparent never fails the request that carries it. Pure: no I/O; ids come from the
// platform's crypto.getRandomValues, present in browsers, workers, Bun, Deno and Node.
import { bytesToHex } from "../util/hex.ts";

/** The record header (and HTTP header) holding a record's W3C trace context. */
export const TRACEPARENT_HEADER = "traceparent";

const TRACEPARENT = /^00-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})$/;
const ZERO_TRACE = "0".repeat(32);
const ZERO_SPAN = "0".repeat(16);
/** The sampled bit of trace-flags. */
export const SAMPLED_FLAG = 0x01;

export interface TraceContext {
  /** 32 lowercase hex digits, not all zeros. */
  readonly traceId: string;
  /** 16 lowercase hex digits, not all zeros: the span this context is the parent of. */
  readonly spanId: string;
  /** trace-flags (bit 0: sampled). */
  readonly flags: number;
}

/** The trace context `value` holds, or undefined when it is not a valid version-00 traceparent. */
export function parseTraceparent(value: unknown): TraceContext | undefined {
  if (typeof value !== "string" || value.length !== 55) return undefined;
  const match = TRACEPARENT.exec(value);
  if (match === null) return undefined;
  const [, traceId, spanId, flags] = match;
  if (traceId === ZERO_TRACE || spanId === ZERO_SPAN) return undefined;
  return { traceId: traceId!, spanId: spanId!, flags: Number.parseInt(flags!, 16) };
}

export function formatTraceparent(context: TraceContext): string {
  return `00-${context.traceId}-${context.spanId}-${context.flags.toString(16).padStart(2, "0")}`;
}

/** `bytes` random bytes as hex, never all zeros (an all-zero id is invalid). */
function randomId(bytes: number): string {
  const out = new Uint8Array(bytes);
  do crypto.getRandomValues(out);
  while (out.every((b) => b === 0));
  return bytesToHex(out);
}

export function newSpanId(): string {
  return randomId(8);
}

/** A child of `parent` (same trace, a new span id, the same flags), or the root of a new sampled trace. */
export function childContext(parent: TraceContext | undefined): TraceContext {
  if (parent === undefined) return { traceId: randomId(16), spanId: newSpanId(), flags: SAMPLED_FLAG };
  return { traceId: parent.traceId, spanId: newSpanId(), flags: parent.flags };
}
