// Who reads which positions of an epoch, computed by each worker alone (no shared memory, locks
// or barriers). After skipping the `sampleInEpoch` positions the resume state says were consumed,
// rank r of R takes positions s + r, s + r + R, ... (as DistributedSampler and Mosaic's
// partition/orig.py interleave ranks); every rank gets floor((samples - s) / R) of them and the
// last (samples - s) mod R positions are dropped for this epoch (drop_last), so collectives never
// wait on a rank that has one sample more. Within a rank, chunk k of `batchSize` consecutive
// samples goes to DataLoader worker k mod W: the DataLoader's round-robin over its workers' batches
// then yields exactly the rank's order.
import { StrataError } from "../errors.ts";
import type { EpochOrder } from "./epoch-order.ts";

export interface ReaderPlace {
  /** Global samples of the epoch already consumed (the resume state's sample_in_epoch). */
  readonly sampleInEpoch: number;
  readonly rank: number;
  readonly worldSize: number;
  readonly worker?: number;
  readonly numWorkers?: number;
  /** The DataLoader's batch size: the unit in which a rank's samples are dealt to its workers. */
  readonly batchSize?: number;
}

function positiveInt(value: number, name: string): void {
  if (!Number.isSafeInteger(value) || value < 1) throw new StrataError("BAD_REQUEST", `${name} must be a positive integer, got ${value}`);
}

function checkPlace(samples: number, place: ReaderPlace): Required<ReaderPlace> {
  const full = { worker: 0, numWorkers: 1, batchSize: 1, ...place };
  positiveInt(full.worldSize, "world_size");
  positiveInt(full.numWorkers, "num_workers");
  positiveInt(full.batchSize, "batch_size");
  if (!Number.isSafeInteger(full.rank) || full.rank < 0 || full.rank >= full.worldSize) throw new StrataError("BAD_REQUEST", `rank must be in [0, ${full.worldSize}), got ${full.rank}`);
  if (!Number.isSafeInteger(full.worker) || full.worker < 0 || full.worker >= full.numWorkers) throw new StrataError("BAD_REQUEST", `worker must be in [0, ${full.numWorkers}), got ${full.worker}`);
  if (!Number.isSafeInteger(full.sampleInEpoch) || full.sampleInEpoch < 0 || full.sampleInEpoch > samples) {
    throw new StrataError("BAD_REQUEST", `sample_in_epoch must be in [0, ${samples}], got ${full.sampleInEpoch}`);
  }
  return full;
}

/** Samples each rank reads in the rest of the epoch: floor((samples - sampleInEpoch) / worldSize). */
export function rankSampleCount(samples: number, sampleInEpoch: number, worldSize: number): number {
  checkPlace(samples, { sampleInEpoch, rank: 0, worldSize });
  return Math.floor((samples - sampleInEpoch) / worldSize);
}

/** The epoch position of the rank's k-th sample. */
export function rankPosition(place: Pick<ReaderPlace, "sampleInEpoch" | "rank" | "worldSize">, k: number): number {
  return place.sampleInEpoch + k * place.worldSize + place.rank;
}

/** Samples worker w reads of its rank's `count`: whole chunks k = w, w + W, ... of batchSize, the last one possibly short. */
export function workerSampleCount(count: number, worker: number, numWorkers: number, batchSize: number): number {
  const fullChunks = Math.floor(count / batchSize);
  const tail = count - fullChunks * batchSize;
  let n = Math.floor(fullChunks / numWorkers) * batchSize;
  if (fullChunks % numWorkers > worker) n += batchSize;
  if (tail > 0 && fullChunks % numWorkers === worker) n += tail;
  return n;
}

/** The rank-local indexes k (0 <= k < count) of a worker, in order. */
export function* workerRankIndexes(count: number, worker: number, numWorkers: number, batchSize: number): Generator<number> {
  for (let chunkStart = worker * batchSize; chunkStart < count; chunkStart += numWorkers * batchSize) {
    const chunkEnd = Math.min(chunkStart + batchSize, count);
    for (let k = chunkStart; k < chunkEnd; k++) yield k;
  }
}

/** The global sample indexes a reader at `place` reads in the rest of the epoch, lazily, in order. */
export function* positionsFor(order: EpochOrder, place: ReaderPlace): Generator<number> {
  const full = checkPlace(order.samples, place);
  const count = Math.floor((order.samples - full.sampleInEpoch) / full.worldSize);
  for (const k of workerRankIndexes(count, full.worker, full.numWorkers, full.batchSize)) yield order.at(rankPosition(full, k));
}
