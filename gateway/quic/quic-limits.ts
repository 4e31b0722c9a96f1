// Bounds of the QUIC transport. Every buffer a peer can make the gateway hold is bounded by one
// of these (docs/quic-protocol.md, "Limits and flow control"). Cross-checks against the record
// and chunk limits are in gateway/config.
import { DEFAULT_MAX_FRAME_BYTES, MAX_HELLO_FRAME_BYTES } from "../../core/quic/frames.ts";
import { defineLimits, type LimitValues } from "../../core/util/limit-spec.ts";

const MiB = 1024 * 1024;
const GiB = 1024 * MiB;

/** Room a frame needs besides its records or chunks (type, id, map headers, a stream name). */
export const QUIC_FRAME_ENVELOPE_BYTES = 1024;

export const QUIC_LIMITS = defineLimits("quic", {
  maxFrameBytes: { default: DEFAULT_MAX_FRAME_BYTES, unit: "bytes", min: MAX_HELLO_FRAME_BYTES, max: 1 * GiB, doc: "Largest frame payload accepted (and announced in hello-ok)." },
  maxInFlight: { default: 32, unit: "count", min: 1, max: 4096, doc: "Control-stream requests one connection may have outstanding; past it, reading pauses." },
  maxInFlightBytes: { default: 64 * MiB, unit: "bytes", min: MAX_HELLO_FRAME_BYTES, max: 4 * GiB, doc: "Frame bytes of those requests; past it, reading pauses too (one frame may cross it)." },
  maxBulkStreams: { default: 8, unit: "count", min: 1, max: 1024, doc: "Bulk (chunk) streams one connection may have open at once (QUIC stream credit too)." },
  maxConnections: { default: 1024, unit: "count", min: 1, max: 1_000_000, doc: "Connections open at once; more are refused." },
  helloTimeoutMs: { default: 10_000, unit: "ms", min: 1, max: 600_000, doc: "Time a client has to send hello after opening its control stream." },
  idleTimeoutMs: { default: 60_000, unit: "ms", min: 1000, max: 3_600_000, doc: "Idle time after which a connection is dropped (QUIC max_idle_timeout)." },
  bulkWaitMs: { default: 10_000, unit: "ms", min: 1, max: 600_000, doc: "Time a bulk stream waits for the control stream's hello to complete." },
});

export type QuicLimits = LimitValues<typeof QUIC_LIMITS.specs>;

export const DEFAULT_QUIC_LIMITS: QuicLimits = QUIC_LIMITS.defaults;

/** Fills in defaults and checks ranges; throws BAD_REQUEST naming the key, value and range. */
export function resolveQuicLimits(overrides: Partial<QuicLimits> = {}): QuicLimits {
  return QUIC_LIMITS.resolve(overrides);
}
