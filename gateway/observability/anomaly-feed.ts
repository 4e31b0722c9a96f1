// The read side of `_strata/anomalies` for `GET /v1/anomalies` (docs/anomalies.md): a page of
// flags from an offset, or the newest ones when no offset is given. The log is reached through
// the small interfaces below (the composition root hands in the log service and the stream's
// bounds), so this module imports no service.
import { StrataError } from "../../core/errors.ts";
import type { LogRecord } from "../../core/log/record.ts";
import { ANOMALIES_STREAM, entryOf, type AnomalyEntry } from "./anomaly-record.ts";

/** The reads the feed needs (LogService.read satisfies it). */
export interface AnomalyLogReader {
  read(request: { readonly stream: string; readonly partition: number; readonly offset: number; readonly maxRecords: number }): Promise<{ readonly records: readonly LogRecord[]; readonly nextOffset: number }>;
}

/** The first retained offset and the end offset of a stream's partition. */
export type PartitionBounds = (stream: string, partition: number) => Promise<{ readonly start: number; readonly end: number }>;

export interface AnomalyPage {
  readonly anomalies: AnomalyEntry[];
  /** The offset to pass as `after` for the next page (the end of the stream when it is all read). */
  readonly next: number;
}

export class AnomalyFeed {
  constructor(
    private readonly log: AnomalyLogReader,
    private readonly bounds: PartitionBounds,
    /** Most entries one page holds (anomalies.maxPageRecords). */
    private readonly maxPage: number,
  ) {}

  /**
   * The flags at offsets `after` and later (at most `limit`); without `after`, the newest `limit`
   * of them. An `after` below the retained start reads from the start; one past the end is a
   * BAD_REQUEST (it names no offset this stream ever had). Before the first flag the stream does
   * not exist (anomaly-stream.ts): an empty stream.
   */
  async list(after: number | undefined, limit: number): Promise<AnomalyPage> {
    if (!Number.isSafeInteger(limit) || limit < 1 || limit > this.maxPage) throw new StrataError("BAD_REQUEST", `limit must be an integer in [1, ${this.maxPage}]`);
    if (after !== undefined && (!Number.isSafeInteger(after) || after < 0)) throw new StrataError("BAD_REQUEST", "after must be a non-negative integer offset");
    const { start, end } = await this.bounds(ANOMALIES_STREAM, 0).catch((e: unknown) => {
      if (e instanceof StrataError && e.code === "STREAM_NOT_FOUND") return { start: 0, end: 0 };
      throw e;
    });
    if (after !== undefined && after > end) throw new StrataError("BAD_REQUEST", `after ${after} is past the end of ${ANOMALIES_STREAM} (${end})`);
    const from = after === undefined ? Math.max(start, end - limit) : Math.max(start, after);
    if (from >= end) return { anomalies: [], next: from };
    const read = await this.log.read({ stream: ANOMALIES_STREAM, partition: 0, offset: from, maxRecords: limit });
    const anomalies: AnomalyEntry[] = [];
    for (const record of read.records) {
      const entry = entryOf(record);
      if (entry !== undefined) anomalies.push(entry);
    }
    return { anomalies, next: read.nextOffset };
  }
}
