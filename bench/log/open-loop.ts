// Open-loop load for latency figures: sends go out on a fixed schedule whatever the answers do,
// and each latency is measured from the send's scheduled time, not from when it actually went
// out, so a stalled system cannot hide its backlog (coordinated omission). Also percentiles.

export interface OpenLoopResult {
  /** Milliseconds from each send's scheduled time to its completion, in send order. */
  readonly latenciesMs: readonly number[];
  /** Completions per second over the run (first scheduled send to last completion). */
  readonly achievedPerSecond: number;
  readonly seconds: number;
}

/**
 * Calls `send(i)` for i in [0, count) at `ratePerSecond`, i-th at start + i / rate, never
 * waiting for earlier sends. Timers fire at ~1 ms granularity: whatever is due by then goes out
 * together, its latency still counted from its own scheduled time.
 */
export async function openLoop(opts: { ratePerSecond: number; count: number; send: (i: number) => Promise<void> }): Promise<OpenLoopResult> {
  const { ratePerSecond, count, send } = opts;
  const latencies = new Array<number>(count).fill(0);
  const done: Promise<void>[] = [];
  const start = performance.now() + 5;
  const due = (i: number): number => start + (i * 1000) / ratePerSecond;
  let next = 0;
  while (next < count) {
    const now = performance.now();
    while (next < count && due(next) <= now) {
      const i = next++;
      const scheduled = due(i);
      done.push(send(i).then(() => void (latencies[i] = performance.now() - scheduled)));
    }
    if (next < count) await new Promise((resolve) => setTimeout(resolve, Math.max(0, due(next) - performance.now())));
  }
  await Promise.all(done);
  const seconds = (performance.now() - start) / 1000;
  return { latenciesMs: latencies, achievedPerSecond: count / seconds, seconds };
}

/** The q-quantile (0..1) of `values`, nearest rank. */
export function quantile(values: readonly number[], q: number): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))]!;
}

export function median(values: readonly number[]): number {
  return quantile(values, 0.5);
}
