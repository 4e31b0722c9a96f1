// Sample reads: global indexes of a version → (partition, offset) → records located in their
// stored batches (LogService.readRaw), never decoded unless a projection or JSON asks for it.
// Unfiltered, index g of partition p is offset start + (g - first_index); filtered, it is the
// (g - first_index)-th stored match offset of p.
import { Decoder } from "@msgpack/msgpack";
import { StrataError, invariant } from "../../core/errors.ts";
import type { RawRecord } from "../../core/log/batch.ts";
import { extensionCodec } from "../../core/log/extensions.ts";
import type { LogService } from "../streams/log-service.ts";
import type { DatasetPartition, DatasetVersion } from "./dataset-wire.ts";

/** One sample: its position and its stored record (the fields map is `record.batch[fields[0], fields[1])`). */
export interface Sample {
  readonly partition: number;
  readonly offset: number;
  readonly record: RawRecord;
}

export interface SampleBatch {
  /** The global index of the first sample (range reads), null for reads by index. */
  readonly start: number | null;
  readonly samples: Sample[];
}

/** The match offsets of a filtered partition (cached by the service). */
export type MatchOffsets = (version: DatasetVersion, partition: DatasetPartition) => Promise<Float64Array>;

const decoder = new Decoder({ extensionCodec });

/** A sample's fields map, decoded (tensors and artefact refs as their extension types), projected to `fields` when given. */
export function decodeSampleFields(sample: Sample, fields: readonly string[] | undefined): Record<string, unknown> {
  const { record } = sample;
  const value = decoder.decode(record.batch.subarray(record.fields[0], record.fields[1]));
  if (value === null || typeof value !== "object" || Array.isArray(value)) throw new StrataError("CORRUPT_DATA", `record ${sample.offset} of partition ${sample.partition}: fields is not a map`);
  const all = value as Record<string, unknown>;
  if (fields === undefined) return all;
  const out: Record<string, unknown> = {};
  for (const name of fields) if (Object.hasOwn(all, name)) out[name] = all[name];
  return out;
}

const fieldsBytes = (r: RawRecord): number => r.fields[1] - r.fields[0];

export class SampleReader {
  constructor(
    /** Only raw reads: records located in their stored batches, never decoded. */
    private readonly log: Pick<LogService, "readRaw">,
    private readonly matchOffsets: MatchOffsets,
    /** Records one storage read asks for at most (the service limit maxFetchRecords). */
    private readonly maxFetchRecords: number,
  ) {}

  /** Samples [start, start + n) in index order, stopping (after at least one) once their fields pass `maxBytes`. */
  async range(version: DatasetVersion, start: number, count: number, maxBytes: number): Promise<SampleBatch> {
    requireIndex(version, start);
    const end = Math.min(start + count, version.samples);
    const samples: Sample[] = [];
    let bytes = 0;
    let g = start;
    while (g < end) {
      const part = partitionOf(version, g);
      const runEnd = Math.min(end, part.first_index + part.samples);
      const got = await this.readRun(version, part, g - part.first_index, runEnd - g, Math.max(1, maxBytes - bytes));
      invariant(got.length > 0, `a read of index ${g} of ${version.name} v${version.version} returns it`);
      for (const sample of got) {
        if (samples.length > 0 && bytes + fieldsBytes(sample.record) > maxBytes) return { start, samples };
        samples.push(sample);
        bytes += fieldsBytes(sample.record);
      }
      g += got.length;
      // Another storage read for less than an average sample would return one sample past the
      // bound at the cost of reading its whole batch: stop here, the client asks for the rest.
      if (maxBytes - bytes < bytes / samples.length) break;
    }
    return { start, samples };
  }

