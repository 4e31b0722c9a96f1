// Which records of a run of batches one read returns: those from `offset` on, at least one if
// any (even one bigger than maxBytes), then more while maxRecords and maxBytes allow. A record's
// size is estimated from its batch (records of one batch are usually alike), so records are
// never measured one by one. Both read paths use it: decoded records (PartitionLog.read) and
// records located in their stored MessagePack (LogService.readRaw).
import { BATCH_HEADER_SIZE, type BatchHeader } from "../../core/log/batch.ts";
import type { ReadBatch } from "./batch-reader.ts";

export interface SelectionBounds {
  readonly maxRecords: number;
  readonly maxBytes: number;
}

export function selectRecords<R extends { readonly offset: number }>(
  batches: readonly ReadBatch[],
  offset: number,
  bounds: SelectionBounds,
  records: (bytes: Uint8Array, header: BatchHeader) => Iterable<R>,
): R[] {
  const out: R[] = [];
  let bytes = 0;
  for (const b of batches) {
    const perRecord = (b.header.length - BATCH_HEADER_SIZE) / b.header.count;
    for (const r of records(b.bytes, b.header)) {
      if (r.offset < offset) continue;
      if (out.length >= bounds.maxRecords || (out.length > 0 && bytes + perRecord > bounds.maxBytes)) return out;
      out.push(r);
      bytes += perRecord;
    }
  }
  return out;
}
