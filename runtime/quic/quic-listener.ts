// What a QUIC listener is and takes, whichever runtime serves it (node-quic-listener.ts,
// deno-quic-listener.ts); listen.ts picks one.
import type { QuicConnection } from "../../core/quic/stream.ts";

export interface QuicListener {
  readonly host: string;
  readonly port: number;
  readonly runtime: "bun" | "deno";
  close(): Promise<void>;
}

/** The transport-level bounds a listener applies (the gateway's QuicLimits has these and more). */
export interface QuicEndpointLimits {
  /** Connections open at once; more are refused. */
  readonly maxConnections: number;
  /** Bulk streams per connection; the listener grants one more for the control stream. */
  readonly maxBulkStreams: number;
  /** QUIC max_idle_timeout. */
  readonly idleTimeoutMs: number;
}

export interface QuicListenOptions {
  readonly host: string;
  readonly port: number;
  readonly certPem: string;
  readonly keyPem: string;
  readonly limits: QuicEndpointLimits;
}

export type OnQuicConnection = (connection: QuicConnection) => void;
