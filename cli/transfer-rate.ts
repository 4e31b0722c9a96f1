// The rate and time left of a transfer, for the progress bar: bytes per second over the last
// few seconds (a sliding window, so a stall shows as a falling rate), and the remaining bytes
// at that rate.

const WINDOW_MS = 5_000;

export class RateMeter {
  readonly #samples: { readonly at: number; readonly bytes: number }[] = [];

  /** Records that `bytes` (a running total) had moved at time `at` (ms). */
  add(at: number, bytes: number): void {
    const last = this.#samples[this.#samples.length - 1];
    if (last && (at < last.at || bytes < last.bytes)) return; // totals only grow
    this.#samples.push({ at, bytes });
    // Keep one sample at or before the window's start as the base of the rate.
    while (this.#samples.length > 2 && this.#samples[1]!.at <= at - WINDOW_MS) this.#samples.shift();
  }

  /** Bytes per second over the window; 0 until two samples are apart in time. */
  rate(): number {
    const first = this.#samples[0];
    const last = this.#samples[this.#samples.length - 1];
    if (!first || !last || last.at <= first.at) return 0;
    return ((last.bytes - first.bytes) * 1000) / (last.at - first.at);
  }
}

/** `0:07`, `12:30`, `1:02:03`; `--:--` when unknown. */
export function formatDuration(seconds: number): string {
  if (!Number.isFinite(seconds) || seconds < 0) return "--:--";
  const s = Math.round(seconds);
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const pad = (n: number): string => String(n).padStart(2, "0");
  return h > 0 ? `${h}:${pad(m)}:${pad(s % 60)}` : `${m}:${pad(s % 60)}`;
}

/** Seconds to move `remaining` bytes at `rate` bytes/s (Infinity when nothing moves). */
export function secondsLeft(remaining: number, rate: number): number {
  if (remaining <= 0) return 0;
  return rate > 0 ? remaining / rate : Number.POSITIVE_INFINITY;
}
