// The sample order of an epoch as a pure function of (version's spans, seed, epoch, canonical
// buckets), in the manner of Mosaic Streaming's py1b shuffle (streaming/base/shuffle/py1b.py):
// spans permuted once per seed, the permuted sequence cut into C canonical buckets balanced by
// samples, per epoch the pieces of each bucket permuted and its samples shuffled within blocks,
// and the buckets interleaved position by position (as partition/orig.py interleaves canonical
// nodes). Exact definitions and test vectors: docs/dataset-order.md.
//
// Memory: the span permutation (O(spans)), the pieces of the buckets touched, and one block of
// samples per touched bucket; a sample's global index is computed on demand, so a worker never
// holds the O(samples) permutation of Mosaic's get_shuffle.
import { invariant, StrataError } from "../errors.ts";
import { fisherYates, generatorFor, PURPOSE } from "./splitmix64.ts";
import { spansOf, type Spans } from "./order-version.ts";

export const DEFAULT_CANONICAL_BUCKETS = 64;
/**
 * Spans' worth of samples a block holds: B = BLOCK_SPANS × span_samples. Part of the order's
 * definition (span_samples is the version's), so not in the resume state. Small, so that a reader
 * keeps about BLOCK_SPANS + 1 pieces per bucket in use (docs/dataset-order.md, "Working set").
 */
export const BLOCK_SPANS = 2;
export const MAX_CANONICAL_BUCKETS = 2 ** 20;

export interface OrderOptions {
  readonly seed: number;
  /** C; defaults to min(DEFAULT_CANONICAL_BUCKETS, spans) (at least 1). Buckets actually used: min(C, samples). */
  readonly canonicalBuckets?: number;
  /** false: every epoch is the identity order (position i is sample i). */
  readonly shuffle?: boolean;
  /** Only for the small test vectors; the order's definition uses BLOCK_SPANS × span_samples. */
  readonly blockSize?: number;
}

/** The largest k with prefix[k] <= x, for an ascending prefix with prefix[0] = 0 <= x < prefix[count]. */
function locate(prefix: Float64Array, x: number, count: number): number {
  let lo = 0;
  let hi = count - 1;
  while (lo < hi) {
    const mid = (lo + hi + 1) >>> 1;
    if (prefix[mid]! <= x) lo = mid;
    else hi = mid - 1;
  }
  return lo;
}

function nonNegativeSafe(value: number, name: string): bigint {
  if (!Number.isSafeInteger(value) || value < 0) throw new StrataError("BAD_REQUEST", `${name} must be an integer in [0, 2^53), got ${value}`);
  return BigInt(value);
}

/** A bucket's pieces (runs of consecutive global indexes) in the epoch's order, with their prefix sums. */
interface BucketPieces {
  readonly starts: Float64Array;
  readonly prefix: Float64Array;
}

type BlockState = { readonly kind: "none" } | { readonly kind: "ready"; readonly index: number; readonly samples: Float64Array };

type BucketState = { readonly kind: "unopened" } | { readonly kind: "open"; readonly pieces: BucketPieces; block: BlockState };

/** What stays fixed for a (version, seed, C): the span permutation and the bucket boundaries. */
export class DatasetOrder {
  readonly samples: number;
  readonly buckets: number;
  readonly canonicalBuckets: number;
  readonly seed: number;
  readonly shuffle: boolean;
  readonly blockSize: number;
  readonly #spans: Spans;
  /** Span ids in the seed's order, and the samples before each in that order (length spans + 1). */
  readonly #permuted: Uint32Array;
  readonly #permutedPrefix: Float64Array;
  /** Buckets that hold one sample more than floor(samples / buckets), ascending. */
  readonly #longBuckets: Uint32Array;
  readonly #shortLength: number;

