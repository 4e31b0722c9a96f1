// Group commit of one partition's WAL: an append that finds no write in flight is written at
// once; appends arriving while a write is in flight queue up and go out together as one group as
// soon as a write slot frees (when the write in flight completes, or, with walWritesInFlight > 1,
// once the queue's oldest append has waited groupCommitMs or groupCommitBytes are queued). So an
// idle WAL adds no latency, and under load each fsync carries everything that arrived during the
// previous one. A group is one durable write (one O_DSYNC writev, wal.ts) of at most
// groupCommitMaxBytes. Groups are acknowledged strictly in order, each only once it and every
// group before it are on disk. The active segment is sealed (rolled) only with no write in
// flight: when it is full, when the next batch does not fit it, or when asked (sealing by age,
// durable appends).
//
//   idle ──enqueue──▶ writing(1) ──last write done──▶ idle | writing(1) (what queued meanwhile)
//     │                 │    ▲ queue due (groupCommitMs, groupCommitBytes), n < walWritesInFlight: writing(n+1)
//     └─── roll due ────┴────┴──▶ rolling ──sealed──▶ (as after a write)
//   a write (or a seal's footer) fails with ENOSPC ──▶ full(draining): every append not yet
//     acknowledged is refused (INSUFFICIENT_STORAGE); once the writes in flight settle (refused
//     too) ──▶ full(resetting): the WAL is cut back to its synced end (hooks.reset)
//     ──▶ full(paused until) ──pause over, next append──▶ idle
//   any other write or roll error, or a failed reset ──▶ failed (final: the WAL file is in an unknown state)
//   close(): queued groups are written at once, then idle ──▶ closed
import { StrataError, invariant } from "../../core/errors.ts";
import type { BatchHeader } from "../../core/log/batch.ts";
import type { ProducerRef } from "../../core/log/record.ts";
import { errnoCode, errorText } from "../objects/errno.ts";
import type { StorageLimits } from "./storage-limits.ts";
import type { AppendedBatch, WalFile } from "./wal.ts";

export interface QueuedAppend {
  readonly batch: AppendedBatch;
  readonly header: BatchHeader;
  readonly producer: ProducerRef | null;
}

export type GroupCommitState =
  /** Nothing queued, nothing being written. */
  | { readonly kind: "idle" }
  /**
   * `inFlight` groups being written. `rollWanted`: seal once they are done, before writing more.
   * `lingerUntil`: with a write slot free, the queue's next group is written then at the latest
   * (undefined: nothing queued, or no slot is free and it waits for a write to finish).
   */
  | { readonly kind: "writing"; readonly inFlight: number; readonly rollWanted: boolean; readonly lingerUntil: number | undefined }
  /** Sealing the active WAL and creating the next; appends queue meanwhile. */
  | { readonly kind: "rolling" }
  /**
   * A write found the disk full: every append not yet acknowledged was (or, for writes still in
   * flight, will be) refused with `error`. `draining`: writes in flight, then the reset; `paused`:
   * the WAL is back at its synced end and appends are refused until `until` (performance.now()).
   */
  | { readonly kind: "full"; readonly error: StrataError; readonly phase: FullDiskPhase }
  /** A write or a roll failed: every append not yet acknowledged was rejected with `error`, and all later ones are. */
  | { readonly kind: "failed"; readonly error: StrataError }
  /** close() finished: everything queued was written. */
  | { readonly kind: "closed" };

/** Where recovery from a full disk stands (see GroupCommitState "full"). */
export type FullDiskPhase =
  /** `inFlight` writes issued after the failed one have yet to settle (each is refused). */
  | { readonly kind: "draining"; readonly inFlight: number }
  /** hooks.reset runs: the WAL is being cut back to its synced end. */
  | { readonly kind: "resetting" }
  /** Appends are refused until `until` (performance.now()); the next one after it is tried. */
  | { readonly kind: "paused"; readonly until: number };

export interface GroupCommitHooks {
  /** The active WAL; changes at each roll. */
  wal(): WalFile;
  /** Seals the active (non-empty) WAL and installs the next one. Runs with no write in flight. */
  roll(): Promise<void>;
  /** A group is on disk, and so is every group before it; `position` is its first byte in the WAL. Its appends resolve next. */
  synced(group: readonly QueuedAppend[], position: number, seconds: number): void;
  /** The WAL failed (once): `error` is what every unacknowledged append is rejected with. */
  failed(error: StrataError, cause: unknown): void;
  /**
   * The disk was full: every write not acknowledged was refused with `error`, none is in flight.
   * Cut the WAL back to its synced end and forget what was handed out past it. A failure here is
   * final. Without this hook a full disk is final like any other write error.
   */
  reset?(error: StrataError, cause: unknown): Promise<void>;
}

