// The intake of cluster mode (docs/cluster.md): one per LogStore. Partition leaders hand it their
// synced group commits, in offset order; it packs the batches of many partitions into one intake
// object, records its key (several keys ahead per statement), PUTs it, then commits one range row
// per partition per object, each conditioned on the partition's lease. Only then are the records acknowledged and readable: the
// object store holds them, so the loss of this gateway loses nothing acknowledged.
//
// An object moves   registering ──▶ putting ──▶ put ──(its turn)──▶ committing ──▶ done
// (each step retried with backoff while the metadata database or the object store fails). Objects
// are PUT concurrently (at most maxPutsInFlight) but commit strictly in PUT order (the objects
// ready at the head commit together, in one write batch), so a partition's
// ranges commit in offset order and the committed ranges of a partition never have a gap: a range
// that did not insert (fenced) fails its partition's waiters with LEASE_LOST, and every later range
// of that partition fails the same check.
//
// Batching: an idle writer (no PUT in flight) PUTs at once; while PUTs are in flight submissions
// wait up to lingerMs or until maxObjectBytes are queued. Bytes admitted (from an append's
// admission until its commit or failure) are bounded by maxPendingBytes: admit() past it is
// UNAVAILABLE, before anything was written.
//
// The writer:  open ──close()──▶ closing (queued objects still go out; after the deadline they fail) ──▶ closed
import { getLogger } from "@logtape/logtape";
import { StrataError, invariant } from "../../core/errors.ts";
import type { MetadataDb } from "../db/database.ts";
import type { GatewayMetrics } from "../metrics.ts";
import type { ObjectStore } from "../objects/object-store.ts";
import { errorText } from "../objects/errno.ts";
import { SingleFlight } from "../../core/util/single-flight.ts";
import { commitIntakeRanges, registerIntakeObjects, type IntakeRange } from "./intake-catalog.ts";
import type { IntakeLimits } from "./intake-limits.ts";

const log = getLogger(["strata", "log", "intake"]);

/** The synced batches of one partition's group commit, contiguous offsets [baseOffset, endOffset). */
export interface IntakeSubmission {
  readonly stream: string;
  readonly partition: number;
  readonly epoch: number;
  readonly baseOffset: number;
  readonly endOffset: number;
  readonly batches: readonly Uint8Array[];
  /** Sum of the batches' lengths: what was admitted for them. */
  readonly bytes: number;
}

interface Pending extends IntakeSubmission {
  readonly resolve: () => void;
  readonly reject: (error: unknown) => void;
}

type ObjectStep =
  | { readonly kind: "registering" }
  | { readonly kind: "putting" }
  | { readonly kind: "put" }
  | { readonly kind: "committing" }
  | { readonly kind: "done" };

interface IntakeObject {
  readonly seq: number;
  readonly key: string;
  readonly body: Uint8Array;
  readonly ranges: readonly IntakeRange[];
  /** The submissions of each range (same index). */
  readonly members: readonly (readonly Pending[])[];
  step: ObjectStep;
  readonly createdAt: number;
}

export type IntakeDependency = "metadata" | "objects";

type WriterState =
  | { readonly kind: "open" }
  | { readonly kind: "closing"; readonly deadline: number }
  | { readonly kind: "closed" };

export interface IntakeWriterConfig {
  readonly db: MetadataDb;
  readonly store: ObjectStore;
  readonly node: string;
  readonly incarnation: number;
  readonly limits: IntakeLimits;
  readonly metrics: GatewayMetrics;
}

const FIRST_BACKOFF_MS = 20;
const MAX_BACKOFF_MS = 2_000;
/** Intake object keys recorded ahead of their PUTs in one statement. */
const REGISTER_AHEAD = 16;
/** Most intake objects whose ranges commit in one write batch. */
const OBJECTS_PER_COMMIT = 32;

