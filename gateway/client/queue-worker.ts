// work(): a queue worker loop. It claims as many records as it has free slots (long-polling when
// the queue is empty), runs the handler on each, acks the record when the handler resolves and
// nacks it with the error's message when it throws. Acks of records finished while an ack request
// is in flight go together in the next one (queue-acks.ts).
//
// Nothing extends a claim: the visibility (visibilityMs, or the queue's default) must exceed the
// handler's longest run, or the record is redelivered to another worker while this one still
// works on it (at-least-once, never lost).
//
// Stopping (the signal aborts): no new claim is made (a claim long-polling is cancelled), the
// handlers already running are left to finish and their records are acked or nacked as usual,
// then work() resolves. Handlers get the same signal and may give up early by throwing (the
// record is then nacked and redelivered). A gateway that goes away is waited out with backoff
// (one never reached by the first claim is an error: most likely a wrong address); an ack or
// nack that cannot be delivered leaves the record to come back after its visibility.
import { getLogger } from "@logtape/logtape";
import { invariant, StrataError } from "../../core/errors.ts";
import { isTransientFailure } from "./group-http.ts";
import { type AckOutcome, CoalescedAcks, retrying } from "./queue-acks.ts";
import { claim, type ClaimedRecord, nack, type QueueConnection } from "./queue-http.ts";
import { abortableDelay } from "./gateway-call.ts";

const log = getLogger(["strata", "queues", "worker"]);

const CLAIM_WAIT_MS = 5_000;
const RETRY_INITIAL_MS = 50;
const RETRY_MAX_MS = 2_000;
/** Settling (ack or nack): attempts before the record is left to its visibility timeout. */
const SETTLE_RETRY = { attempts: 5, initialMs: RETRY_INITIAL_MS, maxMs: RETRY_MAX_MS };

export interface WorkOptions extends QueueConnection {
  readonly group: string;
  /** Streams in priority order (the first one's records are claimed first). */
  readonly streams: readonly string[];
  /** Runs once per delivery; resolving acks the record, throwing nacks it with the error's message. */
  readonly handler: (record: ClaimedRecord, context: { readonly signal: AbortSignal }) => Promise<void>;
  /** Records handled at the same time (default 1). */
  readonly concurrency?: number;
  /** Visibility of each claim; must exceed the handler's time (the queue's default when absent). */
  readonly visibilityMs?: number;
  /** A CEL expression: records it rejects are never handed to this group's handlers. */
  readonly filter?: string;
  /** Stops the loop (see the top of this file). */
  readonly signal?: AbortSignal;
}

export interface WorkSummary {
  readonly acked: number;
  readonly nacked: number;
  /** Settles the gateway refused or never received (those records come back after their visibility). */
  readonly unsettled: number;
}

type WorkerState = { kind: "running"; busy: number } | { kind: "draining"; busy: number } | { kind: "stopped" };

function errorText(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}


