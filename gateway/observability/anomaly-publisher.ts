// Writes flags to `_strata/anomalies` without ever holding up what caused them (docs/anomalies.md):
// a flag is queued and the publish runs later, one at a time, so the append, commit or ack that
// was flagged returns as if nothing happened. At most `maxPerSecond` flags are queued per
// wall-clock second (a fixed one-second window); the rest are only counted. A publish refused
// for a passing reason (in cluster mode the stream's partition not led yet, a lease moving) is
// retried with backoff for up to `maxWaitMs`; one that still fails is counted and logged.
import { getLogger } from "@logtape/logtape";
import { StrataError } from "../../core/errors.ts";
import { FAILOVER_CODES } from "../../core/client/failover-fetch.ts";
import type { RecordInput } from "../../core/log/record.ts";
import type { AnomalyMetrics } from "./anomaly-metrics.ts";
import { ANOMALIES_STREAM, flagFields, type AnomalyFlag } from "./anomaly-record.ts";

const log = getLogger(["strata", "anomalies"]);

/** First and longest pause between attempts of one batch. */
const RETRY_INITIAL_MS = 100;
const RETRY_MAX_MS = 2_000;

/** The gateway's own publish (LogService.publish without a transport's `via`). */
export type AnomalyAppend = (stream: string, records: readonly RecordInput[]) => Promise<unknown>;

/** Creates `_strata/anomalies` when missing (anomaly-stream.ts). */
export type EnsureAnomalyStream = () => Promise<void>;

/** The publisher is idle, or one publish of queued flags runs. */
type PublisherState = { readonly kind: "idle" } | { readonly kind: "publishing"; readonly done: Promise<void> };

export interface PublisherOptions {
  /** Flags queued per wall-clock second (anomalies.maxFlagsPerSecond). */
  readonly maxPerSecond: number;
  /** How long a batch is retried after passing refusals (anomalies.maxPublishWaitMs). */
  readonly maxWaitMs: number;
}

export class AnomalyPublisher {
  #window = { second: 0, published: 0 };
  #queue: AnomalyFlag[] = [];
  #state: PublisherState = { kind: "idle" };
  #closed = false;
  /** Settles once the stream exists; dropped after a failure so that the next publish tries again. */
  #streamReady: Promise<void> | undefined;

  constructor(
    private readonly append: AnomalyAppend,
    private readonly ensureStream: EnsureAnomalyStream,
    private readonly options: PublisherOptions,
    private readonly metrics: AnomalyMetrics,
    private readonly now: () => number = Date.now,
  ) {}

  /** Queues the flag for `_strata/anomalies` when this second's budget allows; never throws, never waits. */
  offer(flag: AnomalyFlag): void {
    const second = Math.floor(this.now() / 1000);
    if (second !== this.#window.second) this.#window = { second, published: 0 };
    if (this.#closed || this.#window.published >= this.options.maxPerSecond) {
      this.metrics.unpublished.inc({ reason: "rate_limit" });
      return;
    }
    this.#window.published++;
    // The same budget bounds the log: one line per published flag.
    log.info("anomaly {kind}: {reason}", { kind: flag.kind, stream: flag.stream, group: flag.group, partition: flag.partition, reason: flag.reason });
    this.#queue.push(flag);
    if (this.#state.kind === "idle") this.#start();
  }

  /** Waits for the flags queued so far to be written (tests, close). */
  async flushed(): Promise<void> {
    while (this.#state.kind === "publishing") await this.#state.done;
  }

  /** Publishes what is queued (without retrying), then takes no more. */
  async close(): Promise<void> {
    this.#closed = true;
    await this.flushed();
  }

  #start(): void {
    const done = (async () => {
      await Promise.resolve(); // the publish starts after the flagged operation's own code, never inside it
      // Flags queued while a publish runs go in the next one (at most a second's budget per second).
      while (this.#queue.length > 0) {
        const batch = this.#queue;
        this.#queue = [];
        await this.#publish(batch.map((flag) => ({ key: null, headers: {}, fields: flagFields(flag) })));
      }
      this.#state = { kind: "idle" };
    })();
    this.#state = { kind: "publishing", done };
  }

  async #publish(records: RecordInput[]): Promise<void> {
    const giveUpAt = this.now() + this.options.maxWaitMs;
    for (let pause = RETRY_INITIAL_MS; ; pause = Math.min(pause * 2, RETRY_MAX_MS)) {
      try {
        await (this.#streamReady ??= this.ensureStream().catch((e: unknown) => {
          this.#streamReady = undefined;
          throw e;
        }));
        await this.append(ANOMALIES_STREAM, records);
        return;
      } catch (e) {
        const passing = e instanceof StrataError && FAILOVER_CODES.has(e.code);
        if (!passing || this.#closed || this.now() + pause > giveUpAt) {
          this.metrics.unpublished.inc({ reason: "publish_failed" }, records.length);
          log.warning("publishing {count} anomaly flags failed: {error}", { count: records.length, error: e instanceof Error ? e.message : String(e) });
          return;
        }
      }
      await new Promise((resolve) => setTimeout(resolve, pause));
    }
  }
}
