// The OpenTelemetry SDK behind Tracing (tracing.ts), loaded only when an OTLP endpoint is set: the
// gateway's own TracerProvider (never the process-global one, so several gateways in one process
// keep their spans apart), head sampling by ParentBased(TraceIdRatioBased(traceSampleRatio)), a
// BatchSpanProcessor with explicit limits and the OTLP/HTTP (JSON) exporter.
//
// Cost (docs/tracing.md, "What tracing costs"): an unsampled request gets a non-recording span
// from the SDK and this answers undefined at once, so no attribute is built and nothing is ended
// or exported. A sampled one hands its attributes to the SDK once, unfiltered (the SDK drops
// undefined values itself). JSON stays the wire format: in Bun the SDK's protobuf serializer
// measured about 25 % more CPU per span than its JSON one (native JSON.stringify), for half the bytes.
import { ROOT_CONTEXT, SpanKind, SpanStatusCode, trace, type Context, type Span, type Tracer } from "@opentelemetry/api";
import { OTLPTraceExporter } from "@opentelemetry/exporter-trace-otlp-http";
import { resourceFromAttributes } from "@opentelemetry/resources";
import { BatchSpanProcessor, ParentBasedSampler, TraceIdRatioBasedSampler, TracerProvider } from "@opentelemetry/sdk-trace";
import { parseTraceparent } from "../../core/trace/traceparent.ts";
import type { RequestSpan, SpanAttributes, TracedOperation, Tracing } from "./tracing-types.ts";

/** Bound on one export request to the collector. */
const EXPORT_TIMEOUT_MS = 10_000;
/** Spans in one export request (about 1 KB of JSON each, so at most about 0.5 MB a request). */
export const MAX_EXPORT_BATCH_SPANS = 512;
/** Finished spans waiting for export; beyond this (a slow or absent collector) new spans are dropped, not queued. */
export const MAX_QUEUED_SPANS = 4096;

function parentContext(traceparent: string | undefined): Context {
  const parent = parseTraceparent(traceparent);
  if (parent === undefined) return ROOT_CONTEXT;
  return trace.setSpanContext(ROOT_CONTEXT, { traceId: parent.traceId, spanId: parent.spanId, traceFlags: parent.flags, isRemote: true });
}

class OtelRequestSpan implements RequestSpan {
  #span: Span | undefined;

  constructor(span: Span) {
    this.#span = span;
  }

  annotate(attributes: SpanAttributes): void {
    this.#span?.setAttributes(attributes);
  }

  end(status: number, errorCode?: string): void {
    const span = this.#span;
    if (span === undefined) return;
    this.#span = undefined;
    span.setAttribute("http.response.status_code", status);
    if (errorCode !== undefined) span.setAttribute("strata.error.code", errorCode);
    if (status >= 400) span.setStatus(errorCode === undefined ? { code: SpanStatusCode.ERROR } : { code: SpanStatusCode.ERROR, message: errorCode });
    span.end();
  }
}

export interface OtelTracingOptions {
  readonly endpoint: string;
  readonly serviceName: string;
  readonly exportDelayMs: number;
  /** Share of root spans sampled (0..1); a remote parent's sampled flag decides for its children. */
  readonly sampleRatio: number;
}

export class OtelTracing implements Tracing {
  readonly #provider: TracerProvider;
  readonly #tracer: Tracer;

  constructor(options: OtelTracingOptions) {
    const exporter = new OTLPTraceExporter({ url: options.endpoint, timeoutMillis: EXPORT_TIMEOUT_MS });
    this.#provider = new TracerProvider({
      resource: resourceFromAttributes({ "service.name": options.serviceName }),
      sampler: new ParentBasedSampler({ root: new TraceIdRatioBasedSampler(options.sampleRatio) }),
      spanProcessors: [new BatchSpanProcessor({ exporter, scheduledDelayMillis: options.exportDelayMs, maxExportBatchSize: MAX_EXPORT_BATCH_SPANS, maxQueueSize: MAX_QUEUED_SPANS })],
    });
    this.#tracer = this.#provider.getTracer("strata-gateway");
  }

  start(operation: TracedOperation, traceparent: string | undefined, attributes: () => SpanAttributes): RequestSpan | undefined {
    const span = this.#tracer.startSpan(operation, { kind: SpanKind.SERVER }, parentContext(traceparent));
    if (!span.isRecording()) return undefined; // sampled out: nothing to build, end or export
    span.setAttributes(attributes());
    return new OtelRequestSpan(span);
  }

  shutdown(): Promise<void> {
    return this.#provider.shutdown();
  }
}