/** How long appends are refused after the disk was found full, before the next one tries again. */
export const FULL_DISK_PAUSE_MS = 1_000;

interface Queued extends QueuedAppend {
  readonly enqueuedAt: number;
  readonly resolve: () => void;
  readonly reject: (error: unknown) => void;
}

export class GroupCommit {
  #state: GroupCommitState = { kind: "idle" };
  #queue: Queued[] = [];
  /** Bytes in the queue (not yet handed to a write). */
  #queuedBytes = 0;
  /** Bytes accepted and not yet synced: queued or being written. */
  #unsyncedBytes = 0;
  /** Settles (never rejects) once the newest write is acknowledged or failed; the next write's acknowledgement waits for it. */
  #lastAck: Promise<void> = Promise.resolve();
  /** Wakes the queue when its linger time is up. */
  #timer: { readonly at: number; readonly handle: ReturnType<typeof setTimeout> } | undefined;
  #lingerMs: number;
  readonly #watchers: Array<{ readonly until: (s: GroupCommitState) => boolean; readonly resolve: () => void }> = [];

  constructor(
    private readonly limits: StorageLimits,
    /** Names the partition in errors. */
    private readonly label: string,
    private readonly hooks: GroupCommitHooks,
  ) {
    this.#lingerMs = limits.groupCommitMs;
  }

  get state(): GroupCommitState {
    return this.#state;
  }

  /** Bytes accepted and not yet synced (queued or being written). */
  get unsyncedBytes(): number {
    return this.#unsyncedBytes;
  }

  /** The error every append is refused with once the WAL failed. */
  get failure(): StrataError | undefined {
    return this.#state.kind === "failed" ? this.#state.error : undefined;
  }

  /**
   * Why an append is refused now: the WAL failed, or the disk was full and the pause is not over.
   * Once it is, the group commit goes back to idle and the next append is tried. Callers check
   * this before giving an append its offsets.
   */
  refusal(): StrataError | undefined {
    const s = this.#state;
    if (s.kind === "failed") return s.error;
    if (s.kind !== "full") return undefined;
    if (s.phase.kind === "paused" && performance.now() >= s.phase.until) {
      this.#to({ kind: "idle" });
      return undefined;
    }
    return s.error;
  }

  /** Queues one encoded batch; resolves once it and everything before it are synced. */
  enqueue(append: QueuedAppend): Promise<void> {
    const refused = this.refusal();
    if (refused) return Promise.reject(refused);
    const s = this.#state;
    invariant(s.kind !== "closed", "no appends after close");
    const synced = new Promise<void>((resolve, reject) => {
      this.#queue.push({ ...append, enqueuedAt: performance.now(), resolve, reject });
    });
    const size = append.batch.bytes.length;
    this.#queuedBytes += size;
    this.#unsyncedBytes += size;
    this.#pump();
    return synced;
  }

  /** Seals the active segment at the next moment with no write in flight (if it holds data then). */
  requestRoll(): void {
    const s = this.#state;
    switch (s.kind) {
      case "idle":
        if (!this.hooks.wal().isEmpty) this.#startRoll();
        return;
      case "writing":
        if (!s.rollWanted) this.#to({ ...s, rollWanted: true });
        return;
      case "rolling": // just sealed: whoever asked sees the new segment
      case "full":
      case "failed":
      case "closed":
        return;
    }
  }

  /** Writes what is queued without lingering, waits for every write, and accepts nothing more. */
  async close(): Promise<void> {
    this.#lingerMs = 0;
    this.#pump();
    await this.#until((s) => s.kind === "idle" || s.kind === "failed" || s.kind === "closed" || (s.kind === "full" && s.phase.kind === "paused"));
    await this.#lastAck; // a failed WAL's writes still in flight settle too
    const s = this.#state;
    if (s.kind === "idle" || s.kind === "full") this.#to({ kind: "closed" });
  }

