// OpenTelemetry server spans of the three traced route families (docs/tracing.md): publish
// (POST /v1/streams/{name}/records), fetch (GET /v1/streams/{name}/partitions/{p}/records) and
// ack (POST /v1/queues/{group}/ack, POST /v1/groups/{group}/offsets). A span starts before
// anything else runs (it covers auth, body limits, a long-poll), is the child of the request's
// `traceparent` (whose sampled flag decides; a root is kept at observability.traceSampleRatio),
// and ends with the answer's status and error code. A sampled-out request costs a route match and
// the SDK's sampling decision only. Routes add what only they know
// (offsets, record counts) through annotateSpan. Mounted only when tracing is on (app.ts).
import type { Context, MiddlewareHandler } from "hono";
import type { RequestSpan, SpanAttributes, TracedOperation, Tracing } from "../observability/tracing.ts";
import { TRACEPARENT_HEADER } from "../../core/trace/traceparent.ts";
import "./response-facts.ts";

declare module "hono" {
  interface ContextVariableMap {
    /** The request's span, when tracing is on and the route is traced. */
    traceSpan: RequestSpan;
  }
}

interface TracedRoute {
  readonly operation: TracedOperation;
  readonly method: string;
  readonly pattern: RegExp;
  readonly route: string;
  /** All of a span's starting attributes, from the path's captures (built only for a sampled request). */
  attributes(captures: readonly string[]): SpanAttributes;
}

function decoded(segment: string): string {
  try {
    return decodeURIComponent(segment);
  } catch {
    return segment;
  }
}

// Each route writes its attributes out in one literal: no spread, no filtering (one object per sampled request).
const TRACED: readonly TracedRoute[] = [
  {
    operation: "publish",
    method: "POST",
    pattern: /^\/v1\/streams\/([^/]+)\/records$/,
    route: "/v1/streams/{name}/records",
    attributes: ([name]) => ({ "messaging.system": "strata", "http.request.method": "POST", "http.route": "/v1/streams/{name}/records", "messaging.operation.type": "send", "messaging.destination.name": decoded(name!) }),
  },
  {
    operation: "fetch",
    method: "GET",
    pattern: /^\/v1\/streams\/([^/]+)\/partitions\/(\d{1,9})\/records$/,
    route: "/v1/streams/{name}/partitions/{partition}/records",
    attributes: ([name, partition]) => ({
      "messaging.system": "strata",
      "http.request.method": "GET",
      "http.route": "/v1/streams/{name}/partitions/{partition}/records",
      "messaging.operation.type": "receive",
      "messaging.destination.name": decoded(name!),
      "messaging.destination.partition.id": partition,
    }),
  },
  {
    operation: "ack",
    method: "POST",
    pattern: /^\/v1\/queues\/([^/]+)\/ack$/,
    route: "/v1/queues/{group}/ack",
    attributes: ([group]) => ({ "messaging.system": "strata", "http.request.method": "POST", "http.route": "/v1/queues/{group}/ack", "messaging.operation.type": "settle", "messaging.consumer.group.name": decoded(group!) }),
  },
  {
    operation: "ack",
    method: "POST",
    pattern: /^\/v1\/groups\/([^/]+)\/offsets$/,
    route: "/v1/groups/{group}/offsets",
    attributes: ([group]) => ({ "messaging.system": "strata", "http.request.method": "POST", "http.route": "/v1/groups/{group}/offsets", "messaging.operation.type": "settle", "messaging.consumer.group.name": decoded(group!) }),
  },
];

function tracedRoute(method: string, path: string): { route: TracedRoute; captures: string[] } | undefined {
  for (const route of TRACED) {
    if (route.method !== method) continue;
    const match = route.pattern.exec(path);
    if (match !== null) return { route, captures: match.slice(1) };
  }
  return undefined;
}

export function traceSpans(tracing: Tracing): MiddlewareHandler {
  return async (c, next) => {
    const traced = tracedRoute(c.req.method, c.req.path);
    if (traced === undefined) return next();
    const { route, captures } = traced;
    // Sampled out: no span, no attributes built, and annotateSpan finds nothing to annotate.
    const span = tracing.start(route.operation, c.req.header(TRACEPARENT_HEADER), () => route.attributes(captures));
    if (span === undefined) return next();
    c.set("traceSpan", span);
    try {
      await next();
    } finally {
      span.end(c.res.status, c.get("errorCode"));
    }
  };
}

/** Adds attributes to the request's span; `attributes` is only called when there is one. */
export function annotateSpan(c: Context, attributes: () => SpanAttributes): void {
  c.get("traceSpan")?.annotate(attributes());
}

/** The attributes of a publish's answer: how many records, and their offsets when they went to one partition. */
export function publishedAttributes(positions: readonly { readonly partition: number; readonly offset: number }[]): SpanAttributes {
  const first = positions[0];
  const onePartition = first !== undefined && positions.every((p) => p.partition === first.partition);
  if (!onePartition) return { "messaging.batch.message_count": positions.length };
  const offsets = positions.map((p) => p.offset);
  return { "messaging.batch.message_count": positions.length, "messaging.destination.partition.id": String(first.partition), "strata.offset.first": Math.min(...offsets), "strata.offset.last": Math.max(...offsets) };
}

/** `result` as it is, after adding a read's attributes to the request's span: records, their offsets, where the next read starts. */
export function withReadSpan<R extends { readonly records: readonly { readonly offset: number }[]; readonly nextOffset: number; readonly endOffset: number }>(c: Context, result: R): R {
  annotateSpan(c, () => ({
    "messaging.batch.message_count": result.records.length,
    "strata.offset.first": result.records[0]?.offset,
    "strata.offset.last": result.records.at(-1)?.offset,
    "strata.offset.next": result.nextOffset,
    "strata.offset.end": result.endOffset,
  }));
  return result;
}
