// The edge's link to the gateway over QUIC, as a state machine:
//   disconnected -> connecting -> quic            (connected; a failure drops back to disconnected)
//   connecting -> http-fallback(until)            (QUIC failed and HTTP is given: HTTP until `until`)
//   http-fallback -> connecting                   (once `until` has passed, at the next use)
// One connection attempt at a time: callers arriving while connecting share it.
import { invariant, StrataError } from "../../core/errors.ts";
import { GatewayCertificateError } from "../../runtime/quic/connect.ts";
import type { QuicClient } from "./quic-client.ts";

export type QuicLinkState =
  | { readonly kind: "disconnected" }
  | { readonly kind: "connecting"; readonly attempt: Promise<QuicClient | null> }
  | { readonly kind: "quic"; readonly client: QuicClient }
  | { readonly kind: "http-fallback"; readonly until: number; readonly reason: string };

export interface QuicLinkOptions {
  /** Opens a QUIC connection (hello included). */
  readonly connect: () => Promise<QuicClient>;
  /** Whether an HTTP transport can stand in while QUIC is down; without one a failed connect throws. */
  readonly httpFallback: boolean;
  /** How long HTTP stands in after QUIC failed to connect. */
  readonly fallbackMs: number;
  /** Milliseconds since the epoch (Date.now; tests pass their own clock). */
  readonly now: () => number;
  /** Told when the link falls back to HTTP, with why. */
  readonly onFallback: (reason: string) => void;
}

export class QuicLink {
  readonly #options: QuicLinkOptions;
  #state: QuicLinkState = { kind: "disconnected" };

  constructor(options: QuicLinkOptions) {
    invariant(options.fallbackMs >= 0, "fallbackMs must not be negative");
    this.#options = options;
  }

  get state(): QuicLinkState {
    return this.#state;
  }

  /** Whether HTTP stands in for QUIC right now. */
  usingHttp(): boolean {
    return this.#state.kind === "http-fallback" && this.#options.now() < this.#state.until;
  }

  /** The QUIC client, connecting if need be; null while HTTP stands in. */
  async client(): Promise<QuicClient | null> {
    const s = this.#state;
    switch (s.kind) {
      case "quic":
        return s.client;
      case "connecting":
        return s.attempt;
      case "http-fallback":
        if (this.#options.now() < s.until) return null;
        return this.#connect();
      case "disconnected":
        return this.#connect();
    }
  }

  /** Drops the connection (`client`, when given: only if it is still the current one); the next use connects again. */
  async drop(client?: QuicClient): Promise<void> {
    const s = this.#state;
    if (s.kind !== "quic" || (client !== undefined && s.client !== client)) return;
    this.#set({ kind: "disconnected" });
    await s.client.close().catch(() => undefined);
  }

  /** Drops the connection, after waiting out an attempt in progress. */
  async close(): Promise<void> {
    const s = this.#state;
    if (s.kind === "connecting") await s.attempt.catch(() => null);
    await this.drop();
  }

  #connect(): Promise<QuicClient | null> {
    const attempt = this.#options.connect().then(
      (client) => {
        this.#settled(attempt, { kind: "quic", client });
        // A connection that closes by itself (idle timeout, gateway gone) is forgotten.
        void client.closed.then(() => {
          if (this.#state.kind === "quic" && this.#state.client === client) this.#set({ kind: "disconnected" });
        });
        return client;
      },
      (e: unknown) => {
        const error = e instanceof StrataError ? e : new StrataError("UNAVAILABLE", `QUIC connect: ${(e as Error).message}`, { cause: e });
        // HTTP does not stand in for a misconfigured QUIC address: the caller has to be told.
        if (!this.#options.httpFallback || error instanceof GatewayCertificateError) {
          this.#settled(attempt, { kind: "disconnected" });
          throw error;
        }
        this.#settled(attempt, { kind: "http-fallback", until: this.#options.now() + this.#options.fallbackMs, reason: error.message });
        this.#options.onFallback(error.message);
        return null;
      },
    );
    this.#set({ kind: "connecting", attempt });
    return attempt;
  }

  /** The end of a connection attempt: only the attempt in progress may settle it. */
  #settled(attempt: Promise<QuicClient | null>, next: QuicLinkState): void {
    invariant(this.#state.kind === "connecting" && this.#state.attempt === attempt, `a connection attempt settled in state ${this.#state.kind}`);
    this.#set(next);
  }

  #set(next: QuicLinkState): void {
    const from = this.#state.kind;
    invariant(ALLOWED[from].includes(next.kind), `QUIC link: ${from} -> ${next.kind}`);
    this.#state = next;
  }
}

const ALLOWED: Record<QuicLinkState["kind"], readonly QuicLinkState["kind"][]> = {
  disconnected: ["connecting"],
  connecting: ["quic", "http-fallback", "disconnected"],
  quic: ["disconnected"],
  "http-fallback": ["connecting"],
};
