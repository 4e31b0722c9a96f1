// A filtered read of one partition: walks stored batches from an offset, evaluates the filter
// on each record and keeps the matches. The scan is bounded three ways (records returned and
// their bytes, like an unfiltered read; records evaluated; stored bytes examined), so a selective
// filter cannot make one request walk a whole partition. `nextOffset` is the first record not
// examined: [offset, nextOffset) with the same filter is an exact selection that a second read
// repeats record for record, and a read that matched nothing still advances.
import { BATCH_HEADER_SIZE, type BatchHeader } from "../../core/log/batch.ts";
import { invariant } from "../../core/errors.ts";
import type { ReadBatch } from "../log/batch-reader.ts";
import type { SelectionBounds } from "../log/record-selection.ts";

export interface FilteredScanBounds extends SelectionBounds {
  /** Most records evaluated (maxFilterEvaluations). */
  readonly maxEvaluations: number;
  /** Most stored batch bytes examined; the first read of batches always happens (maxFilterScanBytes). */
  readonly maxScanBytes: number;
}

export interface FilteredScan<R> {
  readonly records: R[];
  /** The first record not examined (offset when nothing was). */
  readonly nextOffset: number;
  /** Records the filter was evaluated on. */
  readonly evaluated: number;
}

export interface FilteredScanSource {
  readonly endOffset: number;
  /** Whole batches covering `offset` onwards (the first may start before it), as PartitionLog.readBatches. */
  readBatches(offset: number, bounds: SelectionBounds): Promise<readonly ReadBatch[]>;
}

type ScanState = { kind: "scanning"; next: number } | { kind: "done"; next: number };

export async function scanFiltered<R extends { readonly offset: number }>(
  source: FilteredScanSource,
  offset: number,
  bounds: FilteredScanBounds,
  recordsOf: (bytes: Uint8Array, header: BatchHeader) => Iterable<R>,
  matches: (record: R) => boolean,
): Promise<FilteredScan<R>> {
  const out: R[] = [];
  let returnedBytes = 0;
  let evaluated = 0;
  let scannedBytes = 0;
  let state: ScanState = { kind: "scanning", next: offset };
  while (state.kind === "scanning") {
    const from: number = state.next;
    if (from >= source.endOffset || scannedBytes >= bounds.maxScanBytes) {
      state = { kind: "done", next: from };
      break;
    }
    const batches = await source.readBatches(from, {
      maxRecords: bounds.maxEvaluations - evaluated,
      maxBytes: Math.min(bounds.maxBytes, bounds.maxScanBytes - scannedBytes),
    });
    if (batches.length === 0) {
      state = { kind: "done", next: from };
      break;
    }
    let next = from;
    batchLoop: for (const b of batches) {
      const perRecord = (b.header.length - BATCH_HEADER_SIZE) / b.header.count;
      for (const r of recordsOf(b.bytes, b.header)) {
        if (r.offset < next) continue;
        const full = out.length >= bounds.maxRecords || (out.length > 0 && returnedBytes + perRecord > bounds.maxBytes);
        if (full || evaluated >= bounds.maxEvaluations) {
          state = { kind: "done", next };
          break batchLoop;
        }
        evaluated++;
        if (matches(r)) {
          out.push(r);
          returnedBytes += perRecord;
        }
        next = r.offset + 1;
      }
      scannedBytes += b.header.length;
    }
    invariant(next > from || state.kind === "done", `filtered scan made no progress at offset ${from}`);
    if (state.kind === "scanning") state = { kind: "scanning", next };
  }
  return { records: out, nextOffset: state.next, evaluated };
}
