// The state of one client connection: awaiting-hello -> established -> closing. The credit
// window (requests and their frame bytes in flight on the control stream) and the open bulk
// streams are part of the established state, and stay counted while closing until they
// finish. Every transition asserts the invariants; a violation is a bug (INTERNAL), never input.
import { invariant, StrataError } from "../../core/errors.ts";

export interface ConnectionBounds {
  /** Control-stream requests running at once. */
  readonly maxInFlight: number;
  /** Frame bytes of those requests; past it no more are admitted (one frame may cross it). */
  readonly maxInFlightBytes: number;
  /** Bulk streams open at once. */
  readonly maxBulkStreams: number;
}

interface Work {
  readonly inFlight: number;
  readonly inFlightBytes: number;
  readonly bulkOpen: number;
}

export type ConnectionState =
  /** No successful hello yet; `control` says whether a stream has claimed the control role. */
  | { readonly kind: "awaiting-hello"; readonly control: "none" | "negotiating" }
  | ({ readonly kind: "established"; readonly version: number; readonly peerMaxFrameBytes: number } & Work)
  | ({ readonly kind: "closing"; readonly reason: string } & Work);

/** What a stream needs to know once hello succeeded. */
export interface EstablishedSession {
  readonly version: number;
  /** Largest frame the client accepts. */
  readonly peerMaxFrameBytes: number;
}

/** States only move forward. */
const RANK: Record<ConnectionState["kind"], number> = { "awaiting-hello": 0, established: 1, closing: 2 };

const IDLE: Work = { inFlight: 0, inFlightBytes: 0, bulkOpen: 0 };

export class ConnectionStateMachine {
  readonly #bounds: ConnectionBounds;
  #state: ConnectionState = { kind: "awaiting-hello", control: "none" };
  #creditWaiters: (() => void)[] = [];
  #sessionWaiters: { resolve(session: EstablishedSession): void; reject(error: StrataError): void }[] = [];

  constructor(bounds: ConnectionBounds) {
    invariant(bounds.maxInFlight >= 1 && bounds.maxInFlightBytes >= 1 && bounds.maxBulkStreams >= 1, "connection bounds must be at least 1");
    this.#bounds = bounds;
  }

  get state(): ConnectionState {
    return this.#state;
  }

  /** Whether the connection is going away (nothing new starts). */
  isClosing(): boolean {
    return this.#state.kind === "closing";
  }

  /** A stream opened with hello: true if it becomes the control stream, false if there is one already (or the connection is closing). */
  claimControl(): boolean {
    if (this.#state.kind !== "awaiting-hello" || this.#state.control !== "none") return false;
    this.#set({ kind: "awaiting-hello", control: "negotiating" });
    return true;
  }

  /** hello succeeded on the control stream. */
  establish(session: EstablishedSession): void {
    invariant(this.#state.kind === "awaiting-hello" && this.#state.control === "negotiating", `establish in state ${this.#state.kind}`);
    this.#set({ kind: "established", version: session.version, peerMaxFrameBytes: session.peerMaxFrameBytes, ...IDLE });
    for (const waiter of this.#sessionWaiters.splice(0)) waiter.resolve(session);
  }

  /** Resolves once hello succeeded (at once if it has); rejects when the connection closes first. */
  whenEstablished(): Promise<EstablishedSession> {
    const s = this.#state;
    if (s.kind === "established") return Promise.resolve({ version: s.version, peerMaxFrameBytes: s.peerMaxFrameBytes });
    if (s.kind === "closing") return Promise.reject(new StrataError("UNAVAILABLE", `the connection is closing (${s.reason})`));
    return new Promise((resolve, reject) => this.#sessionWaiters.push({ resolve, reject }));
  }

  /** Whether another control request may start now. */
  hasCredit(): boolean {
    const s = this.#state;
    return s.kind === "established" && s.inFlight < this.#bounds.maxInFlight && s.inFlightBytes < this.#bounds.maxInFlightBytes;
  }

  /** Resolves when a finished request or the closing of the connection may have changed hasCredit(). */
  whenCreditChanges(): Promise<void> {
    if (this.#state.kind === "closing") return Promise.resolve();
    return new Promise((resolve) => this.#creditWaiters.push(resolve));
  }

  /** A control request of `bytes` frame bytes starts. */
  admit(bytes: number): void {
    const s = this.#state;
    invariant(s.kind === "established" && this.hasCredit(), `admit without credit in state ${s.kind}`);
    this.#set({ ...s, inFlight: s.inFlight + 1, inFlightBytes: s.inFlightBytes + bytes });
  }

  /** A control request admitted with `bytes` finished (answered or failed). */
  settle(bytes: number): void {
    const s = this.#state;
    invariant(s.kind !== "awaiting-hello" && s.inFlight >= 1 && s.inFlightBytes >= bytes, `settle of ${bytes} bytes in state ${s.kind}`);
    this.#set({ ...s, inFlight: s.inFlight - 1, inFlightBytes: s.inFlightBytes - bytes });
    this.#wakeCredit();
  }

  /** A bulk stream starts: false when maxBulkStreams are open (or the connection is closing). */
  openBulk(): boolean {
    const s = this.#state;
    invariant(s.kind !== "awaiting-hello", "a bulk stream before hello");
    if (s.kind === "closing" || s.bulkOpen >= this.#bounds.maxBulkStreams) return false;
    this.#set({ ...s, bulkOpen: s.bulkOpen + 1 });
    return true;
  }

  closeBulk(): void {
    const s = this.#state;
    invariant(s.kind !== "awaiting-hello" && s.bulkOpen >= 1, `closeBulk in state ${s.kind}`);
    this.#set({ ...s, bulkOpen: s.bulkOpen - 1 });
  }

  /** The connection is going away: nothing new starts; what runs is still counted down. Idempotent. */
  close(reason: string): void {
    const s = this.#state;
    if (s.kind === "closing") return;
    const work = s.kind === "established" ? { inFlight: s.inFlight, inFlightBytes: s.inFlightBytes, bulkOpen: s.bulkOpen } : IDLE;
    this.#set({ kind: "closing", reason, ...work });
    const error = new StrataError("UNAVAILABLE", `the connection is closing (${reason})`);
    for (const waiter of this.#sessionWaiters.splice(0)) waiter.reject(error);
    this.#wakeCredit();
  }

  #wakeCredit(): void {
    for (const wake of this.#creditWaiters.splice(0)) wake();
  }

  #set(next: ConnectionState): void {
    invariant(RANK[next.kind] >= RANK[this.#state.kind], `${this.#state.kind} -> ${next.kind}`);
    if (next.kind !== "awaiting-hello") {
      invariant(next.inFlight >= 0 && next.inFlightBytes >= 0 && next.bulkOpen >= 0, "negative counters");
      invariant(next.inFlight <= this.#bounds.maxInFlight, `${next.inFlight} requests in flight over the ${this.#bounds.maxInFlight} allowed`);
      invariant(next.bulkOpen <= this.#bounds.maxBulkStreams, `${next.bulkOpen} bulk streams over the ${this.#bounds.maxBulkStreams} allowed`);
      invariant(next.inFlight > 0 || next.inFlightBytes === 0, "frame bytes in flight without requests");
    }
    this.#state = next;
  }
}
