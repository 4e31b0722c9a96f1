// Registered memory for answers, bounded in bytes across all endpoints. Registering memory is the
// expensive step on an RDMA NIC (pinning pages, programming the NIC's translation table), so a
// region is kept after its answer is released and reused for the next answer of the same size
// class from the same endpoint: a registration cache. Regions are never shared between
// endpoints, so an rkey only ever exposes bytes its own endpoint was allowed to read. When an
// allocation would pass the budget, idle regions (of any endpoint) are released first; if that
// is not enough, the request waits for a release, up to a deadline, then is UNAVAILABLE.
import type { UcxRegion, UcxWorker } from "../../native/ucx-api.ts";
import { invariant, StrataError } from "../../core/errors.ts";

/** Smallest region allocated (a size class below it would only add registrations). */
const MIN_CLASS_BYTES = 64 * 1024;

/** A region lent to one answer. */
export interface LentRegion {
  readonly region: UcxRegion;
  readonly owner: number;
  readonly classBytes: number;
}

interface Waiter {
  readonly wake: () => void;
}

export function sizeClass(length: number): number {
  let c = MIN_CLASS_BYTES;
  while (c < length) c *= 2;
  return c;
}

export class RegionPool {
  /** Bytes of every region alive (lent or idle). */
  #allocated = 0;
  /** Idle regions per owner, per size class. */
  readonly #idle = new Map<number, Map<number, UcxRegion[]>>();
  readonly #waiters: Waiter[] = [];

  constructor(
    private readonly worker: Pick<UcxWorker, "allocate">,
    readonly budgetBytes: number,
  ) {}

  get allocatedBytes(): number {
    return this.#allocated;
  }

  /** A region of at least `length` bytes for `owner`, waiting for room until `deadline` (ms since epoch). */
  async acquire(owner: number, length: number, deadline: number): Promise<LentRegion> {
    const classBytes = sizeClass(length);
    if (classBytes > this.budgetBytes) throw new StrataError("BATCH_TOO_LARGE", `an answer of ${length} bytes needs a ${classBytes}-byte region; ucx.poolBytes is ${this.budgetBytes}`);
    for (;;) {
      const reused = this.#idle.get(owner)?.get(classBytes)?.pop();
      if (reused !== undefined) return { region: reused, owner, classBytes };
      this.#evictUntil(classBytes);
      if (this.#allocated + classBytes <= this.budgetBytes) {
        const region = this.worker.allocate(classBytes);
        this.#allocated += classBytes;
        return { region, owner, classBytes };
      }
      await this.#waitForRoom(classBytes, deadline);
    }
  }

  /** The answer was read (or timed out): the region becomes idle for its owner. */
  giveBack(lent: LentRegion): void {
    let classes = this.#idle.get(lent.owner);
    if (classes === undefined) this.#idle.set(lent.owner, (classes = new Map()));
    let list = classes.get(lent.classBytes);
    if (list === undefined) classes.set(lent.classBytes, (list = []));
    list.push(lent.region);
    this.#wakeWaiters();
  }

  /** The owner's endpoint closed: its idle regions are released. */
  dropOwner(owner: number): void {
    const classes = this.#idle.get(owner);
    this.#idle.delete(owner);
    for (const [classBytes, list] of classes ?? []) for (const r of list) this.#free(r, classBytes);
  }

  #free(region: UcxRegion, classBytes: number): void {
    region.release();
    this.#allocated -= classBytes;
    invariant(this.#allocated >= 0, `region pool: ${this.#allocated} bytes allocated after a release`);
    this.#wakeWaiters();
  }

  /** Releases idle regions (largest first) until `bytes` more fit, or none is left. */
  #evictUntil(bytes: number): void {
    while (this.#allocated + bytes > this.budgetBytes) {
      let victim: { owner: number; classBytes: number } | undefined;
      for (const [owner, classes] of this.#idle) {
        for (const [classBytes, list] of classes) if (list.length > 0 && (victim === undefined || classBytes > victim.classBytes)) victim = { owner, classBytes };
      }
      if (victim === undefined) return;
      const region = this.#idle.get(victim.owner)!.get(victim.classBytes)!.pop()!;
      region.release();
      this.#allocated -= victim.classBytes;
    }
  }

  #waitForRoom(bytes: number, deadline: number): Promise<void> {
    const wait = deadline - Date.now();
    if (wait <= 0) throw new StrataError("UNAVAILABLE", `no room in the registered pool (${this.budgetBytes} bytes, ucx.poolBytes) for ${bytes} bytes: try again later`);
    return new Promise<void>((resolve) => {
      const waiter: Waiter = {
        wake: () => {
          clearTimeout(timer);
          resolve();
        },
      };
      // On timeout the loop in acquire() sees the deadline passed and throws.
      const timer = setTimeout(() => {
        const at = this.#waiters.indexOf(waiter);
        if (at >= 0) this.#waiters.splice(at, 1);
        resolve();
      }, wait);
      this.#waiters.push(waiter);
    });
  }

  #wakeWaiters(): void {
    for (const w of this.#waiters.splice(0)) w.wake();
  }
}
