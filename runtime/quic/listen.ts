// One interface over the runtimes' QUIC servers: node:quic under Bun, Deno.QuicEndpoint under
// Deno. Each accepted connection (ALPN strata/1) is handed to onConnection as a QuicConnection.
import { StrataError } from "../../core/errors.ts";
import type { OnQuicConnection, QuicListener, QuicListenOptions } from "./quic-listener.ts";

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
