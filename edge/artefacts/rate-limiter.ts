// Paces transfers to a byte rate (like rsync --bwlimit or curl --limit-rate): take(n) resolves
// when n more bytes fit the budget. Bursts are bounded by BURST_MS worth of bytes.
const BURST_MS = 250;

export class RateLimiter {
  readonly bytesPerSecond: number;
  /** When the bytes taken so far are paid for (ms, performance.now() clock). */
  #paidUntil = 0;

  constructor(bytesPerSecond: number) {
    this.bytesPerSecond = bytesPerSecond;
  }

  /** Largest batch worth sending at once under this rate. */
  get burstBytes(): number {
    return Math.max(64 * 1024, Math.floor((this.bytesPerSecond * BURST_MS) / 1000));
  }

  async take(bytes: number, signal?: AbortSignal): Promise<void> {
    const now = performance.now();
    const start = Math.max(now - BURST_MS, this.#paidUntil);
    this.#paidUntil = start + (bytes / this.bytesPerSecond) * 1000;
    const wait = this.#paidUntil - now - BURST_MS;
    if (wait <= 0) return;
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(resolve, wait);
      signal?.addEventListener(
        "abort",
        () => {
          clearTimeout(timer);
          reject(signal.reason);
        },
        { once: true },
      );
    });
  }
}

/** A limiter for `bytesPerSecond`, or null when it is 0 (unlimited). */
export function rateLimiter(bytesPerSecond: number): RateLimiter | null {
  return bytesPerSecond > 0 ? new RateLimiter(bytesPerSecond) : null;
}
