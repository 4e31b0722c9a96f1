// The path of a record through processing stages: from a record, follow `strata-source` back hop
// by hop to the record nothing was derived from (or whose source is gone), and answer the stages
// oldest first. Bounded by `maxHops`; a source met twice is a cycle. The reads are injected, so
// this stays pure (`strata trace` reads over HTTP; docs/tracing.md).
import { StrataError } from "../errors.ts";
import { formatSource, parseSource, SOURCE_HEADER, type RecordPosition } from "./record-source.ts";
import { parseTraceparent, TRACEPARENT_HEADER, type TraceContext } from "./traceparent.ts";

/** A record as a stage of the path needs it: its position, timestamp and headers. */
export interface TracedRecord extends RecordPosition {
  readonly timestamp: number;
  readonly headers: { readonly [name: string]: unknown };
}

export interface TraceStage {
  readonly record: TracedRecord;
  /** The record's trace context, when its traceparent is valid. */
  readonly trace: TraceContext | undefined;
  /** Milliseconds from the previous (older) stage's timestamp; undefined for the first stage. */
  readonly sincePreviousMs: number | undefined;
}

/** How the walk back ended: at a record with no (valid) source, or at a source that could not be read. */
export type TraceOrigin = { readonly kind: "origin" } | { readonly kind: "missing"; readonly source: RecordPosition; readonly reason: string };

export interface TracePath {
  /** Oldest first; the last one is the record the walk started from. */
  readonly stages: readonly TraceStage[];
  readonly origin: TraceOrigin;
}

/** A read of one record: the record, or why it is not there (the walk reports it as a missing source). */
export type RecordLookup = { readonly kind: "found"; readonly record: TracedRecord } | { readonly kind: "missing"; readonly reason: string };

export async function tracePath(start: TracedRecord, read: (position: RecordPosition) => Promise<RecordLookup>, maxHops: number): Promise<TracePath> {
  const newestFirst: TracedRecord[] = [start];
  const seen = new Set([formatSource(start)]);
  let origin: TraceOrigin = { kind: "origin" };
  for (let record = start; ; ) {
    const source = parseSource(record.headers[SOURCE_HEADER]);
    if (source === undefined) break;
    const key = formatSource(source);
    if (seen.has(key)) throw new StrataError("CORRUPT_DATA", `the trace of ${formatSource(start)} has a cycle: ${formatSource(record)} names ${key}, met before`);
    if (newestFirst.length > maxHops) throw new StrataError("BAD_REQUEST", `the trace of ${formatSource(start)} goes back more than ${maxHops} hops (--max-hops)`);
    seen.add(key);
    const found = await read(source);
    if (found.kind === "missing") {
      origin = { kind: "missing", source, reason: found.reason };
      break;
    }
    record = found.record;
    newestFirst.push(record);
  }
  const oldestFirst = newestFirst.reverse();
  const stages = oldestFirst.map((record, i): TraceStage => ({ record, trace: parseTraceparent(record.headers[TRACEPARENT_HEADER]), sincePreviousMs: i === 0 ? undefined : record.timestamp - oldestFirst[i - 1]!.timestamp }));
  return { stages, origin };
}
