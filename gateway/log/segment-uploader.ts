// Uploads one partition's sealed segments to the object store, oldest first, one at a time, and
// retries a failing upload with exponential backoff (the data is safe on local disk meanwhile).
//
//   idle ──kick──▶ uploading ──upload fails──▶ failing(backoff) ──retry succeeds──▶ uploading
//     ▲                │                           │  retry fails: backoff doubles (up to 30 s)
//     └── none left ───┘                           │
//   retrySoon() (a durable append arrived): a backoff wait ends FIRST_BACKOFF_MS after the last
//   failure at the latest, so a store that answers again is used at once, not after up to 30 s
//   stop(): the running upload finishes (a backoff wait ends at once) ──▶ stopped
import { StrataError, invariant } from "../../core/errors.ts";
import { errorText } from "../objects/errno.ts";

export type UploaderState =
  /** Healthy, nothing to upload. */
  | { readonly kind: "idle" }
  /** Healthy: uploading the pending segments. */
  | { readonly kind: "uploading" }
  /** The last upload failed with `error`; the next attempt starts after `backoffMs`. */
  | { readonly kind: "failing"; readonly error: StrataError; readonly backoffMs: number; readonly failedAt: number }
  /** stop() was called; the running attempt (if any) finishes. */
  | { readonly kind: "stopping" }
  | { readonly kind: "stopped" };

export interface SegmentUploaderHooks<S> {
  /** The oldest segment still to upload. */
  next(): S | undefined;
  /** Uploads and commits `segment`; afterwards next() no longer returns it. */
  upload(segment: S): Promise<void>;
  /** Uploading `segment` failed with `cause`; `error` says so to anyone waiting for durability. */
  failing(error: StrataError, cause: unknown, segment: S): void;
  /** Every segment is uploaded and the uploader went idle. */
  drained(): void;
}

const FIRST_BACKOFF_MS = 100;
const MAX_BACKOFF_MS = 30_000;

export class SegmentUploader<S> {
  #state: UploaderState = { kind: "idle" };
  /** The running upload loop (a settled promise when none runs). */
  #loop: Promise<void> = Promise.resolve();
  /** The backoff wait running now: `until` (performance.now()) can be brought forward. */
  #backoff: { readonly wakeIn: (ms: number) => void } | undefined;

  constructor(
    /** Names the partition in errors. */
    private readonly label: string,
    private readonly hooks: SegmentUploaderHooks<S>,
  ) {}

  get state(): UploaderState {
    return this.#state;
  }

  /** Set while uploads are failing: durable appends fail fast instead of queueing. */
  get failure(): StrataError | undefined {
    return this.#state.kind === "failing" ? this.#state.error : undefined;
  }

  /** True while an upload loop runs (uploading or failing). */
  get busy(): boolean {
    return this.#state.kind === "uploading" || this.#state.kind === "failing";
  }

  /** Starts uploading if a segment waits and no loop runs; a running loop picks new segments up itself. */
  kick(): void {
    if (this.#state.kind !== "idle" || this.hooks.next() === undefined) return;
    this.#state = { kind: "uploading" };
    this.#loop = this.#run();
  }

  /**
   * While failing, retries soon instead of at the end of the backoff: at once if the last failure
   * is at least FIRST_BACKOFF_MS old, else then (so a flood of callers costs one attempt per
   * FIRST_BACKOFF_MS). A running attempt is not disturbed.
   */
  retrySoon(): void {
    const s = this.#state;
    if (s.kind !== "failing") return;
    this.#backoff?.wakeIn(Math.max(0, s.failedAt + FIRST_BACKOFF_MS - performance.now()));
  }

  /** Lets the running upload finish (ending a backoff wait at once) and starts no other. */
  async stop(): Promise<void> {
    const s = this.#state;
    if (s.kind === "stopped") return;
    this.#state = { kind: "stopping" };
    this.#backoff?.wakeIn(0);
    await this.#loop;
    this.#state = { kind: "stopped" };
  }

  async #run(): Promise<void> {
    // stop() may change the state during any await: it is read afresh each time.
    for (let segment = this.hooks.next(); segment !== undefined && !this.#stopping(); segment = this.hooks.next()) {
      try {
        await this.hooks.upload(segment);
        invariant(this.hooks.next() !== segment, "an uploaded segment leaves the queue");
        if (this.#state.kind === "failing") this.#state = { kind: "uploading" };
      } catch (e) {
        const s = this.#state;
        if (s.kind === "stopping") break;
        const backoffMs = s.kind === "failing" ? Math.min(s.backoffMs * 2, MAX_BACKOFF_MS) : FIRST_BACKOFF_MS;
        const error = new StrataError(
          "STORAGE_ERROR",
          `${this.label}: segment upload failing (data is safe on local disk, retrying): ${errorText(e)}`,
          { cause: e },
        );
        this.#state = { kind: "failing", error, backoffMs, failedAt: performance.now() };
        this.hooks.failing(error, e, segment);
        await this.#sleep(backoffMs);
      }
    }
    if (this.#stopping()) return;
    invariant(this.#state.kind === "uploading", `the upload loop ends healthy, not ${this.#state.kind}`);
    this.#state = { kind: "idle" };
    // A roll may have queued a segment after the loop's last look.
    if (this.hooks.next() !== undefined) this.kick();
    else this.hooks.drained();
  }

  #stopping(): boolean {
    return this.#state.kind === "stopping";
  }

  /** Waits `ms`, or less if wakeIn() brings the end forward. */
  #sleep(ms: number): Promise<void> {
    return new Promise<void>((resolve) => {
      let until = performance.now() + ms;
      let timer = setTimeout(resolve, ms);
      this.#backoff = {
        wakeIn: (sooner) => {
          if (performance.now() + sooner >= until) return;
          until = performance.now() + sooner;
          clearTimeout(timer);
          timer = setTimeout(resolve, sooner);
        },
      };
    }).finally(() => (this.#backoff = undefined));
  }
}
