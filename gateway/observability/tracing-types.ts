// What the transports see of tracing (tracing.ts opens it; otel-tracing.ts implements it).

/** The operations that get spans: a publish, a read of a partition, a queue ack or a group's offset commit. */
export type TracedOperation = "publish" | "fetch" | "ack";

/** Attribute values a span takes (numbers, strings; OpenTelemetry drops undefined). */
export type SpanAttributes = Readonly<Record<string, string | number | undefined>>;

/** One request's span: attributes may be added until it ends, once. */
export interface RequestSpan {
  annotate(attributes: SpanAttributes): void;
  /** Ends the span with the answer's HTTP status (an error status marks it failed) and, on failure, the Strata error code. */
  end(status: number, errorCode?: string): void;
}

export interface Tracing {
  /**
   * Starts a server span for `operation`, the child of `traceparent` when that is a valid W3C
   * traceparent, if head sampling keeps it: undefined when it does not (a root outside the sample
   * ratio, or an unsampled parent), and then `attributes` is never called.
   */
  start(operation: TracedOperation, traceparent: string | undefined, attributes: () => SpanAttributes): RequestSpan | undefined;
  /** Exports the spans not yet sent and stops the exporter. */
  shutdown(): Promise<void>;
}
