// Request metrics of both transports (docs/metrics.md): HTTP requests by method, route pattern and
// status, QUIC control requests by kind and answer code, each with a latency histogram and a gauge
// of requests in flight. Labels come only from bounded sets (the app's route patterns, a fixed
// list of methods, status codes, the protocol's request kinds and error codes), never from a URL.
//
// These run on every request, publishes included (the overhead benchmark holds metrics, tracing
// and the access log together within 3 %), so they are prom-client metrics registered straight
// on the gateway's registry instead of the facade's (gateway/metrics.ts), whose per-call series
// bookkeeping costs several times prom-client's own update here. The facade's series cap is not
// needed: every label comes from a bounded set.
import * as prom from "prom-client";
import type { MetricsRegistry } from "../metrics.ts";

/** Latency buckets in seconds: a cached read answers in well under a millisecond, a long-poll in up to a minute. */
export const REQUEST_SECONDS_BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60] as const;

/** The methods a label may name; anything else is `OTHER` (a client may send any token as a method). */
const KNOWN_METHODS: ReadonlySet<string> = new Set(["GET", "HEAD", "POST", "PUT", "DELETE", "PATCH", "OPTIONS"]);

export function methodLabel(method: string): string {
  return KNOWN_METHODS.has(method) ? method : "OTHER";
}

export class RequestMetrics {
  readonly #httpTotal: prom.Counter<"method" | "route" | "status">;
  readonly #httpSeconds: prom.Histogram<"method" | "route">;
  readonly #httpInFlight: prom.Gauge;
  readonly #quicTotal: prom.Counter<"kind" | "code">;
  readonly #quicSeconds: prom.Histogram<"kind">;
  readonly #quicInFlight: prom.Gauge;

  constructor(registry: MetricsRegistry) {
    const registers = [registry.prom];
    const buckets = [...REQUEST_SECONDS_BUCKETS];
    this.#httpTotal = new prom.Counter({ name: "strata_http_requests_total", help: "HTTP requests answered, per method, route pattern and status.", labelNames: ["method", "route", "status"], registers });
    this.#httpSeconds = new prom.Histogram({ name: "strata_http_request_duration_seconds", help: "Time from an HTTP request's arrival to its answer's headers, per method and route pattern (long-polls included).", labelNames: ["method", "route"], buckets, registers });
    this.#httpInFlight = new prom.Gauge({ name: "strata_http_requests_in_flight", help: "HTTP requests being served now.", registers });
    this.#quicTotal = new prom.Counter({ name: "strata_quic_requests_total", help: "QUIC control-stream requests answered, per request kind and answer code (ok or the error code).", labelNames: ["kind", "code"], registers });
    this.#quicSeconds = new prom.Histogram({ name: "strata_quic_request_duration_seconds", help: "Time from a QUIC control request's frame to its answer, per request kind (long-polls included).", labelNames: ["kind"], buckets, registers });
    this.#quicInFlight = new prom.Gauge({ name: "strata_quic_requests_in_flight", help: "QUIC control-stream requests being served now.", registers });
  }

  httpStarted(): void {
    this.#httpInFlight.inc();
  }

  httpFinished(method: string, route: string, status: number, seconds: number): void {
    this.#httpInFlight.dec();
    const m = methodLabel(method);
    this.#httpTotal.inc({ method: m, route, status: String(status) });
    this.#httpSeconds.observe({ method: m, route }, seconds);
  }

  quicStarted(): void {
    this.#quicInFlight.inc();
  }

  /** `kind` is the request's frame type (or `invalid` for a frame that did not parse); `code` is `ok` or the error code. */
  quicFinished(kind: string, code: string, seconds: number): void {
    this.#quicInFlight.dec();
    this.#quicTotal.inc({ kind, code });
    this.#quicSeconds.observe({ kind }, seconds);
  }
}
