// Limits of a client's retries across gateway URLs (docs/clients.md): how many attempts one
// request may make, how long it may take in all, the jittered backoff between rounds of the URL
// list, the longest Retry-After honoured, and how long an attempt may wait for an answer's first
// byte before it counts as a gateway that did not answer.
import { StrataError } from "../errors.ts";
import { defineLimits, type LimitValues } from "../util/limit-spec.ts";

export const FAILOVER_LIMITS = defineLimits("failover", {
  maxAttempts: { default: 10, unit: "count", min: 1, max: 1_000, doc: "Most attempts of one request across the gateway URLs (1: never retried)." },
  maxTotalMs: {
    default: 30_000,
    unit: "ms",
    min: 0,
    max: 3_600_000,
    doc: "Longest one request may spend on attempts, backoff and Retry-After waits before its last failure is answered; the default outlasts a cluster failover (a 10 s lease).",
  },
  refusedRounds: {
    default: 2,
    unit: "count",
    min: 1,
    max: 1_000,
    doc: "Rounds in which every URL of the list refused the connection after which a request gives up: no gateway is listening (a failover in progress answers 503s instead).",
  },
  backoffInitialMs: { default: 100, unit: "ms", min: 1, max: 60_000, doc: "First backoff step once every URL of the list has failed; it doubles each round (full jitter)." },
  backoffMaxMs: { default: 2_000, unit: "ms", min: 1, max: 600_000, doc: "Largest backoff step between rounds of the URL list." },
  maxRetryAfterMs: { default: 10_000, unit: "ms", min: 0, max: 600_000, doc: "Longest Retry-After (of a 503) waited for as asked; a longer one is cut to this." },
  answerTimeoutMs: {
    default: 60_000,
    unit: "ms",
    min: 100,
    max: 3_600_000,
    doc: "Longest an attempt waits for the status line and headers before it counts as a gateway that did not answer; keep it above the gateway's longest long-poll (`limits.maxWaitMs`, 30 s by default).",
  },
});

export type FailoverLimits = LimitValues<typeof FAILOVER_LIMITS.specs>;

export const DEFAULT_FAILOVER_LIMITS: FailoverLimits = FAILOVER_LIMITS.defaults;

/** Resolves the family and checks its limits against each other. */
export function resolveFailoverLimits(overrides?: Partial<FailoverLimits>): FailoverLimits {
  const limits = FAILOVER_LIMITS.resolve(overrides);
  if (limits.backoffInitialMs > limits.backoffMaxMs) {
    throw new StrataError("BAD_REQUEST", `failover.backoffInitialMs (${limits.backoffInitialMs}) must be at most failover.backoffMaxMs (${limits.backoffMaxMs})`);
  }
  return limits;
}
