// A file-descriptor budget for the WAL files of every partition of a gateway. Every partition
// keeps an active WAL "open", but with tens of thousands of partitions their descriptors would
// exceed `ulimit -n` (EMFILE). FdBudgetIo wraps a WalIo: each handle it returns is a lazy handle
// that owns a real descriptor only while one is available. Idle handles (no operation running)
// are closed least recently used first once more than `capacity` descriptors are open, and
// reopened transparently on their next operation.
//
// Reopening keeps every WAL guarantee: WAL writes are positional and O_DSYNC (nothing is buffered
// in a descriptor: a write is durable when it returns), so closing an idle descriptor loses
// nothing, and a reopen finds the same file (a WAL file is renamed or removed only after its owner
// closed it). The reopen drops O_CREAT, O_EXCL and O_TRUNC, which only mean something the first
// time. The budget is soft: a descriptor in use is never closed under its operation, so when every
// open handle is busy a new one is opened anyway and the excess is closed as operations finish.
import { constants } from "node:fs";
import { getLogger } from "@logtape/logtape";
import { invariant } from "../../core/errors.ts";
import type { WalFileHandle, WalIo } from "./wal-io.ts";

const log = getLogger(["strata", "log"]);

/** Flags that only apply to the first open of a file. */
const FIRST_OPEN_ONLY = constants.O_CREAT | constants.O_EXCL | constants.O_TRUNC;

type HandleState =
  | { readonly kind: "open"; readonly fh: WalFileHandle; leases: number }
  | { readonly kind: "opening"; readonly done: Promise<void> }
  | { readonly kind: "evicting"; readonly done: Promise<void> }
  | { readonly kind: "evicted" }
  | { readonly kind: "closed" };

export class FdBudgetIo implements WalIo {
  /** Descriptors held or being opened or closed by this budget's handles. */
  #descriptors = 0;
  /** Open handles with no operation running, least recently used first (Map order). */
  readonly #idle = new Map<LazyHandle, true>();
  #reopens = 0;

  constructor(
    private readonly inner: WalIo,
    /** Descriptors kept open at most while any is idle. */
    readonly capacity: number,
  ) {
    invariant(Number.isSafeInteger(capacity) && capacity >= 1, "fd budget capacity is a positive integer");
  }

  /** Descriptors open (or opening, or closing) now. */
  get descriptors(): number {
    return this.#descriptors;
  }

  /** How many times a handle closed for the budget was opened again. */
  get reopens(): number {
    return this.#reopens;
  }

  async open(path: string, flags: number, mode?: number): Promise<WalFileHandle> {
    const fh = await this.openDescriptor(() => this.inner.open(path, flags, mode));
    const handle = new LazyHandle(this, path, flags & ~FIRST_OPEN_ONLY, fh);
    this.#idle.set(handle, true);
    this.trim();
    return handle;
  }

  rename(from: string, to: string): Promise<void> {
    return this.inner.rename(from, to);
  }

  /** Opens a descriptor, first closing idle ones so that the budget holds when it can. */
  async openDescriptor(open: () => Promise<WalFileHandle>): Promise<WalFileHandle> {
    await this.#makeRoom();
    this.#descriptors++;
    try {
      return await open();
    } catch (e) {
      this.#descriptors--;
      throw e;
    }
  }

  reopen(path: string, flags: number): Promise<WalFileHandle> {
    this.#reopens++;
    return this.openDescriptor(() => this.inner.open(path, flags));
  }

  /** `handle` runs an operation: it may not be closed meanwhile. */
  busy(handle: LazyHandle): void {
    this.#idle.delete(handle);
  }

  /** `handle` has no operation running: it becomes the most recently used idle handle. */
  idle(handle: LazyHandle): void {
    this.#idle.delete(handle);
    this.#idle.set(handle, true);
    this.trim();
  }

  /** A descriptor was closed (evicted or by its owner). */
  released(handle: LazyHandle): void {
    this.#idle.delete(handle);
    this.#descriptors--;
    invariant(this.#descriptors >= 0, "fd budget: more descriptors released than opened");
  }

  /** Starts closing idle handles while over capacity. */
  trim(): void {
    while (this.#descriptors > this.capacity) {
      const oldest = this.#idle.keys().next();
      if (oldest.done) return;
      this.#idle.delete(oldest.value);
      oldest.value.evict();
    }
  }

  async #makeRoom(): Promise<void> {
    while (this.#descriptors >= this.capacity) {
      const oldest = this.#idle.keys().next();
      if (oldest.done) return; // every descriptor is busy: go over, trim() catches up
      this.#idle.delete(oldest.value);
      await oldest.value.evict();
    }
  }
}