export class IntakeWriter {
  #state: WriterState = { kind: "open" };
  #queue: Pending[] = [];
  #queuedBytes = 0;
  /** When the oldest queued submission arrived (performance.now()). */
  #queuedSince = 0;
  /** Objects past the queue and not yet done, in PUT (= commit) order. */
  readonly #objects: IntakeObject[] = [];
  #putsInFlight = 0;
  #committing = false;
  #nextSeq = 0;
  /** Keys of sequence numbers below this are recorded in intake_objects. */
  #registeredBelow = 0;
  readonly #registration = new SingleFlight<"next", void>();
  /** Bytes admitted and not yet committed or failed. */
  #pendingBytes = 0;
  #lingerTimer: ReturnType<typeof setTimeout> | undefined;
  /** What the newest failed step depended on, until a step succeeds again. */
  #stalledBy: IntakeDependency | undefined;
  readonly #drained = new Set<() => void>();
  /** Counters for tests and the bench. */
  readonly stats = { puts: 0, bytes: 0, commits: 0, registerMs: 0, putMs: 0, commitMs: 0, fenced: 0, retries: 0 };

  constructor(private readonly config: IntakeWriterConfig) {}

  /** What the intake is waiting for while its steps fail ("metadata": the database, "objects": the object store), else undefined. */
  get stalledBy(): IntakeDependency | undefined {
    return this.#stalledBy;
  }

  get pendingBytes(): number {
    return this.#pendingBytes;
  }

