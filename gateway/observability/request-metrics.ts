// Request metrics of both transports (docs/metrics.md): HTTP requests by method, route pattern and
// status, QUIC control requests by kind and answer code, each with a latency histogram and a gauge
// of requests in flight. Labels come only from bounded sets (the app's route patterns, a fixed
// list of methods, status codes, the protocol's request kinds and error codes), never from a URL.
import type { MetricsRegistry } from "../metrics.ts";

/** Latency buckets in seconds: a cached read answers in well under a millisecond, a long-poll in up to a minute. */
export const REQUEST_SECONDS_BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60] as const;

/** The methods a label may name; anything else is `OTHER` (a client may send any token as a method). */
const KNOWN_METHODS: ReadonlySet<string> = new Set(["GET", "HEAD", "POST", "PUT", "DELETE", "PATCH", "OPTIONS"]);

export function methodLabel(method: string): string {
  return KNOWN_METHODS.has(method) ? method : "OTHER";
}

export class RequestMetrics {
  readonly #httpTotal;
  readonly #httpSeconds;
  readonly #httpInFlight;
  readonly #quicTotal;
  readonly #quicSeconds;
  readonly #quicInFlight;

  constructor(registry: MetricsRegistry) {
    this.#httpTotal = registry.counter("strata_http_requests_total", "HTTP requests answered, per method, route pattern and status.", ["method", "route", "status"]);
    this.#httpSeconds = registry.histogram("strata_http_request_duration_seconds", "Time from an HTTP request's arrival to its answer's headers, per method and route pattern (long-polls included).", REQUEST_SECONDS_BUCKETS, ["method", "route"]);
    this.#httpInFlight = registry.gauge("strata_http_requests_in_flight", "HTTP requests being served now.");
    this.#quicTotal = registry.counter("strata_quic_requests_total", "QUIC control-stream requests answered, per request kind and answer code (ok or the error code).", ["kind", "code"]);
    this.#quicSeconds = registry.histogram("strata_quic_request_duration_seconds", "Time from a QUIC control request's frame to its answer, per request kind (long-polls included).", REQUEST_SECONDS_BUCKETS, ["kind"]);
    this.#quicInFlight = registry.gauge("strata_quic_requests_in_flight", "QUIC control-stream requests being served now.");
    this.#httpInFlight.set({}, 0);
    this.#quicInFlight.set({}, 0);
  }

  httpStarted(): void {
    this.#httpInFlight.inc({}, 1);
  }

  httpFinished(method: string, route: string, status: number, seconds: number): void {
    this.#httpInFlight.inc({}, -1);
    const m = methodLabel(method);
    this.#httpTotal.inc({ method: m, route, status: String(status) });
    this.#httpSeconds.observe(seconds, { method: m, route });
  }

  quicStarted(): void {
    this.#quicInFlight.inc({}, 1);
  }

  /** `kind` is the request's frame type (or `unknown` for a frame that did not parse); `code` is `ok` or the error code. */
  quicFinished(kind: string, code: string, seconds: number): void {
    this.#quicInFlight.inc({}, -1);
    this.#quicTotal.inc({ kind, code });
    this.#quicSeconds.observe(seconds, { kind });
  }
}