/** A WAL handle whose descriptor the budget may close while it is idle. */
class LazyHandle implements WalFileHandle {
  #state: HandleState;

  constructor(
    private readonly budget: FdBudgetIo,
    private readonly path: string,
    private readonly reopenFlags: number,
    fh: WalFileHandle,
  ) {
    this.#state = { kind: "open", fh, leases: 0 };
  }

  read(buffer: Uint8Array, offset: number, length: number, position: number): Promise<{ bytesRead: number }> {
    return this.#use((fh) => fh.read(buffer, offset, length, position));
  }
  write(buffer: Uint8Array, offset: number, length: number, position: number): Promise<{ bytesWritten: number }> {
    return this.#use((fh) => fh.write(buffer, offset, length, position));
  }
  writev(buffers: Uint8Array[], position: number): Promise<{ bytesWritten: number }> {
    return this.#use((fh) => fh.writev(buffers, position));
  }
  sync(): Promise<void> {
    return this.#use((fh) => fh.sync());
  }
  datasync(): Promise<void> {
    return this.#use((fh) => fh.datasync());
  }
  truncate(length: number): Promise<void> {
    return this.#use((fh) => fh.truncate(length));
  }
  stat(): Promise<{ size: number }> {
    return this.#use((fh) => fh.stat());
  }

  /**
   * Closes for good. An operation still running on the descriptor fails as it would on a closed
   * node:fs handle (EBADF; readers of the active WAL retry, as after a roll).
   */
  async close(): Promise<void> {
    for (;;) {
      const s = this.#state;
      switch (s.kind) {
        case "closed":
          return;
        case "opening":
        case "evicting":
          await s.done;
          continue;
        case "evicted":
          this.#state = { kind: "closed" };
          return;
        case "open":
          this.#state = { kind: "closed" };
          this.budget.released(this);
          await s.fh.close();
          return;
      }
    }
  }

  /** Closes the idle descriptor for the budget; the next operation reopens it. */
  evict(): Promise<void> {
    const s = this.#state;
    invariant(s.kind === "open" && s.leases === 0, "fd budget evicts only idle open handles");
    const done = s.fh.close().then(
      () => undefined,
      // Every WAL write was durable when it returned, so a failed close loses nothing.
      (error: unknown) => log.warn("closing idle WAL file {path} failed: {error}", { path: this.path, error }),
    ).finally(() => {
      this.budget.released(this);
      if (this.#state.kind === "evicting") this.#state = { kind: "evicted" };
    });
    this.#state = { kind: "evicting", done };
    return done;
  }

  async #use<T>(op: (fh: WalFileHandle) => Promise<T>): Promise<T> {
    const fh = await this.#acquire();
    try {
      return await op(fh);
    } finally {
      this.#release(fh);
    }
  }

  async #acquire(): Promise<WalFileHandle> {
    for (;;) {
      const s = this.#state;
      switch (s.kind) {
        case "open":
          s.leases++;
          this.budget.busy(this);
          return s.fh;
        case "opening":
        case "evicting":
          await s.done;
          continue;
        case "evicted": {
          const done = this.budget.reopen(this.path, this.reopenFlags).then(
            (fh) => {
              invariant(this.#state.kind === "opening", "only one reopen at a time");
              this.#state = { kind: "open", fh, leases: 0 };
            },
            (error: unknown) => {
              if (this.#state.kind === "opening") this.#state = { kind: "evicted" };
              throw error;
            },
          );
          this.#state = { kind: "opening", done };
          await done;
          continue;
        }
        case "closed":
          throw Object.assign(new Error(`EBADF: file handle of ${this.path} is closed`), { code: "EBADF" });
      }
    }
  }

  #release(fh: WalFileHandle): void {
    const s = this.#state;
    if (s.kind !== "open" || s.fh !== fh) return; // closed by its owner meanwhile
    invariant(s.leases > 0, "fd budget: release without a lease");
    s.leases--;
    if (s.leases === 0) this.budget.idle(this);
  }
}
