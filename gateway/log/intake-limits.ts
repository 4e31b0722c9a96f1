// Limits of the intake path of cluster mode (docs/cluster.md): records are acknowledged once an
// intake object holding them (the writes of many partitions, batched) is in the object store and
// its ranges are committed in the shared metadata database.
import { defineLimits, type LimitValues } from "../../core/util/limit-spec.ts";

const MiB = 1024 * 1024;

export const INTAKE_LIMITS = defineLimits("intake", {
  maxObjectBytes: { default: 8 * MiB, unit: "bytes", min: 64 * 1024, max: 1024 * MiB, doc: "Largest intake object: batches waiting beyond it go into the next PUT." },
  lingerMs: { default: 2, unit: "ms", min: 0, max: 1_000, doc: "Longest batches wait for more company while a PUT is already in flight; an idle intake writes at once." },
  maxPutsInFlight: { default: 4, unit: "count", min: 1, max: 64, doc: "Intake PUTs in flight at once (their commits still land in order)." },
  maxPendingBytes: { default: 256 * MiB, unit: "bytes", min: 1 * MiB, max: 64 * 1024 * MiB, doc: "Bytes waiting for an intake commit on this gateway; an append past it is UNAVAILABLE (503)." },
  ackTimeoutMs: { default: 30_000, unit: "ms", min: 100, max: 600_000, doc: "Longest an append waits for its intake commit (the object store or the metadata database failing) before it fails with STORAGE_ERROR (503); the commit is still retried, so a producer's retry may find it a duplicate." },
  sweepMs: { default: 60_000, unit: "ms", min: 100, max: 3_600_000, doc: "How often the holder of the intake-sweeper lock deletes intake objects no range names any more." },
  orphanGraceMs: { default: 600_000, unit: "ms", min: 1_000, max: 86_400_000, doc: "Age after which an intake object no range names is deleted (a PUT whose commit never came)." },
});

export type IntakeLimits = LimitValues<typeof INTAKE_LIMITS.specs>;

export const DEFAULT_INTAKE_LIMITS: IntakeLimits = INTAKE_LIMITS.defaults;
