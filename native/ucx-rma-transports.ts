// The transports of a worker's RMA context (native/src/sux.c): the only context that maps regions
// and issues or serves one-sided gets. By default only the shared-memory and cma transports that
// the worker's own transports allow (never tcp: UCX's software RMA over tcp checks no remote key,
// so a forged key read any server memory and could crash the server). With none of them, the RMA
// context has only "self" and every get rejects with UCX_UNAVAILABLE (callers send bytes as messages).
import { StrataError } from "../core/errors.ts";

/** Transports whose one-sided reads reach only this host's registered segments (or the OS user boundary, cma). */
const SHARED_MEMORY = ["posix", "sysv", "cma"] as const;
/** UCX_TLS aliases that stand for all of them. */
const SHARED_MEMORY_ALIASES = new Set(["sm", "shm", "all"]);

const UCX_TLS_LIST = /^[a-z0-9_,^:-]+$/i;

export interface RmaTransports {
  /** UCX_TLS of the RMA context; undefined: "self" only (no one-sided path to any peer). */
  readonly transports: string | undefined;
  /** The caller named them (rmaTransports): verbs with NIC-enforced keys, peers on other hosts too. */
  readonly nicEnforcedKeys: boolean;
}

/** The RMA context's transports for a worker over `workerTransports` (its UCX_TLS, else $UCX_TLS, else UCX's choice). */
export function rmaTransportsFor(workerTransports: string | undefined, explicit: string | undefined): RmaTransports {
  if (explicit !== undefined) {
    if (!UCX_TLS_LIST.test(explicit) || /(^|[,^])tcp/i.test(explicit)) {
      throw new StrataError("BAD_REQUEST", `UCX rmaTransports "${explicit}" is not a UCX_TLS list without tcp`);
    }
    return { transports: explicit, nicEnforcedKeys: true };
  }
  const list = (workerTransports ?? "").trim();
  if (list === "") return { transports: SHARED_MEMORY.join(","), nicEnforcedKeys: false };
  const excluding = list.startsWith("^");
  const names = new Set((excluding ? list.slice(1) : list).split(",").map((name) => name.split(":")[0]!.trim().toLowerCase()));
  const named = (t: string): boolean => names.has(t) || [...names].some((n) => SHARED_MEMORY_ALIASES.has(n));
  const kept = SHARED_MEMORY.filter((t) => (excluding ? !named(t) : named(t)));
  return { transports: kept.length > 0 ? kept.join(",") : undefined, nicEnforcedKeys: false };
}
