// Bounds of one UCX worker (native/ucx-api.ts UcxLimits), declared once with defaults, units and
// ranges, and validated at createWorker.
import { defineLimits, type LimitValues } from "../core/util/limit-spec.ts";
import { StrataError } from "../core/errors.ts";
import type { UcxLimits } from "./ucx-api.ts";

const KiB = 1024;
const MiB = 1024 * KiB;
const GiB = 1024 * MiB;

export const UCX_LIMITS = defineLimits("ucx", {
  // 65 MiB: a gateway answer of ucx.maxRequestBytes (64 MiB) inline, as it comes to a client without a one-sided path (tcp).
  maxMessageBytes: { default: 65 * MiB, unit: "bytes", min: 64, max: 1 * GiB, doc: "Largest message one UCX endpoint send or receive carries; a larger incoming frame closes the endpoint." },
  maxRegisteredBytes: { default: 4 * GiB, unit: "bytes", min: 4 * KiB, max: 1024 * GiB, doc: "Sum of the lengths of all live registered or allocated UCX regions of the worker." },
  ringCapacity: { default: 4096, unit: "count", min: 16, max: 1_048_576, doc: "Completion ring entries: bounds the worker's outstanding operations plus two per endpoint." },
  maxEndpoints: { default: 256, unit: "count", min: 1, max: 65_536, doc: "UCX endpoints open at once (accepted and connected); connection requests over it are rejected." },
});

/** The defaults overlaid with `overrides`, validated; each endpoint keeps two ring entries, so room must remain for operations. */
export function resolveUcxLimits(overrides: Partial<UcxLimits> = {}): UcxLimits {
  const limits: LimitValues<typeof UCX_LIMITS.specs> = UCX_LIMITS.resolve(overrides);
  if (limits.ringCapacity < 2 * limits.maxEndpoints + 8) {
    throw new StrataError(
      "BAD_REQUEST",
      `ucx.ringCapacity = ${limits.ringCapacity} leaves no room for operations: it must be at least 2 x ucx.maxEndpoints + 8 (${2 * limits.maxEndpoints + 8})`,
    );
  }
  return limits;
}
