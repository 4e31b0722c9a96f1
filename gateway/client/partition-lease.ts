// One partition a group member owns, from the heartbeat that assigned it to the one that revoked
// it: where reading starts, the reader loop (long-polls into the shared buffer), and the offsets
// the caller finished with (`processed`) and the gateway last confirmed (`committed`).
import { getLogger } from "@logtape/logtape";
import { invariant } from "../../core/errors.ts";
import type { BatchBuffer } from "./batch-buffer.ts";
import { type GroupHttp, type GroupReadRecord, isTransientFailure } from "./group-http.ts";
import { abortableDelay } from "./gateway-call.ts";

const log = getLogger(["strata", "client", "groups"]);

export interface GroupRecord extends GroupReadRecord {
  readonly stream: string;
  readonly partition: number;
}

/** Records of one partition, in offset order; `next_offset` is where the read after them starts (past filtered-out records). */
export interface GroupBatch {
  readonly stream: string;
  readonly partition: number;
  readonly records: readonly GroupRecord[];
  readonly next_offset: number;
}

export interface LeasedBatch {
  readonly lease: PartitionLease;
  readonly batch: GroupBatch;
}

export interface ReadSettings {
  readonly group: string;
  readonly start: "earliest" | "latest";
  readonly pageRecords: number;
  readonly pageBytes: number;
  readonly waitMs: number;
  readonly filter?: string;
  readonly fields?: readonly string[];
}

const RETRY_INITIAL_MS = 100;
const RETRY_MAX_MS = 2_000;

/** Resolves after `ms`, or at once when `signal` aborts (no node: import: the client runs on any runtime). */

/** Full-jitter exponential delay of the nth retry. */
export function retryDelayMs(attempt: number): number {
  const ceiling = Math.min(RETRY_MAX_MS, RETRY_INITIAL_MS * 2 ** Math.min(attempt, 20));
  return Math.round(RETRY_INITIAL_MS / 2 + Math.random() * (ceiling - RETRY_INITIAL_MS / 2));
}

export class PartitionLease {
  readonly stream: string;
  readonly partition: number;
  readonly #stop = new AbortController();
  /** The next offset of everything the caller finished with (null: nothing yet). */
  processed: number | null = null;
  /** The last offset the gateway confirmed as committed by this lease. */
  committed: number | null = null;

  constructor(stream: string, partition: number) {
    this.stream = stream;
    this.partition = partition;
  }

  get key(): string {
    return `${this.stream}\u0000${this.partition}`;
  }

  get revoked(): boolean {
    return this.#stop.signal.aborted;
  }

  /** Stops the reader at once (an in-flight long poll is aborted). */
  revoke(): void {
    this.#stop.abort();
  }

  /** The caller finished with `batch`: its next offset becomes committable. */
  finished(batch: GroupBatch): void {
    invariant(batch.stream === this.stream && batch.partition === this.partition, "a batch finished on another partition's lease");
    invariant(this.processed === null || batch.next_offset >= this.processed, `${this.stream}/${this.partition}: processed offset went back to ${batch.next_offset}`);
    this.processed = batch.next_offset;
  }

  /** Reads until revoked; failures other than transient ones end the reader through `fail`. */
  async run(http: GroupHttp, buffer: BatchBuffer<LeasedBatch>, settings: ReadSettings, fail: (error: unknown) => void): Promise<void> {
    const signal = this.#stop.signal;
    let attempt = 0;
    let offset: number | null = null;
    while (!signal.aborted) {
      try {
        if (offset === null) offset = await this.#startOffset(http, settings, signal);
        await buffer.room(signal);
        if (signal.aborted) break;
        const page = await http.read({
          stream: this.stream,
          partition: this.partition,
          offset,
          maxRecords: settings.pageRecords,
          maxBytes: settings.pageBytes,
          waitMs: settings.waitMs,
          group: settings.group,
          signal,
          ...(settings.filter === undefined ? {} : { filter: settings.filter }),
          ...(settings.fields === undefined ? {} : { fields: settings.fields }),
        });
        attempt = 0;
        if (signal.aborted) break;
        const from: number = offset;
        invariant(page.next_offset >= from, `${this.stream}/${this.partition}: next_offset ${page.next_offset} is behind ${from}`);
        invariant(
          page.records.every((r, i) => r.offset >= from && r.offset < page.next_offset && (i === 0 || r.offset > page.records[i - 1]!.offset)),
          `${this.stream}/${this.partition}: records out of order from offset ${from}`,
        );
        // A page of only filtered-out records still moves the committable offset (an empty batch).
        if (page.next_offset > from) {
          const records = page.records.map((r) => ({ ...r, stream: this.stream, partition: this.partition }));
          buffer.push({ lease: this, batch: { stream: this.stream, partition: this.partition, records, next_offset: page.next_offset } }, page.bytes);
        }
        offset = page.next_offset;
      } catch (e) {
        if (signal.aborted) break;
        if (!isTransientFailure(e)) {
          fail(e);
          return;
        }
        log.warning("reading {stream}/{partition} failed ({error}); retrying", { stream: this.stream, partition: this.partition, error: e instanceof Error ? e.message : String(e) });
        await abortableDelay(retryDelayMs(attempt++), signal);
      }
    }
  }

  /** The group's committed offset, else the partition's start or end (settings.start), moved into the retained range. */
  async #startOffset(http: GroupHttp, settings: ReadSettings, signal: AbortSignal): Promise<number> {
    const [committed, ranges] = await Promise.all([http.committed(settings.group, this.stream, signal), http.ranges(this.stream, signal)]);
    const range = ranges.get(this.partition);
    invariant(range !== undefined, `stream ${this.stream} has no partition ${this.partition}`);
    const at = committed.get(this.partition);
    const offset = at === undefined ? (settings.start === "earliest" ? range.start_offset : range.end_offset) : Math.min(Math.max(at, range.start_offset), range.end_offset);
    if (at !== undefined) this.committed = at;
    log.debug("reading {stream}/{partition} from {offset} (committed {committed})", { stream: this.stream, partition: this.partition, offset, committed: at ?? null });
    return offset;
  }
}