  #pump(): void {
    const s = this.#state;
    if (s.kind === "idle") this.#advance(0, false);
    else if (s.kind === "writing") this.#advance(s.inFlight, s.rollWanted);
  }

  /** From a moment with `inFlight` writes running, decides what comes next: roll, write, linger (only beside a write in flight) or rest. */
  #advance(inFlight: number, rollWanted: boolean): void {
    const { segmentBytes, walWritesInFlight } = this.limits;
    for (;;) {
      const wal = this.hooks.wal();
      const head = this.#queue[0];
      const room = segmentBytes - wal.issuedSize;
      const headFits = head === undefined || wal.issuedSize === 0 || head.batch.bytes.length <= room;
      if (inFlight === 0 && !wal.isEmpty && (rollWanted || room <= 0 || !headFits)) {
        this.#startRoll();
        return;
      }
      if (head === undefined) {
        this.#to(inFlight === 0 ? { kind: "idle" } : { kind: "writing", inFlight, rollWanted, lingerUntil: undefined });
        return;
      }
      if (inFlight >= walWritesInFlight || rollWanted || !headFits) {
        // A write finishing comes back here.
        this.#to({ kind: "writing", inFlight, rollWanted, lingerUntil: undefined });
        return;
      }
      // Nothing in flight: write at once (waiting would only add latency, no write is there to
      // share). Beside a write in flight, wait for it (its completion comes back here) up to
      // groupCommitMs, so the next fsync carries what arrives meanwhile.
      const until = inFlight === 0 || this.#queuedBytes >= this.limits.groupCommitBytes ? 0 : head.enqueuedAt + this.#lingerMs;
      if (until > performance.now()) {
        this.#to({ kind: "writing", inFlight, rollWanted, lingerUntil: until });
        return;
      }
      this.#startWrite(inFlight, this.#takeGroup(Math.max(room, 0)));
      inFlight++;
    }
  }

  /** Takes the oldest queued appends: at least one, then up to groupCommitMaxBytes and `room` bytes. */
  #takeGroup(room: number): Queued[] {
    const max = Math.min(this.limits.groupCommitMaxBytes, room);
    let n = 1;
    let bytes = this.#queue[0]!.batch.bytes.length;
    while (n < this.#queue.length && bytes + this.#queue[n]!.batch.bytes.length <= max) {
      bytes += this.#queue[n]!.batch.bytes.length;
      n++;
    }
    this.#queuedBytes -= bytes;
    return this.#queue.splice(0, n);
  }

  /** Writes one group durably; it is acknowledged once it and every earlier group are on disk. */
  #startWrite(inFlight: number, group: Queued[]): void {
    const wal = this.hooks.wal();
    const batches = group.map((q) => q.batch);
    const position = wal.issuedSize;
    const started = performance.now();
    let written: Promise<void>;
    try {
      written = wal.write(batches);
    } catch (e) {
      written = Promise.reject(e); // failed before any byte was written: handled like a failed write
    }
    const previous = this.#lastAck;
    this.#to({ kind: "writing", inFlight: inFlight + 1, rollWanted: false, lingerUntil: undefined });
    this.#lastAck = (async () => {
      // Both settle before anything is decided: no rejection is left unobserved.
      const [own] = await Promise.allSettled([written, previous]);
      try {
        this.#written(group, own, wal, position, started);
      } catch (e) {
        this.#fail(e); // a broken invariant: nothing more is written
      }
    })();
  }

  /** A write settled, after every earlier one: acknowledge its group or fail the WAL. */
  #written(group: readonly Queued[], result: PromiseSettledResult<void>, wal: WalFile, position: number, started: number): void {
    const s = this.#state;
    if (s.kind === "full" && s.phase.kind === "draining") {
      // Synced or not, it follows the write that found the disk full: refused, and cut by the reset.
      this.#refuse(group, s.error);
      this.#drained(s.error, s.phase.inFlight - 1, undefined);
      return;
    }
    if (s.kind !== "writing") {
      // Synced or not, it follows a failed write.
      const error = this.#fail(new StrataError("INTERNAL", `invariant violated: a write completed in state ${s.kind}`));
      for (const q of group) q.reject(error);
      return;
    }
    if (result.status === "rejected" && errnoCode(result.reason) === "ENOSPC" && this.hooks.reset) {
      this.#diskFull(group, s.inFlight - 1, result.reason);
      return;
    }
    try {
      if (result.status === "rejected") throw result.reason;
      wal.commit(group.map((q) => q.batch));
      for (const q of group) this.#unsyncedBytes -= q.batch.bytes.length;
      this.hooks.synced(group, position, (performance.now() - started) / 1000);
    } catch (e) {
      const error = this.#fail(e);
      for (const q of group) q.reject(error);
      return;
    }
    for (const q of group) q.resolve();
    this.#advance(s.inFlight - 1, s.rollWanted);
  }

  #startRoll(): void {
    this.#to({ kind: "rolling" });
    this.hooks.roll().then(
      () => {
        if (this.#state.kind === "rolling") this.#advance(0, false);
      },
      (e: unknown) => {
        // Sealing found the disk full (its footer did not fit): recoverable like a write, if the
        // reset can cut the footer off the still open WAL; if the WAL was already closed, it fails.
        const s = this.#state;
        if (errnoCode(e) === "ENOSPC" && this.hooks.reset && s.kind === "rolling") this.#diskFull([], 0, e);
        else this.#fail(e);
      },
    );
  }

  /**
   * A write found the disk full. Unlike other errors this one is recoverable: nothing from this
   * group on was acknowledged, so it is all refused and cut from the WAL, and appends resume
   * after a short pause (they find the disk full again, or space freed).
   */
  #diskFull(group: readonly Queued[], inFlight: number, cause: unknown): void {
    const error = new StrataError(
      "INSUFFICIENT_STORAGE",
      `${this.label}: disk full, append refused (nothing of it is acknowledged); appends are retried once space is freed: ${errorText(cause)}`,
      { cause },
    );
    this.#refuse(group, error);
    this.#refuse(this.#queue.splice(0), error);
    this.#queuedBytes = 0;
    this.#drained(error, inFlight, cause);
  }

  /** Rejects appends that will never be acknowledged; their bytes are no longer pending. */
  #refuse(appends: readonly Queued[], error: StrataError): void {
    for (const q of appends) {
      this.#unsyncedBytes -= q.batch.bytes.length;
      q.reject(error);
    }
  }

  /** Full disk: waits for `inFlight` writes, then resets the WAL and pauses. `cause` is the write error (undefined for later writes). */
  #drained(error: StrataError, inFlight: number, cause: unknown): void {
    if (inFlight > 0) {
      this.#to({ kind: "full", error, phase: { kind: "draining", inFlight } });
      return;
    }
    this.#to({ kind: "full", error, phase: { kind: "resetting" } });
    const reset = this.hooks.reset;
    invariant(reset !== undefined, "a full disk is recoverable only with a reset hook");
    reset(error, cause ?? error.cause).then(
      () => {
        const s = this.#state;
        if (s.kind === "full" && s.phase.kind === "resetting") {
          this.#to({ kind: "full", error, phase: { kind: "paused", until: performance.now() + FULL_DISK_PAUSE_MS } });
        }
      },
      (e: unknown) => {
        this.#fail(e);
      },
    );
  }

  /** Marks the WAL failed: a write or fsync error leaves the file in an unknown state. */
  #fail(cause: unknown): StrataError {
    if (this.#state.kind === "failed") return this.#state.error;
    const error = new StrataError(
      "STORAGE_ERROR",
      `${this.label}: WAL write failed, partition read-only until restart: ${errorText(cause)}`,
      { cause },
    );
    const queued = this.#queue.splice(0);
    this.#queuedBytes = 0;
    this.#to({ kind: "failed", error });
    for (const q of queued) q.reject(error);
    this.hooks.failed(error, cause);
    return error;
  }

  #to(next: GroupCommitState): void {
    this.#state = next;
    this.#assertInvariants();
    const wakeAt = next.kind === "writing" ? next.lingerUntil : undefined;
    if (this.#timer && this.#timer.at !== wakeAt) {
      clearTimeout(this.#timer.handle);
      this.#timer = undefined;
    }
    if (wakeAt !== undefined && !this.#timer) {
      const handle = setTimeout(() => {
        this.#timer = undefined;
        this.#pump();
      }, Math.max(0, wakeAt - performance.now()));
      this.#timer = { at: wakeAt, handle };
    }
    for (let i = this.#watchers.length - 1; i >= 0; i--) {
      const w = this.#watchers[i]!;
      if (w.until(next)) {
        this.#watchers.splice(i, 1);
        w.resolve();
      }
    }
  }

  #until(until: (s: GroupCommitState) => boolean): Promise<void> {
    if (until(this.#state)) return Promise.resolve();
    return new Promise((resolve) => this.#watchers.push({ until, resolve }));
  }

  #assertInvariants(): void {
    const s = this.#state;
    const queued = this.#queue.length;
    invariant(this.#queuedBytes >= 0 && this.#unsyncedBytes >= this.#queuedBytes, "0 <= queued bytes <= unsynced bytes");
    invariant((queued === 0) === (this.#queuedBytes === 0), "queued bytes match the queue");
    switch (s.kind) {
      case "idle":
        invariant(queued === 0, "idle with nothing queued");
        break;
      case "writing":
        invariant(s.inFlight >= 1 && s.inFlight <= this.limits.walWritesInFlight, `1 <= ${s.inFlight} writes in flight <= walWritesInFlight`);
        invariant(s.lingerUntil === undefined || queued > 0, "lingers only for queued appends");
        invariant(s.lingerUntil === undefined || s.inFlight < this.limits.walWritesInFlight, "lingers only with a write slot free");
        break;
      case "failed":
      case "closed":
        invariant(queued === 0, `${s.kind} with nothing queued`);
        break;
      case "full":
        invariant(queued === 0, "full with nothing queued");
        invariant(s.phase.kind !== "draining" || (s.phase.inFlight >= 1 && s.phase.inFlight <= this.limits.walWritesInFlight), "draining writes in flight");
        invariant(s.phase.kind === "draining" || this.#unsyncedBytes === 0, "nothing pending once the writes in flight are refused");
        break;
      case "rolling":
        break;
    }
  }
}
