// A bandwidth limit as a token bucket in bytes (the edge sync loop's, and push/pull's
// --limit-rate like rsync --bwlimit). It starts empty and holds at most `capacity` bytes of
// credit, so bytes sent by time t never exceed capacity + rate·t. A request
// pays before it goes (take waits while the bucket is in debt); bytes moved by a transfer that
// paces itself (a pin pull) are charged afterwards, so their excess delays what follows.
import { StrataError } from "../errors.ts";

/** Credit an idle bucket keeps by default: a tenth of a second's worth. */
const DEFAULT_BURST_SECONDS = 0.1;

export class TokenBucket {
  readonly bytesPerSecond: number;
  readonly capacity: number;
  #tokens = 0;
  #at = performance.now();

  /** `burstSeconds`: how many seconds' worth of credit an idle bucket may gather. */
  constructor(bytesPerSecond: number, burstSeconds = DEFAULT_BURST_SECONDS) {
    if (!Number.isSafeInteger(bytesPerSecond) || bytesPerSecond < 1) throw new StrataError("BAD_REQUEST", `rate limit must be a positive integer of bytes per second, got ${bytesPerSecond}`);
    this.bytesPerSecond = bytesPerSecond;
    if (!(burstSeconds > 0)) throw new StrataError("BAD_REQUEST", `burst must be a positive number of seconds, got ${burstSeconds}`);
    this.capacity = Math.max(1, Math.floor(bytesPerSecond * burstSeconds));
  }

  #refill(): void {
    const now = performance.now();
    this.#tokens = Math.min(this.capacity, this.#tokens + ((now - this.#at) / 1000) * this.bytesPerSecond);
    this.#at = now;
  }

  /** Largest batch worth sending at once under this rate (the bucket's capacity, at least 64 KiB). */
  get burstBytes(): number {
    return Math.max(64 * 1024, this.capacity);
  }

  /** Takes `bytes`, waiting until the bucket is out of debt. */
  async take(bytes: number, signal?: AbortSignal): Promise<void> {
    this.charge(bytes);
    const wait = (-this.#tokens / this.bytesPerSecond) * 1000;
    if (wait <= 0) return;
    await new Promise<void>((resolve, reject) => {
      if (signal?.aborted) return reject(signal.reason);
      const onAbort = (): void => {
        clearTimeout(timer);
        reject(signal!.reason);
      };
      const timer = setTimeout(() => {
        signal?.removeEventListener("abort", onAbort);
        resolve();
      }, wait);
      signal?.addEventListener("abort", onAbort, { once: true });
    });
  }

  /** Records `bytes` moved without waiting (paid by later takes). */
  charge(bytes: number): void {
    this.#refill();
    this.#tokens -= bytes;
  }

  /** Forgets credit gathered while something else used the link. */
  drainCredit(): void {
    this.#refill();
    this.#tokens = Math.min(this.#tokens, 0);
  }
}

/** A bucket for `bytesPerSecond`, or null when it is 0 (unlimited). */
export function tokenBucket(bytesPerSecond: number, burstSeconds = DEFAULT_BURST_SECONDS): TokenBucket | null {
  return bytesPerSecond > 0 ? new TokenBucket(bytesPerSecond, burstSeconds) : null;
}
