// What the gateway reports about itself (docs/observability.md): request metrics and the access
// log (both on by default; off only to measure their cost), and OpenTelemetry spans exported
// over OTLP/HTTP when an endpoint is configured (nothing is exported by default).
import { z } from "zod";

export const observabilitySchema = z.strictObject({
  /** HTTP and QUIC request metrics (counts, latency histograms, in flight); default on. */
  requestMetrics: z.boolean().optional(),
  /** One structured log line per request (logger `strata.access`); default on. */
  accessLog: z.boolean().optional(),
  /** OTLP/HTTP traces endpoint (e.g. http://collector:4318/v1/traces); spans are exported only when set. */
  otlpEndpoint: z.url().optional(),
  /** service.name of the exported spans; default `strata-gateway`. */
  serviceName: z.string().min(1).max(128).optional(),
  /** Longest a finished span waits before it is exported (the batch processor's delay), in ms; default 1000. */
  otlpExportDelayMs: z.number().int().min(10).max(60_000).optional(),
  /**
   * Head sampling: the share of root requests (no valid traceparent) whose spans are kept, 0..1;
   * default 1 (every one). A request with a traceparent follows its sampled flag (parent-based).
   */
  traceSampleRatio: z.number().min(0).max(1).optional(),
});

export type ObservabilityInput = z.input<typeof observabilitySchema>;

export interface ObservabilityConfig {
  readonly requestMetrics: boolean;
  readonly accessLog: boolean;
  readonly otlpEndpoint: string | undefined;
  readonly serviceName: string;
  readonly otlpExportDelayMs: number;
  readonly traceSampleRatio: number;
}

export function resolveObservability(input: ObservabilityInput | undefined): ObservabilityConfig {
  return Object.freeze({
    requestMetrics: input?.requestMetrics ?? true,
    accessLog: input?.accessLog ?? true,
    otlpEndpoint: input?.otlpEndpoint,
    serviceName: input?.serviceName ?? "strata-gateway",
    otlpExportDelayMs: input?.otlpExportDelayMs ?? 1000,
    traceSampleRatio: input?.traceSampleRatio ?? 1,
  });
}