  /**
   * The samples at `indexes`, in that order: a prefix of them, stopping (after at least one) once
   * their fields pass `maxBytes`. Indexes are read sorted, in runs of consecutive ones; the run
   * starting at the first requested index is read first (the answer holds at least that sample),
   * so indexes asked in ascending consecutive order are one storage read per partition.
   */
  async at(version: DatasetVersion, indexes: readonly number[], maxBytes: number): Promise<SampleBatch> {
    for (const g of indexes) requireIndex(version, g);
    const sorted = [...new Set(indexes)].sort((a, b) => a - b);
    const found = new Map<number, Sample>();
    let budget = maxBytes;
    /** Reads the run of consecutive sorted indexes from position i (stopping before `stop`), returns how many were read. */
    const readSortedRun = async (i: number, stop: number): Promise<number> => {
      const part = partitionOf(version, sorted[i]!);
      const partEnd = part.first_index + part.samples;
      let j = i + 1;
      while (j < stop && sorted[j] === sorted[j - 1]! + 1 && sorted[j]! < partEnd) j++;
      const got = await this.readRun(version, part, sorted[i]! - part.first_index, j - i, Math.max(1, budget));
      for (let k = 0; k < got.length; k++) {
        found.set(sorted[i + k]!, got[k]!);
        budget -= fieldsBytes(got[k]!.record);
      }
      return got.length;
    };
    const first = sorted.indexOf(indexes[0]!);
    const firstRead = await readSortedRun(first, sorted.length);
    invariant(firstRead > 0, `a read of index ${indexes[0]} of ${version.name} v${version.version} returns it`);
    let i = 0;
    // As in range(): no storage read for less than an average sample.
    while (i < sorted.length && budget >= (maxBytes - budget) / found.size) {
      if (i === first) {
        i += firstRead;
        continue;
      }
      i += await readSortedRun(i, i < first ? first : sorted.length);
    }
    const samples: Sample[] = [];
    let bytes = 0;
    for (const g of indexes) {
      const sample = found.get(g);
      if (sample === undefined || (samples.length > 0 && bytes + fieldsBytes(sample.record) > maxBytes)) break;
      samples.push(sample);
      bytes += fieldsBytes(sample.record);
    }
    return { start: null, samples };
  }

  /** Up to n samples of `part` from local index i (at least one), the storage read bounded by maxBytes. */
  private async readRun(version: DatasetVersion, part: DatasetPartition, i: number, n: number, maxBytes: number): Promise<Sample[]> {
    if (version.filter === null) {
      const offset = part.start + i;
      const result = await this.log.readRaw({ stream: version.stream, partition: part.partition, offset, maxRecords: Math.min(n, this.maxFetchRecords), maxBytes });
      const records = result.records.filter((r) => r.offset < part.end);
      invariant(records.length > 0 && records[0]!.offset === offset, `offset ${offset} of ${version.stream}/${part.partition} is readable`);
      return records.map((record) => ({ partition: part.partition, offset: record.offset, record }));
    }
    const offsets = await this.matchOffsets(version, part);
    const wanted = offsets.subarray(i, i + n);
    const out: Sample[] = [];
    let bytes = 0;
    // Reads the offset range of the wanted matches, keeping the matches; the records between
    // them are located (not decoded) and skipped. Each further storage read asks only for the
    // bytes still allowed.
    while (out.length < wanted.length && bytes < maxBytes) {
      const from = wanted[out.length]!;
      const span = wanted[wanted.length - 1]! - from + 1;
      const result = await this.log.readRaw({ stream: version.stream, partition: part.partition, offset: from, maxRecords: Math.min(span, this.maxFetchRecords), maxBytes: maxBytes - bytes });
      invariant(result.records.length > 0 && result.records[0]!.offset === from, `offset ${from} of ${version.stream}/${part.partition} is readable`);
      for (const record of result.records) {
        if (out.length < wanted.length && record.offset === wanted[out.length]) {
          out.push({ partition: part.partition, offset: record.offset, record });
          bytes += fieldsBytes(record);
        }
      }
    }
    return out;
  }
}

function requireIndex(version: DatasetVersion, g: number): void {
  if (!Number.isSafeInteger(g) || g < 0 || g >= version.samples) {
    throw new StrataError("OFFSET_OUT_OF_RANGE", `sample index ${g} is outside [0, ${version.samples}) of dataset ${version.name} version ${version.version}`);
  }
}

/** The partition holding global index g (binary search over first_index; empty partitions are skipped). */
function partitionOf(version: DatasetVersion, g: number): DatasetPartition {
  const parts = version.partitions;
  let lo = 0;
  let hi = parts.length - 1;
  while (lo < hi) {
    const mid = (lo + hi + 1) >> 1;
    if (parts[mid]!.first_index <= g) lo = mid;
    else hi = mid - 1;
  }
  // Empty partitions share their first_index with the next one: move to the one that holds g.
  while (lo < parts.length && parts[lo]!.first_index + parts[lo]!.samples <= g) lo++;
  const part = parts[lo];
  invariant(part !== undefined && part.first_index <= g && g < part.first_index + part.samples, `index ${g} lies in a partition of ${version.name} v${version.version}`);
  return part;
}
