// Reads one partition from a start offset: to its end, or with follow for as long as the command
// runs, long-polling at the end of the log. While following, a gateway that goes away (restart,
// crash, network) is waited for: requests are retried with jittered exponential backoff and
// reading resumes at the next offset not yet printed, so nothing is skipped or repeated.
import { setTimeout as sleep } from "node:timers/promises";
import { getLogger } from "@logtape/logtape";
import { FAILOVER_CODES } from "../core/client/failover-fetch.ts";
import { invariant, StrataError } from "../core/errors.ts";
import { Backoff } from "../edge/sync/backoff.ts";
import type { ReadPage, ReadRecord } from "./gateway-answers.ts";
import { unreachableReason } from "./gateway-errors.ts";

const log = getLogger(["strata", "cli", "consume"]);

export const RECONNECT_INITIAL_MS = 200;
export const RECONNECT_MAX_MS = 5_000;

export interface PageRequest {
  readonly partition: number;
  readonly offset: number;
  readonly maxRecords: number;
  /** Long-poll this long at the end of the log (0: answer at once). */
  readonly waitMs: number;
  readonly signal: AbortSignal;
}

/**
 * Whether the gateway may answer a retry: it is away, restarting, cut the answer short, or (in a
 * cluster) the partition's lease is moving or the metadata database is away (FAILOVER_CODES).
 */
export function isTransient(error: unknown): boolean {
  if (unreachableReason(error) !== null) return true;
  return error instanceof StrataError && (FAILOVER_CODES.has(error.code) || error.code === "STORAGE_ERROR" || error.code === "INTERNAL");
}

/**
 * Whether the gateway answers, shared by the partitions read at once so that an outage is
 * reported once, not once per partition.
 */
export class GatewayLink {
  #state: { readonly kind: "up" } | { readonly kind: "down"; readonly since: number } = { kind: "up" };
  readonly #url: string;

  constructor(url: string) {
    this.#url = url;
  }

  failed(error: unknown): void {
    if (this.#state.kind === "down") return;
    this.#state = { kind: "down", since: Date.now() };
    const reason = unreachableReason(error) ?? (error instanceof Error ? error.message : String(error));
    log.warning("lost the gateway at {url} ({reason}); reconnecting, reading resumes where it stopped", { url: this.#url, reason });
  }

  answered(): void {
    const s = this.#state;
    if (s.kind === "up") return;
    this.#state = { kind: "up" };
    log.info("reconnected to the gateway at {url} after {seconds} s", { url: this.#url, seconds: ((Date.now() - s.since) / 1000).toFixed(1) });
  }
}

/**
 * Runs `work`. While following, a transient failure (see isTransient) is reported through `link`
 * and retried with backoff until the gateway answers; resolves null if stopped meanwhile.
 */
export async function untilAnswered<T>(work: () => Promise<T>, o: { readonly follow: boolean; readonly signal: AbortSignal; readonly link: GatewayLink }): Promise<T | null> {
  const backoff = new Backoff(RECONNECT_INITIAL_MS, RECONNECT_MAX_MS);
  for (;;) {
    if (o.signal.aborted) return null;
    try {
      const result = await work();
      o.link.answered();
      return result;
    } catch (e) {
      if (o.signal.aborted) return null;
      if (!o.follow || !isTransient(e)) throw e;
      o.link.failed(e);
      await sleep(backoff.next(), undefined, { signal: o.signal }).catch(() => undefined);
    }
  }
}

export interface TailOptions {
  readonly partition: number;
  readonly offset: number;
  readonly follow: boolean;
  readonly waitMs: number;
  readonly pageRecords: number;
  readonly signal: AbortSignal;
  readonly link: GatewayLink;
  read(request: PageRequest): Promise<ReadPage>;
  /** Prints records of the partition; returns how many more may be printed (0: stop). */
  emit(partition: number, records: readonly ReadRecord[]): Promise<number>;
}

type TailState =
  | { readonly kind: "reading"; readonly offset: number }
  | { readonly kind: "reconnecting"; readonly offset: number; readonly failures: number }
  | { readonly kind: "done"; readonly offset: number };

/** Reads the partition; resolves with the next offset not printed. */
export async function tailPartition(o: TailOptions): Promise<number> {
  const backoff = new Backoff(RECONNECT_INITIAL_MS, RECONNECT_MAX_MS);
  let state: TailState = { kind: "reading", offset: o.offset };
  let budget = Number.MAX_SAFE_INTEGER;
  while (state.kind !== "done") {
    if (o.signal.aborted) {
      state = { kind: "done", offset: state.offset };
      break;
    }
    let page: ReadPage;
    try {
      page = await o.read({ partition: o.partition, offset: state.offset, maxRecords: Math.min(o.pageRecords, budget), waitMs: o.follow ? o.waitMs : 0, signal: o.signal });
    } catch (e) {
      if (o.signal.aborted) {
        state = { kind: "done", offset: state.offset };
        break;
      }
      if (!o.follow || !isTransient(e)) throw e;
      o.link.failed(e);
      state = { kind: "reconnecting", offset: state.offset, failures: state.kind === "reconnecting" ? state.failures + 1 : 1 };
      await sleep(backoff.next(), undefined, { signal: o.signal }).catch(() => undefined);
      continue;
    }
    o.link.answered();
    backoff.reset();
    invariant(page.next_offset >= state.offset, `partition ${o.partition}: next_offset ${page.next_offset} is behind ${state.offset}`);
    // Increasing within [offset, next_offset); with a filter there are gaps where records were skipped.
    const from = state.offset;
    invariant(
      page.records.every((r, i) => r.offset >= from && r.offset < page.next_offset && (i === 0 || r.offset > page.records[i - 1]!.offset)),
      `partition ${o.partition}: records out of order from offset ${from}`,
    );
    budget = await o.emit(o.partition, page.records);
    const next = page.next_offset;
    state = budget === 0 || (!o.follow && next >= page.end_offset) ? { kind: "done", offset: next } : { kind: "reading", offset: next };
  }
  return state.offset;
}
