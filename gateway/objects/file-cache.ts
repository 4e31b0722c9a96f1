// Byte-bounded LRU of local copies of objects (committed segment files, pack blocks), shared by
// every reader of a gateway. Only objects already in the object store enter it, so evicting
// (deleting the file) never loses data. A reader that finds a file gone (evicted, or the
// directory wiped) drops the entry and reads from the object store instead. Each entry carries
// an in-memory "verified" marker: set when the file's contents were checked (segment batches'
// CRCs) in this process, so readers can skip the check; a file adopted at start-up is unverified
// until its first reader checks it. Damage after the check (bit rot) goes unnoticed until a restart.
import { unlink } from "node:fs/promises";
import { invariant } from "../../core/errors.ts";
import { errnoCode } from "./errno.ts";

interface Entry {
  readonly path: string;
  readonly bytes: number;
  verified: boolean;
}

export class FileCache {
  // Map iteration order is recency order: a hit re-inserts its entry at the end.
  private readonly entries = new Map<string, Entry>();
  private total = 0;

  constructor(
    readonly capacityBytes: number,
    private readonly onError: (path: string, error: unknown) => void = () => {},
    /** Called with the cached byte total whenever it changes (for a gauge). */
    private readonly onSize: (bytes: number) => void = () => {},
  ) {
    invariant(capacityBytes >= 0, "cache capacity is non-negative");
  }

  get bytes(): number {
    return this.total;
  }
  get count(): number {
    return this.entries.size;
  }

  /**
   * Adopts a local file (keyed by its path), `verified` when its contents were checked in this
   * process. A file larger than the whole cache is deleted at once.
   */
  add(path: string, bytes: number, verified = false): void {
    this.remove(path, false);
    if (bytes > this.capacityBytes) {
      this.unlink(path);
      return;
    }
    this.entries.set(path, { path, bytes, verified });
    this.total += bytes;
    while (this.total > this.capacityBytes) {
      const oldest = this.entries.values().next().value;
      invariant(oldest !== undefined, "cache over capacity holds entries");
      this.remove(oldest.path, true);
    }
    this.onSize(this.total);
  }

  /** True (and marks it recently used) when the file is cached. */
  touch(path: string): boolean {
    const entry = this.entries.get(path);
    if (!entry) return false;
    this.entries.delete(path);
    this.entries.set(path, entry);
    return true;
  }

  /** True when the cached file's contents were checked in this process. */
  isVerified(path: string): boolean {
    return this.entries.get(path)?.verified ?? false;
  }

  /** Records that the cached file's contents passed their check (no-op when it is not cached). */
  markVerified(path: string): void {
    const entry = this.entries.get(path);
    if (entry) entry.verified = true;
  }

  has(path: string): boolean {
    return this.entries.has(path);
  }

  /** Forgets a file; deletes it when `unlinkFile`. */
  remove(path: string, unlinkFile: boolean): void {
    const entry = this.entries.get(path);
    if (entry) {
      this.entries.delete(path);
      this.total -= entry.bytes;
      this.onSize(this.total);
    }
    if (unlinkFile) this.unlink(path);
  }

  private unlink(path: string): void {
    // Fire and forget: readers that raced the unlink fall back to the object store.
    unlink(path).catch((e: unknown) => {
      if (errnoCode(e) !== "ENOENT") this.onError(path, e);
    });
  }
}
