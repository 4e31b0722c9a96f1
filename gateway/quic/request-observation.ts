// What one QUIC control request leaves behind (docs/metrics.md, docs/logging.md): its count, latency
// and in-flight gauge when request metrics are on, and its access-log record when the access log
// is on; the HTTP middlewares' counterparts for the control stream. The kind label is the request's
// frame type once it parsed (a bounded set), `invalid` before: a client's arbitrary `t` never
// becomes a label.
import { ERROR_STATUS, isStrataError, type ErrorCode } from "../../core/errors.ts";
import { accessLogged, emitAccess } from "../observability/access-log.ts";
import type { GatewayServices } from "../services.ts";

export interface RequestObservation {
  /** The request parsed as this kind. */
  kind: string;
  /** Who it acted as (auth on). */
  subject: string | undefined;
  /** Bytes of its answer frame. */
  bytesOut: number;
  /** Records the failure that answered the request (an error frame). */
  failed(e: unknown): void;
  /** Once the answer was sent or the request given up. */
  finish(): void;
}

/** Starts observing a request whose frame had `bytesIn` bytes; nothing is recorded when both metrics and the access log are off. */
export function observeRequest(services: GatewayServices, bytesIn: number): RequestObservation {
  const metrics = services.requestMetrics;
  const accessLog = services.observability.accessLog;
  const started = performance.now();
  metrics?.quicStarted();
  let code: ErrorCode | "ok" = "ok";
  return {
    kind: "invalid",
    subject: undefined,
    bytesOut: 0,
    failed(e) {
      code = isStrataError(e) ? e.code : "INTERNAL";
    },
    finish() {
      const ms = performance.now() - started;
      metrics?.quicFinished(this.kind, code, ms / 1000);
      if (!accessLog || !accessLogged()) return;
      emitAccess({
        transport: "quic",
        method: this.kind,
        route: this.kind,
        status: code === "ok" ? 200 : ERROR_STATUS[code],
        code: code === "ok" ? undefined : code,
        durationMs: ms,
        bytesIn,
        bytesOut: this.bytesOut,
        subject: this.subject,
      });
    },
  };
}
