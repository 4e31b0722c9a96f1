// The OpenTelemetry SDK behind Tracing (tracing.ts), loaded only when an OTLP endpoint is set: the
// gateway's own TracerProvider (never the process-global one, so several gateways in one process
// keep their spans apart), a BatchSpanProcessor and the OTLP/HTTP (JSON) exporter.
import { type Attributes, ROOT_CONTEXT, SpanKind, SpanStatusCode, trace, type Context, type Span, type Tracer } from "@opentelemetry/api";
import { OTLPTraceExporter } from "@opentelemetry/exporter-trace-otlp-http";
import { resourceFromAttributes } from "@opentelemetry/resources";
import { BatchSpanProcessor, TracerProvider } from "@opentelemetry/sdk-trace";
import { parseTraceparent } from "../../core/trace/traceparent.ts";
import type { RequestSpan, SpanAttributes, TracedOperation, Tracing } from "./tracing-types.ts";

/** Bound on one export request to the collector. */
const EXPORT_TIMEOUT_MS = 10_000;

function parentContext(traceparent: string | undefined): Context {
  const parent = parseTraceparent(traceparent);
  if (parent === undefined) return ROOT_CONTEXT;
  return trace.setSpanContext(ROOT_CONTEXT, { traceId: parent.traceId, spanId: parent.spanId, traceFlags: parent.flags, isRemote: true });
}

function cleaned(attributes: SpanAttributes): Attributes {
  const out: Attributes = {};
  for (const [name, value] of Object.entries(attributes)) if (value !== undefined) out[name] = value;
  return out;
}

type SpanState = { kind: "open"; span: Span } | { kind: "ended" };

class OtelRequestSpan implements RequestSpan {
  #state: SpanState;

  constructor(span: Span) {
    this.#state = { kind: "open", span };
  }

  annotate(attributes: SpanAttributes): void {
    if (this.#state.kind === "open") this.#state.span.setAttributes(cleaned(attributes));
  }

  end(status: number, errorCode?: string): void {
    if (this.#state.kind !== "open") return;
    const { span } = this.#state;
    this.#state = { kind: "ended" };
    span.setAttributes(cleaned({ "http.response.status_code": status, "strata.error.code": errorCode }));
    if (status >= 400) span.setStatus({ code: SpanStatusCode.ERROR, ...(errorCode === undefined ? {} : { message: errorCode }) });
    span.end();
  }
}

export class OtelTracing implements Tracing {
  readonly #provider: TracerProvider;
  readonly #tracer: Tracer;

  constructor(endpoint: string, serviceName: string, exportDelayMs: number) {
    this.#provider = new TracerProvider({
      resource: resourceFromAttributes({ "service.name": serviceName }),
      spanProcessors: [new BatchSpanProcessor({ exporter: new OTLPTraceExporter({ url: endpoint, timeoutMillis: EXPORT_TIMEOUT_MS }), scheduledDelayMillis: exportDelayMs })],
    });
    this.#tracer = this.#provider.getTracer("strata-gateway");
  }

  start(operation: TracedOperation, traceparent: string | undefined, attributes: SpanAttributes): RequestSpan {
    return new OtelRequestSpan(this.#tracer.startSpan(operation, { kind: SpanKind.SERVER, attributes: cleaned(attributes) }, parentContext(traceparent)));
  }

  shutdown(): Promise<void> {
    return this.#provider.shutdown();
  }
}
