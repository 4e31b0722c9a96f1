// Metrics of gradient contributions, registered on the gateway's registry, labelled by gradient
// stream and outcome (the registry caps the series of each metric).
import type { MetricsRegistry } from "../metrics.ts";

/** How a contribution ended: appended, answered as a repeat, or refused (and why). */
export type ContributionOutcome = "accepted" | "repeated" | "mismatch" | "conflict";

export function createGradientMetrics(registry: MetricsRegistry) {
  return {
    contributions: registry.counter("strata_gradient_contributions_total", "Gradient contributions by outcome: accepted (appended), repeated (answered with the first one's position), mismatch (TENSOR_MISMATCH), conflict (GRADIENT_CONFLICT).", ["stream", "result"]),
    contributedBytes: registry.counter("strata_gradient_contributed_bytes_total", "Tensor data bytes of accepted gradient contributions.", ["stream"]),
  };
}

export type GradientMetrics = ReturnType<typeof createGradientMetrics>;
