// Where `strata consume --from` starts in each partition: earliest (the oldest retained record),
// latest (only records published from now on), an OFFSET, or an ISO 8601 time.
//
// For a time, the start is the first offset whose timestamp is >= that time. The gateway has no
// lookup by time, so it is found by binary search over the partition, one single-record read per
// step (log2 of the partition's length reads). This is exact because timestamps are assigned by
// the gateway (the clock reading at append, shared by the records of one request) and therefore
// never decrease along a partition, as long as the gateway's clock does not step back.
import { getLogger } from "@logtape/logtape";
import { z } from "zod";

const log = getLogger(["strata", "cli", "consume"]);

export type StartPoint =
  | { readonly kind: "earliest" }
  | { readonly kind: "latest" }
  | { readonly kind: "offset"; readonly offset: number }
  | { readonly kind: "time"; readonly ms: number; readonly text: string };

const ISO_DATE = /^\d{4}-\d{2}-\d{2}([T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})?)?$/;

export const startPointText = z.string().transform((text, ctx): StartPoint => {
  if (text === "earliest" || text === "beginning") return { kind: "earliest" };
  if (text === "latest" || text === "end") return { kind: "latest" };
  if (/^\d+$/.test(text) && Number.isSafeInteger(Number(text))) return { kind: "offset", offset: Number(text) };
  const ms = ISO_DATE.test(text) ? Date.parse(text) : Number.NaN;
  if (!Number.isFinite(ms)) {
    ctx.issues.push({ code: "custom", message: `must be earliest, latest, an offset or an ISO 8601 time like 2025-01-31T12:00:00Z, got ${text}`, input: text });
    return z.NEVER;
  }
  return { kind: "time", ms, text };
});

export interface PartitionRange {
  readonly partition: number;
  readonly start_offset: number;
  readonly end_offset: number;
}

/** Reads the timestamp of the record at `offset` (one small read). */
export type TimestampAt = (partition: number, offset: number) => Promise<number>;

/** The first offset in [start, end) whose timestamp is >= ms, or end when there is none. */
export async function firstOffsetAtOrAfter(range: PartitionRange, ms: number, timestampAt: TimestampAt): Promise<number> {
  // Invariant: every offset below lo is older than ms; every offset from hi on is not.
  let lo = range.start_offset;
  let hi = range.end_offset;
  while (lo < hi) {
    const mid = lo + Math.floor((hi - lo) / 2);
    if ((await timestampAt(range.partition, mid)) >= ms) hi = mid;
    else lo = mid + 1;
  }
  return lo;
}

/** The offset to start reading `range` from. */
export async function startOffset(point: StartPoint, range: PartitionRange, timestampAt: TimestampAt): Promise<number> {
  switch (point.kind) {
    case "earliest":
      return range.start_offset;
    case "latest":
      return range.end_offset;
    case "offset": {
      const clamped = Math.min(Math.max(point.offset, range.start_offset), range.end_offset);
      if (clamped !== point.offset) {
        log.warning("partition {partition} holds offsets {start} to {end}: starting at {clamped}, not {offset}", {
          partition: range.partition,
          start: range.start_offset,
          end: range.end_offset,
          clamped,
          offset: point.offset,
        });
      }
      return clamped;
    }
    case "time":
      return firstOffsetAtOrAfter(range, point.ms, timestampAt);
  }
}
