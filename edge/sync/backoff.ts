// Reconnect delays: exponential from `initialMs` to `maxMs`, with full jitter (a uniformly random
// delay up to the current step, never below half the initial step), so a fleet of edges that lost
// the same gateway does not come back in lockstep.
export class Backoff {
  readonly #initialMs: number;
  readonly #maxMs: number;
  #attempt = 0;

  constructor(initialMs: number, maxMs: number) {
    this.#initialMs = initialMs;
    this.#maxMs = maxMs;
  }

  /** The delay before the next attempt; each call doubles the ceiling up to the maximum. */
  next(): number {
    const ceiling = Math.min(this.#maxMs, this.#initialMs * 2 ** Math.min(this.#attempt, 30));
    this.#attempt++;
    const floor = this.#initialMs / 2;
    return Math.round(floor + Math.random() * Math.max(0, ceiling - floor));
  }

  reset(): void {
    this.#attempt = 0;
  }
}
