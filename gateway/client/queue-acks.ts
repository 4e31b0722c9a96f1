// Coalesced acks for the worker loop: while one ack request is in flight, the receipts of records
// finished meanwhile wait and go together in the next request, so N handlers finishing at once
// cost one request (one database commit on the gateway) instead of N. A transient failure is
// retried with backoff a few times; after that the receipts are reported unsettled (their records
// come back after their visibility).
import { invariant } from "../../core/errors.ts";
import { isTransientFailure } from "./group-http.ts";
import { ack, type QueueConnection } from "./queue-http.ts";

/** How one ack (or nack) ended: settled, too late (the visibility had expired), or never delivered. */
export type AckOutcome = { kind: "settled" } | { kind: "stale" } | { kind: "failed"; error: unknown };

interface Waiting {
  readonly receipt: string;
  readonly resolve: (outcome: AckOutcome) => void;
}

type SenderState = { kind: "idle" } | { kind: "sending"; receipts: number };

export interface AckRetry {
  readonly attempts: number;
  readonly initialMs: number;
  readonly maxMs: number;
}

export class CoalescedAcks {
  #waiting: Waiting[] = [];
  #state: SenderState = { kind: "idle" };

  constructor(
    private readonly connection: QueueConnection,
    private readonly group: string,
    private readonly retry: AckRetry,
  ) {}

  /** Acks `receipt` with the next request; resolves with how it ended (never rejects). */
  ack(receipt: string): Promise<AckOutcome> {
    return new Promise((resolve) => {
      this.#waiting.push({ receipt, resolve });
      if (this.#state.kind === "idle") void this.#send();
    });
  }

  async #send(): Promise<void> {
    invariant(this.#state.kind === "idle", "a second ack sender started");
    while (this.#waiting.length > 0) {
      const batch = this.#waiting;
      this.#waiting = [];
      this.#state = { kind: "sending", receipts: batch.length };
      const outcome = await this.#post(batch.map((w) => w.receipt));
      for (const w of batch) w.resolve(outcome instanceof Set ? (outcome.has(w.receipt) ? { kind: "stale" } : { kind: "settled" }) : { kind: "failed", error: outcome.error });
    }
    this.#state = { kind: "idle" };
  }

  /** The stale receipts of the answer, or the error of the last attempt. */
  async #post(receipts: readonly string[]): Promise<Set<string> | { error: unknown }> {
    const answer = await retrying(this.retry, () => ack(this.connection, this.group, receipts));
    return "value" in answer ? new Set(answer.value.stale) : answer;
  }
}

/** `call`, retried with exponential backoff on transient failures up to `retry.attempts` times. */
export async function retrying<T>(retry: AckRetry, call: () => Promise<T>): Promise<{ value: T } | { error: unknown }> {
  for (let attempt = 0; ; attempt++) {
    try {
      return { value: await call() };
    } catch (e) {
      if (!isTransientFailure(e) || attempt + 1 >= retry.attempts) return { error: e };
      await new Promise((r) => setTimeout(r, Math.min(retry.maxMs, retry.initialMs * 2 ** attempt)));
    }
  }
}
