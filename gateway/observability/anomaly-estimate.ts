// A running estimate of one series (a stream's bytes per record or records per second, a group's
// or queue's processing time) and the rule that flags an observation far above it
// (docs/anomalies.md).
//
// The mean and variance are weighted by α = 1/min(n, window): over the first `window`
// observations that is exactly the mean and (population) variance of all of them (Welford's
// recurrence), after that an exponentially weighted mean and variance whose effective memory is
// about `window` observations. Per observation x:
//   δ = x − mean;  mean += α·δ;  variance = (1 − α)·(variance + α·δ²)
//
// The rule: with n ≥ minSamples, x is flagged when x > threshold, where
//   threshold = mean + sigmas · max(stddev, stddevFloor · mean)
// (and, for processing times, x > minProcessingMs; x > maxProcessingMs flags always when that
// bound is on). A flagged observation is folded in clipped to the threshold, so a burst cannot
// drag the estimate up to itself in one step and hide its own next records, while a lasting
// change still moves the mean (by at most α·(threshold − mean) per observation) until it is the
// new normal.
import { invariant } from "../../core/errors.ts";

/** What an estimate needs of the anomalies limits (anomaly-limits.ts). */
export interface EstimateRule {
  readonly minSamples: number;
  readonly sigmas: number;
  readonly window: number;
  readonly stddevFloor: number;
}

/** An estimate warms until it has minSamples observations (it flags nothing), then tracks. */
export type EstimateState =
  | { readonly phase: "warming"; readonly n: number; readonly mean: number; readonly variance: number }
  | { readonly phase: "tracking"; readonly n: number; readonly mean: number; readonly variance: number };

/** How an observation compares with the estimate it was judged against (before it was folded in). */
export interface Judgement {
  readonly flagged: boolean;
  readonly mean: number;
  readonly stddev: number;
  /** Infinity while warming: nothing is above it. */
  readonly threshold: number;
}

export class RunningEstimate {
  #state: EstimateState = { phase: "warming", n: 0, mean: 0, variance: 0 };

  constructor(private readonly rule: EstimateRule) {
    invariant(rule.window >= 2 && rule.minSamples >= 1 && rule.sigmas > 0 && rule.stddevFloor >= 0, "estimate rule out of range");
  }

  get state(): EstimateState {
    return this.#state;
  }

  /** The threshold the next observation is judged against (Infinity while warming). */
  threshold(): number {
    const s = this.#state;
    if (s.phase === "warming") return Number.POSITIVE_INFINITY;
    return s.mean + this.rule.sigmas * Math.max(Math.sqrt(s.variance), this.rule.stddevFloor * Math.abs(s.mean));
  }

  /**
   * Judges `value` against the estimate, then folds it in (clipped to the threshold when it was
   * above it). `forced`: flagged whatever the estimate says (an absolute bound was passed).
   */
  observe(value: number, forced = false): Judgement {
    if (!Number.isFinite(value)) invariant(false, `an observation must be finite, got ${value}`);
    const before = this.#state;
    const threshold = this.threshold();
    const above = value > threshold;
    const judgement: Judgement = { flagged: above || forced, mean: before.mean, stddev: Math.sqrt(before.variance), threshold };
    this.#fold(above ? threshold : value);
    return judgement;
  }

  #fold(x: number): void {
    const { n, mean, variance } = this.#state;
    const count = n + 1;
    const alpha = 1 / Math.min(count, this.rule.window);
    const delta = x - mean;
    const next = { n: count, mean: mean + alpha * delta, variance: (1 - alpha) * (variance + alpha * delta * delta) };
    this.#state = count >= this.rule.minSamples ? { phase: "tracking", ...next } : { phase: "warming", ...next };
    // Checked on every fold (the message is built only when one fails: this runs once per appended batch).
    if (!(Number.isFinite(next.mean) && next.variance >= 0 && Number.isFinite(next.variance))) invariant(false, `estimate broke: ${JSON.stringify(this.#state)}`);
    invariant(this.#state.phase === "warming" ? count < this.rule.minSamples : count >= this.rule.minSamples, "phase disagrees with the count");
  }
}
