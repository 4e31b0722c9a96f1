// Bounds of the QUIC transport. Every buffer a peer can make the gateway hold is bounded by one
// of these (docs/quic-protocol.md, "Limits and flow control").
export interface QuicLimits {
  /** Largest frame payload accepted (and announced in hello-ok). */
  readonly maxFrameBytes: number;
  /** Control-stream requests one connection may have outstanding; past it, reading pauses. */
  readonly maxInFlight: number;
  /** Frame bytes of those requests; past it, reading pauses too (one frame may cross it). */
  readonly maxInFlightBytes: number;
  /** Bulk (chunk) streams one connection may have open at once (QUIC stream credit too). */
  readonly maxBulkStreams: number;
  /** Connections open at once; more are refused. */
  readonly maxConnections: number;
  /** Time a client has to send hello after opening its control stream. */
  readonly helloTimeoutMs: number;
  /** Idle time after which a connection is dropped (QUIC max_idle_timeout). */
  readonly idleTimeoutMs: number;
  /** Time a bulk stream waits for the control stream's hello to complete. */
  readonly bulkWaitMs: number;
}

export const DEFAULT_QUIC_LIMITS: QuicLimits = {
  maxFrameBytes: 16 * 1024 * 1024,
  maxInFlight: 32,
  maxInFlightBytes: 64 * 1024 * 1024,
  maxBulkStreams: 8,
  maxConnections: 1024,
  helloTimeoutMs: 10_000,
  idleTimeoutMs: 60_000,
  bulkWaitMs: 10_000,
};
