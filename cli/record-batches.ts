// Cuts a run of records into requests: at most `maxRecords` records, `maxBytes` encoded bytes
// (the receiver's batch limit) and `maxTextBytes` of JSON text (its request body limit) each.
// A batch is handed out as soon as it is full, so `--batch 1` sends every line as it is typed.
import { invariant } from "../core/errors.ts";

export interface BatchBounds {
  readonly maxRecords: number;
  readonly maxBytes: number;
  readonly maxTextBytes: number;
}

export interface Batch<T> {
  /** Line number of the first record: where to resume if this batch is not acknowledged. */
  readonly firstLine: number;
  readonly items: readonly T[];
  readonly bytes: number;
  readonly textBytes: number;
}

type BatcherState<T> = { readonly kind: "empty" } | { readonly kind: "filling"; readonly firstLine: number; readonly items: T[]; bytes: number; textBytes: number };

export class RecordBatcher<T> {
  #state: BatcherState<T> = { kind: "empty" };
  readonly #bounds: BatchBounds;

  constructor(bounds: BatchBounds) {
    invariant(bounds.maxRecords >= 1 && bounds.maxBytes >= 1 && bounds.maxTextBytes >= 1, "batch bounds must be positive");
    this.#bounds = bounds;
  }

  /** Adds one record; returns the batches that are complete now (the one it did not fit in, then its own if full). */
  add(item: T, line: number, bytes: number, textBytes: number): Batch<T>[] {
    invariant(bytes <= this.#bounds.maxBytes, `a record of ${bytes} bytes cannot fit a batch of ${this.#bounds.maxBytes}`);
    const ready: Batch<T>[] = [];
    const s = this.#state;
    if (s.kind === "filling" && (s.bytes + bytes > this.#bounds.maxBytes || s.textBytes + textBytes > this.#bounds.maxTextBytes)) ready.push(...this.take());
    const t = this.#state;
    if (t.kind === "empty") {
      this.#state = { kind: "filling", firstLine: line, items: [item], bytes, textBytes };
    } else {
      t.items.push(item);
      t.bytes += bytes;
      t.textBytes += textBytes;
    }
    this.#check();
    const u = this.#state;
    if (u.kind === "filling" && u.items.length === this.#bounds.maxRecords) ready.push(...this.take());
    return ready;
  }

  /** The batch being filled, if any; the batcher is empty afterwards. */
  take(): Batch<T>[] {
    const s = this.#state;
    if (s.kind === "empty") return [];
    this.#state = { kind: "empty" };
    return [{ firstLine: s.firstLine, items: s.items, bytes: s.bytes, textBytes: s.textBytes }];
  }

  #check(): void {
    const s = this.#state;
    if (s.kind === "empty") return;
    invariant(s.items.length >= 1 && s.items.length <= this.#bounds.maxRecords, "a batch holds 1..maxRecords records");
    // A single record may pass the text bound (the receiver then judges it); more than one may not.
    invariant(s.bytes <= this.#bounds.maxBytes, "a batch stays within maxBytes");
    invariant(s.items.length === 1 || s.textBytes <= this.#bounds.maxTextBytes, "a batch of several records stays within maxTextBytes");
  }
}
