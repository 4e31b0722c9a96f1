// The headers of a record derived from another (a consumer that publishes what it made of a
// record): `traceparent` a child of the source's (same trace id, a new span id; a new trace when
// the source carries none or an invalid one) and `strata-source` the source's position. Every
// Strata client that carries traces on calls this (docs/tracing.md#carrying-a-trace-on).
import type { Headers } from "../log/record.ts";
import { formatSource, SOURCE_HEADER, type RecordPosition } from "./record-source.ts";
import { childContext, formatTraceparent, parseTraceparent, TRACEPARENT_HEADER } from "./traceparent.ts";

/** A consumed record: where it is, and its headers (JSON reads give bytes as `{"$base64"}`, which carry no traceparent). */
export interface SourceRecord extends RecordPosition {
  readonly headers: { readonly [name: string]: unknown };
}

export interface DerivedHeaders {
  readonly [TRACEPARENT_HEADER]: string;
  readonly [SOURCE_HEADER]: string;
}

export function derivedHeaders(source: SourceRecord): DerivedHeaders {
  const parent = parseTraceparent(source.headers[TRACEPARENT_HEADER]);
  return { [TRACEPARENT_HEADER]: formatTraceparent(childContext(parent)), [SOURCE_HEADER]: formatSource(source) };
}

/** `headers` with the derived headers of `source` added (the source's win over any already there). */
export function withDerivedHeaders(headers: Headers, source: SourceRecord): Headers {
  return { ...headers, ...derivedHeaders(source) };
}
