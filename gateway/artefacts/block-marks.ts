// What the pack reader knows about each cached pack block: which chunks (by pack offset) were
// hashed and matched against the bytes of this copy of the block, and the CRC-32 of the copy in
// the disk cache. A mark is created when a block enters the caches from the object store and is
// shared by its memory and disk copies (both hold the same bytes); re-fetching a block replaces
// its mark, so a chunk verified against an older copy is verified again.
import { invariant } from "../../core/errors.ts";

export interface BlockMark {
  /** Pack offsets of the chunks verified against this copy of the block. */
  readonly verified: Set<number>;
  /** CRC-32 of the bytes written to the disk cache; undefined until the file is written. */
  diskCrc: number | undefined;
}

export class BlockMarks {
  // Insertion order is age order: the oldest marks go first when over the bound.
  readonly #marks = new Map<string, BlockMark>();
  readonly #maxMarks: number;

  /** `maxMarks`: at least as many blocks as both caches can hold, so a cached block keeps its mark. */
  constructor(maxMarks: number) {
    invariant(Number.isSafeInteger(maxMarks) && maxMarks >= 1, "block marks bound is a positive integer");
    this.#maxMarks = maxMarks;
  }

  get size(): number {
    return this.#marks.size;
  }

  get(key: string): BlockMark | undefined {
    return this.#marks.get(key);
  }

  /** A fresh mark for a block just fetched from the object store (replaces any older one). */
  fresh(key: string): BlockMark {
    const mark: BlockMark = { verified: new Set(), diskCrc: undefined };
    this.#marks.delete(key);
    this.#marks.set(key, mark);
    while (this.#marks.size > this.#maxMarks) {
      const oldest = this.#marks.keys().next().value;
      invariant(oldest !== undefined, "marks over their bound hold entries");
      this.#marks.delete(oldest);
    }
    return mark;
  }

  delete(key: string): void {
    this.#marks.delete(key);
  }

  deleteWhere(test: (key: string) => boolean): void {
    for (const key of [...this.#marks.keys()]) if (test(key)) this.#marks.delete(key);
  }
}
