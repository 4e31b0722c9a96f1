// The sync loop: drains the outbox in order, one request at a time, as an idempotent producer;
// checks pins between drains; backs off with jitter when the gateway or the link is down. Rows
// are deleted only after their ack, and a group keeps its (epoch, seq) until then, so a crash of
// either side at any point leads to a resend the gateway recognises: no loss, no duplicate.
// Uploads and pin downloads take turns in this one loop, so the one byte rate bounds their sum.
import { StrataError } from "../../core/errors.ts";
import type { EdgeLimits } from "../limits.ts";
import type { Outbox, OutboxGroup, ProducerIdentity } from "../store/outbox.ts";
import { HTTP_HEAD_BYTES } from "../transports/http.ts";
import type { SyncTransport } from "../transports/transport.ts";
import { Backoff } from "./backoff.ts";
import { errorText, isFatal, isTransient } from "./errors.ts";
import type { PinSync } from "./pin-sync.ts";
import type { TokenBucket } from "../../core/util/token-bucket.ts";
import { WakeableSleep } from "./wakeable-sleep.ts";

export type SyncEvent =
  | { readonly kind: "acked"; readonly stream: string; readonly records: number; readonly epoch: number; readonly seq: number }
  | { readonly kind: "error"; readonly message: string; readonly retryInMs: number | null };

export interface SyncLoopDeps {
  readonly outbox: Outbox;
  readonly pins: PinSync;
  readonly transport: SyncTransport;
  readonly identity: ProducerIdentity;
  readonly limits: EdgeLimits;
  readonly rate: TokenBucket | null;
  readonly onEvent: (event: SyncEvent) => void;
}

/** Bytes of a publish request beyond its records: the body's map and producer, and the HTTP head. */
const REQUEST_OVERHEAD_BYTES = 64 + HTTP_HEAD_BYTES;
const MIN_LIMITED_REQUEST_BYTES = 64 * 1024;
/** How often a pin round with nothing new updates last_sync. */
const TOUCH_SYNC_EVERY_MS = 60_000;

export class SyncLoop {
  readonly #deps: SyncLoopDeps;
  readonly #sleep = new WakeableSleep();
  readonly #backoff: Backoff;
  /** Streams whose last request was refused (not a transient failure), until when they rest. */
  readonly #blocked = new Map<string, { until: number; error: unknown }>();
  #abort = new AbortController();
  #stopped = false;
  #nextPinCheck = 0;
  #lastTouch = 0;
  lastError: string | null = null;

  constructor(deps: SyncLoopDeps) {
    this.#deps = deps;
    this.#backoff = new Backoff(deps.limits.backoffInitialMs, deps.limits.backoffMaxMs);
  }

  /** New rows are in the outbox: drain now instead of at the next poll. */
  wake(): void {
    this.#sleep.wake();
  }

  stop(): void {
    this.#stopped = true;
    this.#abort.abort(new StrataError("UNAVAILABLE", "edge sync stopped"));
    this.#sleep.wake();
  }

  /**
   * Runs until stop(). With `once`, returns after the outbox has been drained and every pin
   * checked once (retrying transient failures meanwhile), or throws if a stream's rows were refused.
   * Either way it throws when the gateway refuses the token (UNAUTHENTICATED).
   */
  async run(once = false): Promise<void> {
    const { limits } = this.#deps;
    let pinsChecked = false;
    while (!this.#stopped) {
      try {
        const emptied = await this.#drain();
        if (Date.now() >= this.#nextPinCheck) {
          if (this.#deps.pins.hasWork) {
            await this.#deps.pins.syncAll(this.#deps.transport, this.#abort.signal);
            // A quiet round still counts as a sync, written at most once a minute (flash wear).
            if (Date.now() - this.#lastTouch >= TOUCH_SYNC_EVERY_MS) {
              await this.#deps.outbox.touchSync();
              this.#lastTouch = Date.now();
            }
          }
          this.#nextPinCheck = Date.now() + limits.pinPollMs;
          pinsChecked = true;
        }
        this.#backoff.reset();
        if (!emptied || this.#stopped) continue;
        if (once && pinsChecked) {
          const refused = [...this.#blocked.values()][0];
          if (refused) throw refused.error;
          return;
        }
        await this.#sleep.sleep(Math.max(0, Math.min(limits.idlePollMs, this.#nextPinCheck - Date.now())));
      } catch (e) {
        if (this.#stopped) break;
        if (isFatal(e) || (once && !isTransient(e))) throw e;
        const delay = this.#backoff.next();
        this.lastError = errorText(e);
        this.#deps.onEvent({ kind: "error", message: this.lastError, retryInMs: delay });
        await this.#sleep.sleep(delay);
      }
    }
  }

  #excluded(): string[] {
    const now = Date.now();
    for (const [stream, b] of this.#blocked) if (b.until <= now) this.#blocked.delete(stream);
    return [...this.#blocked.keys()];
  }

  /** Sends groups until none is left (true) or pins are due (false). */
  async #drain(): Promise<boolean> {
    const { outbox, identity, limits, rate } = this.#deps;
    // Under a rate limit a request is at most a quarter second's worth (and at least 64 KiB), so
    // no single request is a long burst.
    const maxBytes = rate ? Math.min(limits.maxRequestBytes, Math.max(MIN_LIMITED_REQUEST_BYTES, Math.floor(rate.bytesPerSecond / 4))) : limits.maxRequestBytes;
    const bounds = { maxRecords: limits.maxRequestRecords, maxBytes };
    while (!this.#stopped) {
      // A long drain lets due pins have their turn.
      if (this.#deps.pins.hasWork && Date.now() >= this.#nextPinCheck) return false;
      const group = await outbox.nextGroup(bounds, this.#excluded());
      if (!group) return true;
      await rate?.take(group.records.bytes.length + REQUEST_OVERHEAD_BYTES, this.#abort.signal);
      try {
        await this.#send(group, identity);
      } catch (e) {
        if (this.#stopped || isTransient(e) || isFatal(e)) throw e;
        // Refused: this stream rests (its rows stay, stamped) while the others go on.
        this.lastError = `${group.stream}: ${errorText(e)}`;
        this.#blocked.set(group.stream, { until: Date.now() + limits.backoffMaxMs, error: e });
        this.#deps.onEvent({ kind: "error", message: this.lastError, retryInMs: limits.backoffMaxMs });
      }
    }
    return false;
  }

  async #send(group: OutboxGroup, identity: ProducerIdentity): Promise<void> {
    const { outbox, transport, rate } = this.#deps;
    const producer = { id: identity.id, epoch: group.epoch, seq: group.seq };
    let ack;
    try {
      ack = await transport.publish(group.stream, producer, group.records, this.#abort.signal);
    } catch (e) {
      if (!(e instanceof StrataError) || e.code !== "STREAM_NOT_FOUND") throw e;
      await transport.createStream(group.stream);
      ack = await transport.publish(group.stream, producer, group.records, this.#abort.signal);
    }
    await outbox.ack(group);
    this.#deps.onEvent({ kind: "acked", stream: group.stream, records: group.records.count, epoch: group.epoch, seq: group.seq });
    await rate?.take(ack.bytesReceived, this.#abort.signal);
  }
}
