// Bounds of the UCX transport (docs/native.md). Everything a client can make the gateway hold is
// bounded by one of these: control messages by size, answers by bytes per request, registered
// memory by the pool, clients by endpoints, and a region left unreleased by the request timeout.
import { StrataError } from "../../core/errors.ts";
import { defineLimits, type LimitValues } from "../../core/util/limit-spec.ts";

const KiB = 1024;
const MiB = 1024 * KiB;
const GiB = 1024 * MiB;

export const UCX_LIMITS = defineLimits("ucx", {
  maxMessageBytes: { default: 4 * MiB, unit: "bytes", min: 4 * KiB, max: 64 * MiB, doc: "Largest control message accepted (a chunks request of 65,536 hashes is about 2.2 MiB)." },
  maxRequestBytes: { default: 64 * MiB, unit: "bytes", min: 64 * KiB, max: 1 * GiB, doc: "Most answer bytes one chunks or segment request may ask for; more is BATCH_TOO_LARGE." },
  poolBytes: { default: 1 * GiB, unit: "bytes", min: 1 * MiB, max: 256 * GiB, doc: "Registered memory for answers, all endpoints together; a request that does not fit waits up to requestTimeoutMs, then is UNAVAILABLE." },
  maxEndpoints: { default: 256, unit: "count", min: 1, max: 65_536, doc: "Client endpoints connected at once; more are closed at once." },
  maxRequestsInFlight: { default: 16, unit: "count", min: 1, max: 4096, doc: "Requests of one endpoint answered at once; later ones wait their turn." },
  requestTimeoutMs: { default: 30_000, unit: "ms", min: 100, max: 3_600_000, doc: "Time a client has to read and release an answer region (it is freed after), and that a request waits for pool room." },
  helloTimeoutMs: { default: 10_000, unit: "ms", min: 100, max: 600_000, doc: "Time a new endpoint has to send its hello." },
  inlineMaxBytes: { default: 64 * KiB, unit: "bytes", min: 0, max: 4 * MiB, doc: "Answers up to this size ride in the answer message (tag send) instead of a registered region and a one-sided get (docs/native.md gives the measurement)." },
});

export type UcxLimits = LimitValues<typeof UCX_LIMITS.specs>;

export const DEFAULT_UCX_LIMITS: UcxLimits = UCX_LIMITS.defaults;

/** Fills in defaults and checks ranges and the checks between the limits; BAD_REQUEST naming the keys. */
export function resolveUcxLimits(overrides: Partial<UcxLimits> = {}): UcxLimits {
  const l = UCX_LIMITS.resolve(overrides);
  if (l.maxRequestBytes > l.poolBytes) throw new StrataError("BAD_REQUEST", `ucx.maxRequestBytes (${l.maxRequestBytes}) must fit ucx.poolBytes (${l.poolBytes}): one answer lives in one region of the pool`);
  if (l.inlineMaxBytes > l.maxRequestBytes) throw new StrataError("BAD_REQUEST", `ucx.inlineMaxBytes (${l.inlineMaxBytes}) must be at most ucx.maxRequestBytes (${l.maxRequestBytes})`);
  return l;
}