  /** Reserves room for `bytes` about to be appended; UNAVAILABLE past maxPendingBytes or once closing. */
  admit(bytes: number): void {
    if (this.#state.kind !== "open") throw new StrataError("UNAVAILABLE", "the intake is closing");
    if (this.#pendingBytes + bytes > this.config.limits.maxPendingBytes) {
      throw new StrataError("UNAVAILABLE", `${this.#pendingBytes} bytes are waiting for the intake (limit ${this.config.limits.maxPendingBytes}); retry`);
    }
    this.#pendingBytes += bytes;
  }

  /** Gives back what admit() reserved for an append that was refused before it was synced. */
  release(bytes: number): void {
    this.#pendingBytes -= bytes;
    invariant(this.#pendingBytes >= 0, "intake pending bytes are not negative");
  }

  /**
   * Hands over one partition's synced group (admitted before). Resolves once its range is
   * committed; rejects with LEASE_LOST when the lease was gone, UNAVAILABLE if the writer closed first.
   */
  submit(s: IntakeSubmission): Promise<void> {
    invariant(s.endOffset > s.baseOffset && s.batches.length > 0, "an intake submission holds records");
    if (this.#state.kind === "closed") {
      this.release(s.bytes);
      return Promise.reject(new StrataError("UNAVAILABLE", "the intake is closed"));
    }
    return new Promise<void>((resolve, reject) => {
      if (this.#queue.length === 0) this.#queuedSince = performance.now();
      this.#queue.push({ ...s, resolve, reject });
      this.#queuedBytes += s.bytes;
      this.#schedule();
    });
  }

  /** Sends what is queued, waits (until `timeoutMs`) for every object to commit, then fails what is left. */
  async close(timeoutMs: number): Promise<void> {
    if (this.#state.kind !== "open") return;
    this.#state = { kind: "closing", deadline: performance.now() + timeoutMs };
    this.#schedule();
    if (!this.#idle()) {
      await new Promise<void>((resolve) => {
        const timer = setTimeout(() => {
          this.#drained.delete(done);
          resolve();
        }, timeoutMs);
        const done = (): void => {
          clearTimeout(timer);
          resolve();
        };
        this.#drained.add(done);
      });
    }
    this.#state = { kind: "closed" };
    if (this.#lingerTimer) clearTimeout(this.#lingerTimer);
    const closed = new StrataError("UNAVAILABLE", "the intake closed before these records were committed");
    for (const p of this.#queue.splice(0)) this.#fail(p, closed);
    this.#queuedBytes = 0;
    for (const o of this.#objects.splice(0)) for (const ms of o.members) for (const p of ms) this.#fail(p, closed);
  }

  #idle(): boolean {
    return this.#queue.length === 0 && this.#objects.length === 0;
  }

  #schedule(): void {
    if (this.#state.kind === "closed") return;
    while (this.#queue.length > 0 && this.#putsInFlight < this.config.limits.maxPutsInFlight) {
      const due =
        this.#putsInFlight === 0
        || this.#state.kind === "closing"
        || this.#queuedBytes >= this.config.limits.maxObjectBytes
        || performance.now() - this.#queuedSince >= this.config.limits.lingerMs;
      if (!due) {
        this.#lingerTimer ??= setTimeout(() => {
          this.#lingerTimer = undefined;
          this.#schedule();
        }, Math.max(0, this.#queuedSince + this.config.limits.lingerMs - performance.now()));
        return;
      }
      void this.#send(this.#takeObject());
    }
  }

  /** Takes queued submissions (at least one, at most maxObjectBytes) into the next object. */
  #takeObject(): IntakeObject {
    const taken: Pending[] = [];
    let bytes = 0;
    while (this.#queue.length > 0 && (taken.length === 0 || bytes + this.#queue[0]!.bytes <= this.config.limits.maxObjectBytes)) {
      const p = this.#queue.shift()!;
      taken.push(p);
      bytes += p.bytes;
    }
    this.#queuedBytes -= bytes;
    if (this.#queue.length > 0) this.#queuedSince = performance.now();
    // One range per partition (and epoch): its submissions are contiguous and laid out together.
    const groups = new Map<string, Pending[]>();
    for (const p of taken) {
      const id = `${p.stream}\0${p.partition}\0${p.epoch}`;
      const g = groups.get(id);
      if (g) {
        invariant(g.at(-1)!.endOffset === p.baseOffset, "a partition's intake submissions are contiguous");
        g.push(p);
      } else groups.set(id, [p]);
    }
    const seq = this.#nextSeq++;
    const key = this.#key(seq);
    const body = new Uint8Array(bytes);
    const ranges: IntakeRange[] = [];
    const members: Pending[][] = [];
    let position = 0;
    for (const g of groups.values()) {
      const start = position;
      for (const p of g) for (const b of p.batches) {
        body.set(b, position);
        position += b.length;
      }
      const first = g[0]!;
      ranges.push({
        stream: first.stream,
        partition: first.partition,
        baseOffset: first.baseOffset,
        endOffset: g.at(-1)!.endOffset,
        objectKey: key,
        position: start,
        length: position - start,
        epoch: first.epoch,
      });
      members.push(g);
    }
    invariant(position === bytes, "an intake object holds exactly its submissions' bytes");
    const object: IntakeObject = { seq, key, body, ranges, members, step: { kind: "registering" }, createdAt: performance.now() };
    this.#objects.push(object);
    return object;
  }

  async #send(o: IntakeObject): Promise<void> {
    this.#putsInFlight++;
    try {
      const registering = performance.now();
      while (o.seq >= this.#registeredBelow) {
        await this.#retry("metadata", `recording intake object ${o.key}`, () => this.#registration.run("next", () => this.#registerAhead(o.seq)));
      }
      o.step = { kind: "putting" };
      const putting = performance.now();
      this.stats.registerMs += putting - registering;
      await this.#retry("objects", `PUT of intake object ${o.key}`, () => this.config.store.put(o.key, o.body));
      if (o.step.kind !== "putting") return; // the writer closed meanwhile
      o.step = { kind: "put" };
      this.stats.puts++;
      this.stats.putMs += performance.now() - putting;
      this.stats.bytes += o.body.length;
      this.config.metrics.intakePuts.inc();
      this.config.metrics.intakeBytes.inc({}, o.body.length);
    } catch {
      return; // closed: close() failed its members
    } finally {
      this.#putsInFlight--;
      this.#schedule();
    }
    void this.#commitInOrder();
  }

  /**
   * Commits the oldest objects whose PUT is done, in PUT order: every such object at the head goes
   * into one write batch (one round trip for many objects under load), the next batch only after it.
   */
  async #commitInOrder(): Promise<void> {
    if (this.#committing) return;
    this.#committing = true;
    try {
      for (;;) {
        const ready: IntakeObject[] = [];
        for (const o of this.#objects) {
          if (o.step.kind !== "put" || ready.length >= OBJECTS_PER_COMMIT) break;
          ready.push(o);
        }
        if (ready.length === 0) break;
        for (const o of ready) o.step = { kind: "committing" };
        const ranges = ready.flatMap((o) => o.ranges);
        const started = performance.now();
        let committed: boolean[];
        try {
          committed = await this.#retry("metadata", `commit of intake objects ${ready[0]!.key}..${ready.at(-1)!.key}`, () => commitIntakeRanges(this.config.db, this.config.node, ranges, new Map(ready.map((o) => [o.key, o.body.length]))));
        } catch {
          return; // closed
        }
        // close() gave up on these objects meanwhile (their appends failed UNAVAILABLE; the commit stands).
        if (this.#state.kind === "closed") return;
        invariant(this.#objects.slice(0, ready.length).every((o, i) => o === ready[i]), "intake objects commit in PUT order");
        this.#objects.splice(0, ready.length);
        this.stats.commits++;
        this.stats.commitMs += performance.now() - started;
        let at = 0;
        for (const o of ready) {
          o.step = { kind: "done" };
          this.config.metrics.intakeCommitSeconds.observe((performance.now() - o.createdAt) / 1000);
          o.ranges.forEach((r, i) => this.#settle(r, o.members[i]!, committed[at + i]!));
          at += o.ranges.length;
        }
      }
    } finally {
      this.#committing = false;
    }
    if (this.#idle()) for (const done of [...this.#drained]) done();
  }

  #settle(r: IntakeRange, members: readonly Pending[], committed: boolean): void {
    if (committed) {
      for (const p of members) {
        this.release(p.bytes);
        p.resolve();
      }
      return;
    }
    this.stats.fenced++;
    this.config.metrics.intakeFencedRanges.inc();
    const lost = new StrataError("LEASE_LOST", `partition ${r.partition} of ${r.stream}: lease epoch ${r.epoch} is gone; records from offset ${r.baseOffset} were not committed`);
    for (const p of members) this.#fail(p, lost);
  }

  /** Records the keys of the next REGISTER_AHEAD objects from `seq` (one statement). */
  async #registerAhead(seq: number): Promise<void> {
    const from = Math.max(seq, this.#registeredBelow);
    const keys = Array.from({ length: REGISTER_AHEAD }, (_, i) => this.#key(from + i));
    await registerIntakeObjects(this.config.db, keys, this.config.node);
    this.#registeredBelow = Math.max(this.#registeredBelow, from + REGISTER_AHEAD);
  }

  #key(seq: number): string {
    return `intake/${this.config.node}/${this.config.incarnation}/${seq.toString(16).padStart(16, "0")}`;
  }

  #fail(p: Pending, error: unknown): void {
    this.release(p.bytes);
    p.reject(error);
  }

  /** Runs `fn` until it succeeds, with backoff; throws only once the writer is closed (or its closing deadline passed). */
  async #retry<T>(dependency: IntakeDependency, what: string, fn: () => Promise<T>): Promise<T> {
    let backoff = FIRST_BACKOFF_MS;
    for (;;) {
      try {
        const result = await fn();
        if (this.#stalledBy === dependency) this.#stalledBy = undefined;
        return result;
      } catch (e) {
        this.#stalledBy = dependency;
        const s = this.#state;
        if (s.kind === "closed" || (s.kind === "closing" && performance.now() > s.deadline)) throw e;
        this.stats.retries++;
        log.warn("{what} failed, retrying in {backoff} ms: {error}", { what, backoff, error: errorText(e) });
        await new Promise((r) => setTimeout(r, backoff));
        backoff = Math.min(MAX_BACKOFF_MS, backoff * 2);
      }
    }
  }
}
