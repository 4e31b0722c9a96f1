// OpenTelemetry spans of the gateway's publish, fetch and ack requests (docs/tracing.md), exported
// over OTLP/HTTP (JSON) through a BatchSpanProcessor when `observability.otlpEndpoint` is set,
// head-sampled by `observability.traceSampleRatio` (parent-based: a traceparent's sampled flag decides).
// Without an endpoint openTracing answers undefined and the OpenTelemetry SDK is not even loaded:
// no provider, no exporter, and the transports add no middleware, so tracing costs nothing.
import type { ObservabilityConfig } from "./observability-config.ts";
import type { Tracing } from "./tracing-types.ts";

export type { RequestSpan, SpanAttributes, TracedOperation, Tracing } from "./tracing-types.ts";

/** The gateway's tracing when an OTLP endpoint is configured; undefined (nothing at all, the SDK not loaded) otherwise. */
export async function openTracing(config: ObservabilityConfig): Promise<Tracing | undefined> {
  if (config.otlpEndpoint === undefined) return undefined;
  const { OtelTracing } = await import("./otel-tracing.ts");
  return new OtelTracing({ endpoint: config.otlpEndpoint, serviceName: config.serviceName, exportDelayMs: config.otlpExportDelayMs, sampleRatio: config.traceSampleRatio });
}