  constructor(version: unknown, options: OrderOptions) {
    this.#spans = spansOf(version);
    this.samples = this.#spans.samples;
    this.seed = options.seed;
    const seed = nonNegativeSafe(options.seed, "seed");
    const c = options.canonicalBuckets ?? Math.max(1, Math.min(DEFAULT_CANONICAL_BUCKETS, this.#spans.lengths.length));
    if (!Number.isSafeInteger(c) || c < 1 || c > MAX_CANONICAL_BUCKETS) {
      throw new StrataError("BAD_REQUEST", `canonical_buckets must be an integer in [1, ${MAX_CANONICAL_BUCKETS}], got ${c}`);
    }
    this.canonicalBuckets = c;
    this.buckets = Math.min(c, this.samples);
    this.shuffle = options.shuffle ?? true;
    this.blockSize = options.blockSize ?? BLOCK_SPANS * this.#spans.spanSamples;
    invariant(Number.isSafeInteger(this.blockSize) && this.blockSize >= 1, "block size is a positive integer");

    const spanCount = this.#spans.lengths.length;
    this.#permuted = new Uint32Array(spanCount);
    for (let k = 0; k < spanCount; k++) this.#permuted[k] = k;
    if (this.shuffle) fisherYates(this.#permuted, generatorFor(seed, PURPOSE.spans, 0n, 0n));
    this.#permutedPrefix = new Float64Array(spanCount + 1);
    for (let k = 0; k < spanCount; k++) this.#permutedPrefix[k + 1] = this.#permutedPrefix[k]! + this.#spans.lengths[this.#permuted[k]!]!;

    this.#shortLength = this.buckets === 0 ? 0 : Math.floor(this.samples / this.buckets);
    const long: number[] = [];
    for (let b = 0; b < this.buckets; b++) if (this.bucketLength(b) > this.#shortLength) long.push(b);
    this.#longBuckets = Uint32Array.from(long);
    invariant(this.#shortLength * this.buckets + long.length === this.samples, "bucket lengths add up to the samples");
  }

  /** Where bucket b starts in the seed's permuted sequence: floor(b * samples / buckets). */
  bucketStart(b: number): number {
    return Number((BigInt(b) * BigInt(this.samples)) / BigInt(this.buckets));
  }

  bucketLength(b: number): number {
    return this.bucketStart(b + 1) - this.bucketStart(b);
  }

  /** The order of epoch `epoch`. */
  epoch(epoch: number): EpochOrder {
    return new EpochOrder(this, nonNegativeSafe(epoch, "epoch"), epoch);
  }

  /** Bucket b's pieces in the seed's order: the permuted spans cut to the bucket's range. */
  piecesOf(b: number): { starts: Float64Array; lengths: Float64Array } {
    const lo = this.bucketStart(b);
    const hi = this.bucketStart(b + 1);
    invariant(lo < hi, `bucket ${b} is not empty`);
    const spanCount = this.#permuted.length;
    const first = locate(this.#permutedPrefix, lo, spanCount);
    const last = locate(this.#permutedPrefix, hi - 1, spanCount);
    const starts = new Float64Array(last - first + 1);
    const lengths = new Float64Array(last - first + 1);
    for (let k = first; k <= last; k++) {
      const spanLo = this.#permutedPrefix[k]!;
      const from = Math.max(lo, spanLo) - spanLo;
      const to = Math.min(hi, this.#permutedPrefix[k + 1]!) - spanLo;
      starts[k - first] = this.#spans.starts[this.#permuted[k]!]! + from;
      lengths[k - first] = to - from;
    }
    return { starts, lengths };
  }

  /** Global position -> (bucket, index in the bucket): round-robin over all buckets, then the long buckets' last samples. */
  bucketOf(position: number): { bucket: number; local: number } {
    const full = this.#shortLength * this.buckets;
    if (position < full) return { bucket: position % this.buckets, local: Math.floor(position / this.buckets) };
    return { bucket: this.#longBuckets[position - full]!, local: this.#shortLength };
  }
}

export class EpochOrder {
  readonly order: DatasetOrder;
  readonly epoch: number;
  readonly #epochKey: bigint;
  readonly #seedKey: bigint;
  readonly #buckets: BucketState[];

  constructor(order: DatasetOrder, epochKey: bigint, epoch: number) {
    this.order = order;
    this.epoch = epoch;
    this.#epochKey = epochKey;
    this.#seedKey = BigInt(order.seed);
    this.#buckets = Array.from({ length: order.buckets }, () => ({ kind: "unopened" }));
  }

  get samples(): number {
    return this.order.samples;
  }

  /** The global sample index at position `position` of the epoch. */
  at(position: number): number {
    const order = this.order;
    if (!Number.isSafeInteger(position) || position < 0 || position >= order.samples) {
      throw new StrataError("BAD_REQUEST", `position ${position} is outside the epoch's [0, ${order.samples})`);
    }
    if (!order.shuffle) return position;
    const { bucket, local } = order.bucketOf(position);
    const index = Math.floor(local / order.blockSize);
    const block = this.#block(bucket, index);
    return block[local - index * order.blockSize]!;
  }

  #open(bucket: number): { kind: "open"; pieces: BucketPieces; block: BlockState } {
    const state = this.#buckets[bucket]!;
    if (state.kind === "open") return state;
    const { starts, lengths } = this.order.piecesOf(bucket);
    const permutation = new Uint32Array(starts.length);
    for (let k = 0; k < permutation.length; k++) permutation[k] = k;
    fisherYates(permutation, generatorFor(this.#seedKey, PURPOSE.pieces, this.#epochKey, BigInt(bucket)));
    const ordered = new Float64Array(starts.length);
    const prefix = new Float64Array(starts.length + 1);
    for (let k = 0; k < permutation.length; k++) {
      ordered[k] = starts[permutation[k]!]!;
      prefix[k + 1] = prefix[k]! + lengths[permutation[k]!]!;
    }
    invariant(prefix[starts.length] === this.order.bucketLength(bucket), "a bucket's pieces hold its samples");
    const opened = { kind: "open" as const, pieces: { starts: ordered, prefix }, block: { kind: "none" } as BlockState };
    this.#buckets[bucket] = opened;
    return opened;
  }

  /** Block `index` of a bucket, shuffled: the bucket's samples [index * B, (index + 1) * B) in piece order, then Fisher-Yates. */
  #block(bucket: number, index: number): Float64Array {
    const state = this.#open(bucket);
    if (state.block.kind === "ready" && state.block.index === index) return state.block.samples;
    const size = this.order.blockSize;
    const bucketLength = this.order.bucketLength(bucket);
    const from = index * size;
    invariant(from < bucketLength, `block ${index} starts inside bucket ${bucket}`);
    invariant(index < 2 ** 32, "a bucket has fewer than 2^32 blocks");
    const samples = new Float64Array(Math.min(size, bucketLength - from));
    const { starts, prefix } = state.pieces;
    let piece = locate(prefix, from, starts.length);
    for (let t = 0; t < samples.length; t++) {
      const local = from + t;
      while (prefix[piece + 1]! <= local) piece++;
      samples[t] = starts[piece]! + (local - prefix[piece]!);
    }
    fisherYates(samples, generatorFor(this.#seedKey, PURPOSE.block, this.#epochKey, (BigInt(bucket) << 32n) | BigInt(index)));
    state.block = { kind: "ready", index, samples };
    return samples;
  }
}
