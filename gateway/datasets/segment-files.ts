// Raw segment bytes for clients that decode batches themselves: the committed segments of a
// partition (from the catalog) and byte ranges of one, read from the object store. A segment
// object is immutable once committed (docs/storage-format.md gives its layout), so its ranges can
// be cached by anyone; retention may remove it, after which it is NOT_FOUND.
import { StrataError } from "../../core/errors.ts";
import type { MetadataDb } from "../db/database.ts";
import { SegmentCatalog, type SegmentRow } from "../log/segment-catalog.ts";
import type { ObjectStore } from "../objects/object-store.ts";
import type { StreamService } from "../streams/stream-service.ts";

/** A committed segment: records [base, end), `bytes` the object's size. */
export interface SegmentInfo {
  readonly base: number;
  readonly end: number;
  readonly bytes: number;
}

export class SegmentFiles {
  readonly #catalog: SegmentCatalog;

  constructor(
    db: MetadataDb,
    private readonly streams: StreamService,
    private readonly store: ObjectStore,
  ) {
    this.#catalog = new SegmentCatalog(db);
  }

  /** The partition's committed segments, ascending (the WAL's records, not yet sealed, are in none). */
  async list(stream: string, partition: number): Promise<SegmentInfo[]> {
    return (await this.#rows(stream, partition)).map((s) => ({ base: s.baseOffset, end: s.endOffset, bytes: s.bytes }));
  }

  /** One committed segment; NOT_FOUND when no segment of the partition starts at `base`. */
  async info(stream: string, partition: number, base: number): Promise<SegmentInfo & { readonly key: string }> {
    const row = (await this.#rows(stream, partition)).find((s) => s.baseOffset === base);
    if (row === undefined) throw new StrataError("NOT_FOUND", `no committed segment at base offset ${base} in ${stream}/${partition}`);
    return { base: row.baseOffset, end: row.endOffset, bytes: row.bytes, key: row.objectKey };
  }

  /** Bytes [start, end) of a segment object. */
  read(key: string, start: number, end: number): Promise<Uint8Array> {
    return this.store.get(key, { offset: start, length: end - start });
  }

  async #rows(stream: string, partition: number): Promise<SegmentRow[]> {
    const config = this.streams.require(stream);
    this.streams.requirePartition(config, partition);
    return (await this.#catalog.load(config.name, partition)).segments;
  }
}
