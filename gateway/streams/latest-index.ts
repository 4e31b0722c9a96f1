// The latest record per key of one compacted stream, in memory: built once from the log when the
// gateway opens, then updated by every append, so `GET /v1/streams/{name}/latest` never scans.
// Tombstones (records whose fields are null) stay in the index, invisible to readers, until
// compaction drops them from the log: the compactor asks it which record of a key is the newest.
// A change bumps the version; long-polls wait for the version to move past the one they saw.
import { randomUUID } from "node:crypto";
import { invariant, StrataError } from "../../core/errors.ts";
import { bytesToBase64 } from "../../core/log/json-value.ts";
import type { Fields, Headers } from "../../core/log/record.ts";

/** One key's newest record; `fields` null is a tombstone. */
export interface LatestEntry {
  readonly key: Uint8Array;
  readonly partition: number;
  readonly offset: number;
  readonly timestamp: number;
  readonly headers: Headers;
  readonly fields: Fields | null;
}

/** A live (not tombstoned) entry. */
export type LiveEntry = LatestEntry & { readonly fields: Fields };

/** The map as a reader sees it, with the watermark naming this version of it. */
export interface LatestView {
  readonly watermark: string;
  readonly records: readonly LiveEntry[];
}

/** Whether `a` supersedes `b` (same key): later in the same partition, else later in time. */
export function supersedes(a: Pick<LatestEntry, "partition" | "offset" | "timestamp">, b: Pick<LatestEntry, "partition" | "offset" | "timestamp">): boolean {
  if (a.partition === b.partition) return a.offset > b.offset;
  return a.timestamp > b.timestamp || (a.timestamp === b.timestamp && a.partition > b.partition);
}

/** The map key of a record key. */
export const keyId = (key: Uint8Array): string => bytesToBase64(key);

const isLive = (e: LatestEntry): e is LiveEntry => e.fields !== null;

/** Ready: answers and takes appends. Overfull: built past maxKeys (the limit was lowered): refuses both until keys are removed. */
type IndexState = { kind: "ready" } | { kind: "overfull"; keys: number };

export class LatestIndex {
  private readonly entries = new Map<string, LatestEntry>();
  /** Keys reserved by appends in flight that are not in `entries` yet. */
  private reserved = 0;
  private version = 0;
  /** Names this process's index: a watermark from another process (before a restart) is never current. */
  private readonly instance = randomUUID().slice(0, 8);
  private readonly waiters = new Set<() => void>();
  private state: IndexState = { kind: "ready" };

  constructor(
    readonly stream: string,
    private readonly maxKeys: number,
  ) {}

  get watermark(): string {
    return `${this.instance}.${this.version}`;
  }

  /** Keys held, tombstones included. */
  get size(): number {
    return this.entries.size;
  }

  /** The newest record of `key` (a tombstone included), if any. */
  entry(key: Uint8Array): LatestEntry | undefined {
    return this.entries.get(keyId(key));
  }

  /** Takes a record read from the log or just appended; older ones than the held entry are ignored. */
  apply(record: LatestEntry): void {
    const id = keyId(record.key);
    const held = this.entries.get(id);
    if (held && !supersedes(record, held)) return;
    this.entries.set(id, record);
    // A tombstone of an absent key changes nothing a reader sees.
    if (isLive(record) || (held !== undefined && isLive(held))) this.changed();
  }

  /** Marks the end of the build: an index over its bound refuses reads and new keys. */
  finishBuild(): void {
    invariant(this.reserved === 0, "no append is reserved while the index is built");
    this.state = this.entries.size > this.maxKeys ? { kind: "overfull", keys: this.entries.size } : { kind: "ready" };
  }

  /**
   * Reserves room for the keys of `keys` not yet held (TOO_MANY_KEYS past maxKeys, nothing
   * reserved); the returned count goes back to release() once the append settled.
   */
  reserve(keys: readonly Uint8Array[]): number {
    this.requireReady();
    const fresh = new Set<string>();
    for (const key of keys) {
      const id = keyId(key);
      if (!this.entries.has(id)) fresh.add(id);
    }
    if (this.entries.size + this.reserved + fresh.size > this.maxKeys) {
      throw new StrataError("TOO_MANY_KEYS", `stream '${this.stream}' holds ${this.entries.size} keys; ${fresh.size} more would pass compaction.maxLatestKeys (${this.maxKeys})`);
    }
    this.reserved += fresh.size;
    return fresh.size;
  }

  release(count: number): void {
    invariant(count >= 0 && count <= this.reserved, `releasing ${count} of ${this.reserved} reserved keys`);
    this.reserved -= count;
  }

  /**
   * Compaction removed the tombstone at (partition, offset) from the log: its key goes, unless a
   * newer record of it arrived meanwhile.
   */
  forgetTombstone(key: Uint8Array, partition: number, offset: number): void {
    const id = keyId(key);
    const held = this.entries.get(id);
    if (held && held.fields === null && held.partition === partition && held.offset === offset) {
      this.entries.delete(id);
      if (this.state.kind === "overfull" && this.entries.size <= this.maxKeys) this.state = { kind: "ready" };
    }
  }

  /** The live records (all, or the one of `key`), in (partition, offset) order. */
  view(key?: Uint8Array): LatestView {
    this.requireReady();
    let records: LiveEntry[];
    if (key !== undefined) {
      const held = this.entries.get(keyId(key));
      records = held && isLive(held) ? [held] : [];
    } else {
      records = [...this.entries.values()].filter(isLive).sort((a, b) => a.partition - b.partition || a.offset - b.offset);
    }
    return { watermark: this.watermark, records };
  }

  /**
   * Resolves when the map changed since `watermark` (at once if it already has: another version
   * or another process's watermark), when `ms` passed, or when `signal` aborts.
   */
  waitForChange(watermark: string, ms: number, signal?: AbortSignal): Promise<void> {
    if (watermark !== this.watermark || ms <= 0 || signal?.aborted) return Promise.resolve();
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        signal?.removeEventListener("abort", done);
        this.waiters.delete(done);
        resolve();
      };
      const timer = setTimeout(done, ms);
      signal?.addEventListener("abort", done, { once: true });
      this.waiters.add(done);
    });
  }

  private changed(): void {
    this.version++;
    for (const wake of [...this.waiters]) wake();
  }

  private requireReady(): void {
    if (this.state.kind === "overfull") {
      throw new StrataError("TOO_MANY_KEYS", `stream '${this.stream}' holds ${this.state.keys} keys, more than compaction.maxLatestKeys (${this.maxKeys}): raise the limit`);
    }
  }
}
