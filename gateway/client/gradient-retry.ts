// Which failures of a gateway call the aggregator rides out (the gateway restarting, a network
// break, a 5xx, a full disk) and the backoff between attempts; the rest (refused scopes, bad
// requests, a missing stream) stop it.
import { type ErrorCode, StrataError } from "../../core/errors.ts";
import { abortableDelay } from "./gateway-call.ts";

const TRANSIENT: ReadonlySet<ErrorCode> = new Set<ErrorCode>(["UNAVAILABLE", "NOT_LEADER", "LEASE_LOST", "METADATA_UNAVAILABLE", "STORAGE_ERROR", "INTERNAL", "INSUFFICIENT_STORAGE"]);
const FIRST_DELAY_MS = 100;
const MAX_DELAY_MS = 5_000;

/** A failure worth another attempt: a gateway answer with a transient code, or no answer at all (fetch failed). */
export function isTransient(error: unknown): boolean {
  return error instanceof StrataError ? TRANSIENT.has(error.code) : true;
}

/** Exponential backoff from 100 ms to 5 s; `reset()` after a success. */
export class Backoff {
  #delay = FIRST_DELAY_MS;

  reset(): void {
    this.#delay = FIRST_DELAY_MS;
  }

  /** Waits the current delay (or until `signal` aborts) and doubles it. */
  async wait(signal: AbortSignal): Promise<void> {
    await abortableDelay(this.#delay, signal);
    this.#delay = Math.min(MAX_DELAY_MS, this.#delay * 2);
  }
}
