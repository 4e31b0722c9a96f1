// Limits of the fleet subsystem: devices and their heartbeats, staged rollouts (docs/fleet.md).
// Every bound is checked where a heartbeat or a rollout request enters, before anything is stored.
import { defineLimits, type LimitValues } from "../../core/util/limit-spec.ts";

const KiB = 1024;

export const FLEET_LIMITS = defineLimits("fleet", {
  maxDevices: { default: 100_000, unit: "count", min: 1, max: 10_000_000, doc: "Most devices the gateway keeps; a heartbeat of a new device past it is BAD_REQUEST (400) and stores nothing." },
  maxLabels: { default: 32, unit: "count", min: 0, max: 1024, doc: "Most labels of one device (and label selectors of one rollout)." },
  maxLabelBytes: { default: 128, unit: "bytes", min: 1, max: 4 * KiB, doc: "Longest label key or value, in UTF-8 bytes." },
  maxPinsPerDevice: { default: 256, unit: "count", min: 1, max: 100_000, doc: "Most pinned streams one heartbeat reports." },
  maxErrorsPerHeartbeat: { default: 32, unit: "count", min: 0, max: 1024, doc: "Most errors one heartbeat reports." },
  maxErrorBytes: { default: 1 * KiB, unit: "bytes", min: 16, max: 64 * KiB, doc: "Longest error message a heartbeat reports, in UTF-8 bytes." },
  maxHeartbeatBytes: { default: 256 * KiB, unit: "bytes", min: 1 * KiB, max: 16 * 1024 * KiB, doc: "Largest heartbeat body." },
  maxRollouts: { default: 10_000, unit: "count", min: 1, max: 1_000_000, doc: "Most rollouts kept, of every state; a start past it is BAD_REQUEST (400)." },
  deviceListMax: { default: 10_000, unit: "count", min: 1, max: 1_000_000, doc: "Most devices one GET /v1/devices answers (`limit`)." },
});

export type FleetLimits = LimitValues<typeof FLEET_LIMITS.specs>;

export const DEFAULT_FLEET_LIMITS: FleetLimits = FLEET_LIMITS.defaults;
