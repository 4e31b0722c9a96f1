// Which devices a rollout selects: a pure function of the rollout id and the device id. BLAKE3 of
// "{rollout}/{device}" read as a big-endian u32, mod 10,000, is the device's bucket; the rollout
// selects buckets below its percentage in basis points. Raising the percentage only adds devices.
import { blake3 } from "../../core/hashing/blake3.ts";
import type { Labels } from "./fleet-wire.ts";

export const BUCKETS = 10_000;

export function rolloutBucket(rolloutId: string, deviceId: string): number {
  const digest = blake3(`${rolloutId}/${deviceId}`);
  const word = ((digest[0] ?? 0) << 24) | ((digest[1] ?? 0) << 16) | ((digest[2] ?? 0) << 8) | (digest[3] ?? 0);
  return (word >>> 0) % BUCKETS;
}

/** Whether a device with `labels` matches a rollout's selector (every pair of it). */
export function labelsMatch(selector: Labels, labels: Labels): boolean {
  return Object.entries(selector).every(([k, v]) => labels[k] === v);
}

export function selects(rolloutId: string, percentBp: number, selector: Labels, deviceId: string, labels: Labels): boolean {
  return labelsMatch(selector, labels) && rolloutBucket(rolloutId, deviceId) < percentBp;
}
