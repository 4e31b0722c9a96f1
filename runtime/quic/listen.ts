// One interface over the runtimes' QUIC servers: node:quic under Bun, Deno.QuicEndpoint under
// Deno. Each accepted connection (ALPN strata/1) is handed to onConnection as a QuicConnection.
import { StrataError } from "../../core/errors.ts";
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

/** Why this runtime cannot serve QUIC, or undefined when it can. */
export function quicUnsupportedReason(): string | undefined {
  const g = globalThis as { Bun?: unknown; Deno?: { QuicEndpoint?: unknown } };
  if (g.Bun) return undefined;
  if (g.Deno) return typeof g.Deno.QuicEndpoint === "function" ? undefined : "Deno's QUIC API needs --unstable-net";
  return "Node's official builds have no QUIC (node:quic)";
}

export async function listenQuic(options: QuicListenOptions, onConnection: OnQuicConnection): Promise<QuicListener> {
  const g = globalThis as { Bun?: unknown; Deno?: unknown };
  const reason = quicUnsupportedReason();
  if (reason) throw new StrataError("UNAVAILABLE", `QUIC is not available: ${reason}`);
  if (g.Bun) {
    const { listenNodeQuic } = await import("./node-quic-listener.ts");
    return listenNodeQuic(options, onConnection);
  }
  const { listenDenoQuic } = await import("./deno-quic-listener.ts");
  return listenDenoQuic(options, onConnection);
}
