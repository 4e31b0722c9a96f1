// Limits of the gradients subsystem (docs/gradients.md): one declaration gives each its default,
// unit, range and meaning, like the service limits.
import { defineLimits, type LimitValues } from "../../core/util/limit-spec.ts";

const KiB = 1024;
const MiB = 1024 * KiB;
const GiB = 1024 * MiB;

export const GRADIENT_LIMITS = defineLimits("gradients", {
  maxTensorsPerContribution: { default: 1024, unit: "count", min: 1, max: 100_000, doc: "Most named tensors in one gradient contribution." },
  maxContributionBytes: { default: 64 * MiB, unit: "bytes", min: 1 * KiB, max: 1 * GiB, doc: "Most tensor data bytes in one gradient contribution (the appended record is also bound by limits.maxRecordBytes)." },
  maxWorldSize: { default: 4096, unit: "count", min: 1, max: 1_000_000, doc: "Largest world_size a gradient contribution may name." },
  signatureStepsKept: { default: 1000, unit: "count", min: 1, max: 10_000_000, doc: "Steps per gradient stream whose signatures (and contributions' offsets) are kept; a contribution to an older step is BAD_REQUEST (400)." },
});

export type GradientLimits = LimitValues<typeof GRADIENT_LIMITS.specs>;

export const DEFAULT_GRADIENT_LIMITS: GradientLimits = GRADIENT_LIMITS.defaults;
