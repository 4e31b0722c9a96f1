// Redelivery delay after a failed delivery: exponential in the deliveries so far, capped, with
// jitter (AWS's "full" and "equal" jitter; docs/queues.md).
import type { Backoff } from "./queue-wire.ts";

/** The delay before delivery number `deliveries + 1`, after `deliveries` failed ones (>= 1). */
export function backoffDelay(backoff: Backoff, deliveries: number, random: () => number = Math.random): number {
  const exponent = Math.max(0, deliveries - 1);
  const ceiling = Math.min(backoff.max_ms, backoff.initial_ms * backoff.multiplier ** exponent);
  switch (backoff.jitter) {
    case "none":
      return Math.round(ceiling);
    case "full":
      return Math.round(random() * ceiling);
    case "equal":
      return Math.round(ceiling / 2 + (random() * ceiling) / 2);
  }
}
