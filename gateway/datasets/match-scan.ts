// The scan of a filtered create: every record of a pinned partition range [start, end) is
// evaluated once on its stored bytes (decoding only what the expression reads), and the offsets
// of the matches are kept. Bounded by the version's sample limit and the create's deadline.
import { StrataError, invariant } from "../../core/errors.ts";
import { scanBatchRecords } from "../../core/log/batch.ts";
import type { PartitionLog } from "../log/log-store.ts";
import type { RecordFilter } from "../filters/record-filter.ts";
import type { RawReadResult, ReadRequest } from "../streams/log-service.ts";

export interface MatchScanBounds {
  /** Records and bytes per storage read. */
  readonly maxRecords: number;
  readonly maxBytes: number;
  /** Matches the whole version may hold (this partition gets what earlier ones left). */
  readonly maxMatches: number;
  /** Wall-clock ms after which the scan gives up. */
  readonly deadline: number;
}

export interface MatchScan {
  readonly offsets: number[];
  /** Bytes of the matching records' fields maps. */
  readonly bytes: number;
}

export async function scanMatches(log: PartitionLog, start: number, end: number, filter: RecordFilter, bounds: MatchScanBounds): Promise<MatchScan> {
  const offsets: number[] = [];
  let bytes = 0;
  let next = start;
  while (next < end) {
    if (Date.now() > bounds.deadline) {
      throw new StrataError("BAD_REQUEST", `the filtered scan of ${log.stream}/${log.partition} passed its time limit at offset ${next} of [${start}, ${end}) (limits datasets.maxCreateScanMs)`);
    }
    const batches = await log.readBatches(next, { maxRecords: Math.min(bounds.maxRecords, end - next), maxBytes: bounds.maxBytes });
    invariant(batches.length > 0, `pinned range [${next}, ${end}) of ${log.stream}/${log.partition} is readable`);
    for (const batch of batches) {
      for (const record of scanBatchRecords(batch.bytes, batch.header)) {
        if (record.offset < next || record.offset >= end) continue;
        if (!filter.matchesRaw(record)) continue;
        if (offsets.length >= bounds.maxMatches) {
          throw new StrataError("BAD_REQUEST", `the filter matches more than ${bounds.maxMatches} samples (limits datasets.maxFilteredSamples)`);
        }
        offsets.push(record.offset);
        bytes += record.fields[1] - record.fields[0];
      }
      next = Math.max(next, batch.header.baseOffset + batch.header.count);
    }
  }
  return { offsets, bytes };
}

/**
 * The same scan of a partition led by another gateway (cluster mode): the filter runs on the
 * leader (a filtered read answers the matches among the records it examined and where it stopped).
 */
export async function scanMatchesRemotely(
  read: (request: Omit<ReadRequest, "fields">) => Promise<RawReadResult>,
  target: { readonly stream: string; readonly partition: number },
  start: number,
  end: number,
  expression: string,
  bounds: MatchScanBounds,
): Promise<MatchScan> {
  const offsets: number[] = [];
  let bytes = 0;
  let next = start;
  while (next < end) {
    if (Date.now() > bounds.deadline) {
      throw new StrataError("BAD_REQUEST", `the filtered scan of ${target.stream}/${target.partition} passed its time limit at offset ${next} of [${start}, ${end}) (limits datasets.maxCreateScanMs)`);
    }
    const result = await read({ ...target, offset: next, maxRecords: Math.min(bounds.maxRecords, end - next), maxBytes: bounds.maxBytes, filter: expression });
    invariant(result.nextOffset > next, `the filtered read of ${target.stream}/${target.partition} moves past ${next}`);
    for (const record of result.records) {
      if (record.offset < next || record.offset >= end) continue;
      if (offsets.length >= bounds.maxMatches) {
        throw new StrataError("BAD_REQUEST", `the filter matches more than ${bounds.maxMatches} samples (limits datasets.maxFilteredSamples)`);
      }
      offsets.push(record.offset);
      bytes += record.fields[1] - record.fields[0];
    }
    next = result.nextOffset;
  }
  return { offsets, bytes };
}
