// Bounds of the consumer-group coordinator: one declaration gives each its default, unit, range
// and meaning (docs/groups.md renders them).
import { StrataError } from "../../core/errors.ts";
import { defineLimits, type LimitValues } from "../../core/util/limit-spec.ts";

export const GROUP_LIMITS = defineLimits("groups", {
  maxGroups: { default: 10_000, unit: "count", min: 1, max: 1_000_000, doc: "Groups with members the gateway coordinates at once; a join that would create one more is refused." },
  maxMembersPerGroup: { default: 1000, unit: "count", min: 1, max: 100_000, doc: "Members one group may have; one more join is refused." },
  maxStreamsPerSubscription: { default: 100, unit: "count", min: 1, max: 10_000, doc: "Streams one member may subscribe to." },
  minSessionTimeoutMs: { default: 500, unit: "ms", min: 100, max: 3_600_000, doc: "Shortest session timeout a member may ask for." },
  maxSessionTimeoutMs: { default: 300_000, unit: "ms", min: 100, max: 3_600_000, doc: "Longest session timeout a member may ask for." },
  defaultSessionTimeoutMs: { default: 10_000, unit: "ms", min: 100, max: 3_600_000, doc: "Session timeout of a member that asks for none." },
});

export type GroupLimits = LimitValues<typeof GROUP_LIMITS.specs>;

/** Defaults overlaid with `overrides`; BAD_REQUEST when a value is out of range or the session bounds disagree. */
export function resolveGroupLimits(overrides: Partial<GroupLimits> = {}): GroupLimits {
  const limits = GROUP_LIMITS.resolve(overrides);
  if (!(limits.minSessionTimeoutMs <= limits.defaultSessionTimeoutMs && limits.defaultSessionTimeoutMs <= limits.maxSessionTimeoutMs)) {
    throw new StrataError(
      "BAD_REQUEST",
      `groups: minSessionTimeoutMs (${limits.minSessionTimeoutMs}) <= defaultSessionTimeoutMs (${limits.defaultSessionTimeoutMs}) <= maxSessionTimeoutMs (${limits.maxSessionTimeoutMs}) must hold`,
    );
  }
  return limits;
}