/** Runs the worker loop until `signal` aborts (resolving with what it did) or a claim is refused for good (rejecting). */
export async function work(options: WorkOptions): Promise<WorkSummary> {
  const concurrency = options.concurrency ?? 1;
  if (!Number.isInteger(concurrency) || concurrency < 1) throw new StrataError("BAD_REQUEST", `concurrency must be an integer >= 1, got ${concurrency}`);
  if (options.streams.length === 0) throw new StrataError("BAD_REQUEST", "streams must name at least one stream");
  const stop = new AbortController();
  const onAbort = (): void => stop.abort(options.signal?.reason);
  if (options.signal?.aborted) stop.abort();
  options.signal?.addEventListener("abort", onAbort, { once: true });

  let state: WorkerState = { kind: "running", busy: 0 };
  let acked = 0;
  let nacked = 0;
  let unsettled = 0;
  /** Wakes the claim loop when a slot frees up. */
  let slotFreed: (() => void) | undefined;
  const running = new Set<Promise<void>>();

  const acks = new CoalescedAcks(options, options.group, SETTLE_RETRY);
  const nackOnce = async (record: ClaimedRecord, error: string): Promise<AckOutcome> => {
    const answer = await retrying(SETTLE_RETRY, () => nack(options, options.group, [record.receipt], { error }));
    if (!("value" in answer)) return { kind: "failed", error: answer.error };
    return answer.value.stale.length > 0 ? { kind: "stale" } : { kind: "settled" };
  };

  const settle = async (what: "ack" | "nack", record: ClaimedRecord, error?: string): Promise<void> => {
    const outcome = what === "ack" ? await acks.ack(record.receipt) : await nackOnce(record, error ?? "");
    const where = { what, stream: record.stream, partition: record.partition, offset: record.offset };
    switch (outcome.kind) {
      case "settled":
        if (what === "ack") acked++;
        else nacked++;
        return;
      case "stale":
        // The claim expired (the handler outlived the visibility) and the record went back to the queue.
        unsettled++;
        log.warn("{what} of {stream}/{partition}@{offset} came too late: its visibility had expired", where);
        return;
      case "failed":
        unsettled++;
        log.warn("{what} of {stream}/{partition}@{offset} failed, the record comes back after its visibility: {error}", { ...where, error: errorText(outcome.error) });
        return;
    }
  };

  const handle = async (record: ClaimedRecord): Promise<void> => {
    let failure: string | undefined;
    try {
      await options.handler(record, { signal: stop.signal });
    } catch (e) {
      failure = errorText(e);
    }
    await (failure === undefined ? settle("ack", record) : settle("nack", record, failure));
  };

  const start = (record: ClaimedRecord): void => {
    invariant(state.kind !== "stopped", "a record was started after the worker stopped");
    invariant(state.busy < concurrency, `more than ${concurrency} records in hand`);
    state = { ...state, busy: state.busy + 1 };
    const task = handle(record).finally(() => {
      running.delete(task);
      invariant(state.kind !== "stopped" && state.busy > 0, "a record finished that was not counted");
      state = { ...state, busy: state.busy - 1 };
      slotFreed?.();
    });
    running.add(task);
  };

  try {
    let retry = 0;
    let reached = false;
    while (!stop.signal.aborted) {
      invariant(state.kind === "running", `claim loop in state ${state.kind}`);
      const free = concurrency - state.busy;
      if (free === 0) {
        await new Promise<void>((resolve) => {
          const wake = (): void => {
            stop.signal.removeEventListener("abort", wake);
            resolve();
          };
          slotFreed = wake;
          stop.signal.addEventListener("abort", wake, { once: true });
        });
        slotFreed = undefined;
        continue;
      }
      let records: ClaimedRecord[];
      try {
        records = await claim(options, options.group, {
          streams: options.streams,
          maxRecords: free,
          waitMs: CLAIM_WAIT_MS,
          signal: stop.signal,
          ...(options.visibilityMs === undefined ? {} : { visibilityMs: options.visibilityMs }),
          ...(options.filter === undefined ? {} : { filter: options.filter }),
        });
        retry = 0;
        reached = true;
      } catch (e) {
        if (stop.signal.aborted) break;
        // A gateway never reached is most likely a wrong address: say so at once rather than wait.
        if (!isTransientFailure(e) || !reached) throw e;
        log.info("claim failed, retrying: {error}", { error: errorText(e) });
        await abortableDelay(Math.min(RETRY_MAX_MS, RETRY_INITIAL_MS * 2 ** retry++), stop.signal);
        continue;
      }
      invariant(records.length <= free, `the gateway answered ${records.length} records to a claim of ${free}`);
      for (const record of records) start(record);
    }
  } finally {
    if (state.kind === "running") state = { kind: "draining", busy: state.busy };
    await Promise.all(running);
    invariant(state.kind === "draining" && state.busy === 0, "records still in hand after draining");
    state = { kind: "stopped" };
    options.signal?.removeEventListener("abort", onAbort);
  }
  return { acked, nacked, unsettled };
}
