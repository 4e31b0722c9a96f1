"""The deterministic sample order of a dataset epoch, who reads which positions, and the resume state.

The same functions as TypeScript's core/datasets (docs/dataset-order.md has the exact definitions
and the test vectors both are checked against). In the manner of Mosaic Streaming's py1b shuffle
(streaming/base/shuffle/py1b.py): spans permuted once per seed, cut into C canonical buckets
balanced by samples, per epoch each bucket's pieces permuted and its samples shuffled within
blocks, the buckets interleaved position by position (as partition/orig.py interleaves canonical
nodes). Every worker computes its own positions: no shared memory, file locks or barriers.

Memory: the span permutation, the pieces of the buckets touched and one block of samples per
touched bucket; a sample's global index is computed on demand.
"""

from __future__ import annotations

from array import array
from bisect import bisect_right
from math import gcd
from typing import Any, Iterator, Mapping, MutableSequence

from .errors import StrataError

MASK64 = (1 << 64) - 1
GOLDEN_GAMMA = 0x9E3779B97F4A7C15
_MIX_1 = 0xBF58476D1CE4E5B9
_MIX_2 = 0x94D049BB133111EB

PURPOSE_SPANS = 1
PURPOSE_PIECES = 2
PURPOSE_BLOCK = 3

DEFAULT_CANONICAL_BUCKETS = 64
# Spans' worth of samples a block holds: B = BLOCK_SPANS * span_samples (part of the order's definition;
# small, so that a reader keeps about BLOCK_SPANS + 1 pieces per bucket in use: docs/dataset-order.md).
BLOCK_SPANS = 2
MAX_CANONICAL_BUCKETS = 1 << 20
MAX_SAFE_INTEGER = (1 << 53) - 1

STATE_FIELDS = ("dataset", "version", "seed", "epoch", "sample_in_epoch", "canonical_buckets")


def _bad(message: str) -> StrataError:
    return StrataError("BAD_REQUEST", message)


def mix64(x: int) -> int:
    """The first output of SplitMix64 from state x: the finaliser of (x + gamma) mod 2^64."""
    z = (x + GOLDEN_GAMMA) & MASK64
    z = ((z ^ (z >> 30)) * _MIX_1) & MASK64
    z = ((z ^ (z >> 27)) * _MIX_2) & MASK64
    return z ^ (z >> 31)


def generator_key(seed: int, purpose: int, a: int, b: int) -> int:
    """mix64(mix64(mix64(mix64(seed) xor purpose) xor a) xor b): no (seed, purpose) pair shares a state with another."""
    return mix64(mix64(mix64(mix64(seed & MASK64) ^ purpose) ^ (a & MASK64)) ^ (b & MASK64))


class SplitMix64:
    __slots__ = ("state",)

    def __init__(self, state: int) -> None:
        self.state = state & MASK64

    def next(self) -> int:
        """The next output: the finaliser of the state, which then advances by gamma."""
        out = mix64(self.state)
        self.state = (self.state + GOLDEN_GAMMA) & MASK64
        return out

    def below(self, n: int) -> int:
        """Uniform in [0, n): the top bit_length(n - 1) bits of an output, drawn again while >= n."""
        if n < 1:
            raise StrataError("INTERNAL", f"invariant violated: below(n) needs n >= 1, got {n}")
        if n == 1:
            return 0
        shift = 64 - (n - 1).bit_length()
        while True:
            x = self.next() >> shift
            if x < n:
                return x


def generator_for(seed: int, purpose: int, a: int, b: int) -> SplitMix64:
    return SplitMix64(generator_key(seed, purpose, a, b))


def fisher_yates(items: MutableSequence[Any], rng: SplitMix64) -> MutableSequence[Any]:
    """Durstenfeld's Fisher-Yates in place: for i from len-1 down to 1, swap items i and below(i + 1).

    The generator is inlined (the same arithmetic as SplitMix64.next/below): this loop is most of
    the order's cost in Python.
    """
    state = rng.state
    for i in range(len(items) - 1, 0, -1):
        n = i + 1
        shift = 64 - i.bit_length()
        while True:
            z = (state + GOLDEN_GAMMA) & MASK64
            state = z
            z = ((z ^ (z >> 30)) * _MIX_1) & MASK64
            z = ((z ^ (z >> 27)) * _MIX_2) & MASK64
            x = (z ^ (z >> 31)) >> shift
            if x < n:
                break
        items[i], items[x] = items[x], items[i]
    rng.state = state
    return items


def _count(value: Any, name: str, where: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0 or value > MAX_SAFE_INTEGER:
        raise _bad(f"{where}: {name} must be an integer in [0, 2^53), got {value!r}")
    return value


def spans_of(version: Mapping[str, Any]) -> tuple[list[int], list[int], int, int]:
    """Validates a version (partitions tile 0..samples-1 in order) and lists its spans in global order.

    Returns (starts, lengths, samples, span_samples): span k covers global indexes [starts[k], starts[k] + lengths[k]).
    """
    where = "dataset version"
    if not isinstance(version, Mapping):
        raise _bad(f"{where}: expected an object, got {type(version).__name__}")
    samples = _count(version.get("samples"), "samples", where)
    span_samples = version.get("span_samples")
    if isinstance(span_samples, bool) or not isinstance(span_samples, int) or not 1 <= span_samples < (1 << 32):
        raise _bad(f"{where}: span_samples must be an integer in [1, 2^32), got {span_samples!r}")
    partitions = version.get("partitions")
    if not isinstance(partitions, list):
        raise _bad(f"{where}: partitions must be a list, got {partitions!r}")
    starts: list[int] = []
    lengths: list[int] = []
    following = 0
    for i, p in enumerate(partitions):
        if not isinstance(p, Mapping):
            raise _bad(f"{where}: partitions[{i}] must be an object")
        first = _count(p.get("first_index"), f"partitions[{i}].first_index", where)
        count = _count(p.get("samples"), f"partitions[{i}].samples", where)
        if first != following:
            raise _bad(f"{where}: partition {p.get('partition')} has first_index {first}, expected {following} (partitions tile the global indexes in order)")
        for offset in range(0, count, span_samples):
            starts.append(first + offset)
            lengths.append(min(span_samples, count - offset))
        following += count
    if following != samples:
        raise _bad(f"{where}: partitions hold {following} samples, the version says {samples}")
    return starts, lengths, samples, span_samples


class DatasetOrder:
    """What stays fixed for a (version, seed, C): the span permutation and the bucket boundaries."""

    def __init__(self, version: Mapping[str, Any], seed: int, canonical_buckets: int | None = None, shuffle: bool = True, block_size: int | None = None) -> None:
        self._starts, self._lengths, self.samples, span_samples = spans_of(version)
        self.seed = _count(seed, "seed", "order")
        # The default: one bucket per span up to DEFAULT_CANONICAL_BUCKETS (a bucket of one-sample pieces would not shuffle).
        c = max(1, min(DEFAULT_CANONICAL_BUCKETS, len(self._lengths))) if canonical_buckets is None else canonical_buckets
        if isinstance(c, bool) or not isinstance(c, int) or not 1 <= c <= MAX_CANONICAL_BUCKETS:
            raise _bad(f"canonical_buckets must be an integer in [1, {MAX_CANONICAL_BUCKETS}], got {c!r}")
        self.canonical_buckets = c
        self.buckets = min(c, self.samples)
        self.shuffle = bool(shuffle)
        # block_size is only for the small test vectors; the order's definition is BLOCK_SPANS * span_samples.
        if block_size is None:
            block_size = BLOCK_SPANS * span_samples
        if isinstance(block_size, bool) or not isinstance(block_size, int) or block_size < 1:
            raise StrataError("INTERNAL", f"invariant violated: block size is a positive integer, got {block_size!r}")
        self.block_size = block_size
        permuted = array("I", range(len(self._lengths)))
        if self.shuffle:
            fisher_yates(permuted, generator_for(self.seed, PURPOSE_SPANS, 0, 0))
        self._permuted = permuted
        prefix = [0] * (len(permuted) + 1)
        for k, span in enumerate(permuted):
            prefix[k + 1] = prefix[k] + self._lengths[span]
        self._permuted_prefix = prefix
        self._span_rank: array | None = None  # span id -> its place in the permutation, built by piece_of
        self._short_length = self.samples // self.buckets if self.buckets else 0
        self._long_buckets = [b for b in range(self.buckets) if self.bucket_length(b) > self._short_length]
        if self._short_length * self.buckets + len(self._long_buckets) != self.samples:
            raise StrataError("INTERNAL", "invariant violated: bucket lengths add up to the samples")

    def bucket_start(self, b: int) -> int:
        """Where bucket b starts in the seed's permuted sequence: floor(b * samples / buckets)."""
        return b * self.samples // self.buckets

    def bucket_length(self, b: int) -> int:
        return self.bucket_start(b + 1) - self.bucket_start(b)

    def epoch(self, epoch: int) -> "EpochOrder":
        return EpochOrder(self, _count(epoch, "epoch", "order"))

    def pieces_of(self, b: int) -> tuple[list[int], list[int]]:
        """Bucket b's pieces in the seed's order: the permuted spans cut to the bucket's range."""
        lo, hi = self.bucket_start(b), self.bucket_start(b + 1)
        prefix = self._permuted_prefix
        first = bisect_right(prefix, lo, 0, len(self._permuted)) - 1
        last = bisect_right(prefix, hi - 1, 0, len(self._permuted)) - 1
        starts: list[int] = []
        lengths: list[int] = []
        for k in range(first, last + 1):
            span_lo = prefix[k]
            start = max(lo, span_lo) - span_lo
            stop = min(hi, prefix[k + 1]) - span_lo
            starts.append(self._starts[self._permuted[k]] + start)
            lengths.append(stop - start)
        return starts, lengths

    def piece_of(self, g: int) -> tuple[int, int]:
        """The piece holding global index g, as (first global index, samples): its span cut to its bucket.

        A piece is the unit a reader fetches: its samples are read together within one or two
        consecutive blocks of one bucket, so a fetched piece is never needed again afterwards.
        """
        if isinstance(g, bool) or not isinstance(g, int) or not 0 <= g < self.samples:
            raise _bad(f"sample {g!r} is outside the version's [0, {self.samples})")
        if self._span_rank is None:
            inverse = array("I", bytes(4 * len(self._permuted)))
            for k, span in enumerate(self._permuted):
                inverse[span] = k
            self._span_rank = inverse
        span = bisect_right(self._starts, g) - 1
        k = self._span_rank[span]
        span_lo, span_hi = self._permuted_prefix[k], self._permuted_prefix[k + 1]
        x = span_lo + (g - self._starts[span])  # g's place in the seed's permuted sequence
        b = ((x + 1) * self.buckets + self.samples - 1) // self.samples - 1  # the largest b with bucket_start(b) <= x
        lo, hi = max(span_lo, self.bucket_start(b)), min(span_hi, self.bucket_start(b + 1))
        if not lo <= x < hi:
            raise StrataError("INTERNAL", f"invariant violated: sample {g} lies in the piece [{lo}, {hi}) of bucket {b}")
        return self._starts[span] + (lo - span_lo), hi - lo

    def touched_buckets(self, world_size: int) -> int:
        """Buckets one rank of world_size reads: position p is in bucket p mod C', so C' / gcd(R, C')."""
        return self.buckets // gcd(_positive(world_size, "world_size"), self.buckets) if self.buckets else 0

    def bucket_of(self, position: int) -> tuple[int, int]:
        """Global position -> (bucket, index in the bucket): round-robin over all buckets, then the long buckets' last samples."""
        full = self._short_length * self.buckets
        if position < full:
            return position % self.buckets, position // self.buckets
        return self._long_buckets[position - full], self._short_length


class EpochOrder:
    """The order of one epoch: at(position) is the global sample index at that position."""

    def __init__(self, order: DatasetOrder, epoch: int) -> None:
        self.order = order
        self.epoch = epoch
        self.samples = order.samples
        # Per bucket: None (unopened) or [piece_starts, piece_prefix, block_index, block_samples].
        self._buckets: list[list[Any] | None] = [None] * order.buckets

    def at(self, position: int) -> int:
        order = self.order
        if isinstance(position, bool) or not isinstance(position, int) or not 0 <= position < order.samples:
            raise _bad(f"position {position!r} is outside the epoch's [0, {order.samples})")
        if not order.shuffle:
            return position
        bucket, local = order.bucket_of(position)
        index = local // order.block_size
        return self._block(bucket, index)[local - index * order.block_size]

    def _open(self, bucket: int) -> list[Any]:
        state = self._buckets[bucket]
        if state is not None:
            return state
        starts, lengths = self.order.pieces_of(bucket)
        permutation = list(range(len(starts)))
        fisher_yates(permutation, generator_for(self.order.seed, PURPOSE_PIECES, self.epoch, bucket))
        ordered = [starts[k] for k in permutation]
        prefix = [0] * (len(starts) + 1)
        for i, k in enumerate(permutation):
            prefix[i + 1] = prefix[i] + lengths[k]
        if prefix[-1] != self.order.bucket_length(bucket):
            raise StrataError("INTERNAL", "invariant violated: a bucket's pieces hold its samples")
        state = [ordered, prefix, -1, None]
        self._buckets[bucket] = state
        return state

    def _block(self, bucket: int, index: int) -> Any:
        state = self._open(bucket)
        if state[2] == index:
            return state[3]
        size = self.order.block_size
        bucket_length = self.order.bucket_length(bucket)
        start = index * size
        if not start < bucket_length or index >= (1 << 32):
            raise StrataError("INTERNAL", f"invariant violated: block {index} lies inside bucket {bucket}")
        stop = min(start + size, bucket_length)
        starts, prefix = state[0], state[1]
        piece = bisect_right(prefix, start, 0, len(starts)) - 1
        samples = array("q")  # 8 bytes a sample: a worker holds one block per bucket it touches
        local = start
        while local < stop:
            # The piece's run of consecutive global indexes, cut to the block.
            run_stop = min(stop, prefix[piece + 1])
            base = starts[piece] - prefix[piece]
            samples.extend(range(base + local, base + run_stop))
            local = run_stop
            piece += 1
        fisher_yates(samples, generator_for(self.order.seed, PURPOSE_BLOCK, self.epoch, (bucket << 32) | index))
        state[2], state[3] = index, samples
        return samples


def _positive(value: Any, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise _bad(f"{name} must be a positive integer, got {value!r}")
    return value


def _check_place(samples: int, sample_in_epoch: int, rank: int, world_size: int, worker: int, num_workers: int, batch_size: int) -> None:
    _positive(world_size, "world_size")
    _positive(num_workers, "num_workers")
    _positive(batch_size, "batch_size")
    if isinstance(rank, bool) or not isinstance(rank, int) or not 0 <= rank < world_size:
        raise _bad(f"rank must be in [0, {world_size}), got {rank!r}")
    if isinstance(worker, bool) or not isinstance(worker, int) or not 0 <= worker < num_workers:
        raise _bad(f"worker must be in [0, {num_workers}), got {worker!r}")
    if isinstance(sample_in_epoch, bool) or not isinstance(sample_in_epoch, int) or not 0 <= sample_in_epoch <= samples:
        raise _bad(f"sample_in_epoch must be in [0, {samples}], got {sample_in_epoch!r}")


def rank_sample_count(samples: int, sample_in_epoch: int, world_size: int) -> int:
    """Samples each rank reads in the rest of the epoch: floor((samples - sample_in_epoch) / world_size).

    The last (samples - sample_in_epoch) mod world_size positions are dropped for the epoch
    (drop_last), so every rank has the same count.
    """
    _check_place(samples, sample_in_epoch, 0, world_size, 0, 1, 1)
    return (samples - sample_in_epoch) // world_size


def rank_position(sample_in_epoch: int, rank: int, world_size: int, k: int) -> int:
    """The epoch position of the rank's k-th sample."""
    return sample_in_epoch + k * world_size + rank


def worker_sample_count(count: int, worker: int, num_workers: int, batch_size: int) -> int:
    """Samples worker w reads of its rank's count: whole chunks k = w, w + W, ... of batch_size, the last possibly short."""
    full_chunks, tail = divmod(count, batch_size)
    n = (full_chunks // num_workers) * batch_size
    if full_chunks % num_workers > worker:
        n += batch_size
    if tail and full_chunks % num_workers == worker:
        n += tail
    return n


def worker_rank_indexes(count: int, worker: int, num_workers: int, batch_size: int) -> Iterator[int]:
    """The rank-local indexes k (0 <= k < count) of a worker, in order: chunk c of batch_size goes to worker c mod W."""
    for chunk_start in range(worker * batch_size, count, num_workers * batch_size):
        yield from range(chunk_start, min(chunk_start + batch_size, count))


def positions_for(order: EpochOrder, sample_in_epoch: int = 0, rank: int = 0, world_size: int = 1, worker: int = 0, num_workers: int = 1, batch_size: int = 1) -> Iterator[int]:
    """The global sample indexes a reader reads in the rest of the epoch, lazily, in order."""
    _check_place(order.samples, sample_in_epoch, rank, world_size, worker, num_workers, batch_size)
    count = (order.samples - sample_in_epoch) // world_size
    at = order.at
    for k in worker_rank_indexes(count, worker, num_workers, batch_size):
        yield at(sample_in_epoch + k * world_size + rank)


def parse_state(state: Any, name: str | None = None, version: int | None = None, samples: int | None = None) -> dict[str, Any]:
    """Validates a resume state; with name/version/samples, also that it belongs to that dataset version and fits in it.

    Raises StrataError BAD_REQUEST naming the field, or naming both datasets/versions.
    """
    where = "resume state"
    if not isinstance(state, Mapping):
        raise _bad(f"{where}: expected an object with {', '.join(STATE_FIELDS)}, got {type(state).__name__}")
    missing = [f for f in STATE_FIELDS if f not in state]
    if missing:
        raise _bad(f"{where}: {missing[0]}: missing")
    extra = sorted(str(k) for k in state if k not in STATE_FIELDS)
    if extra:
        raise _bad(f"{where}: {extra[0]}: unknown field")
    dataset = state["dataset"]
    if not isinstance(dataset, str) or dataset == "":
        raise _bad(f"{where}: dataset: expected a non-empty string, got {dataset!r}")
    for field in ("version", "seed", "epoch", "sample_in_epoch"):
        _count(state[field], field, where)
    c = state["canonical_buckets"]
    if isinstance(c, bool) or not isinstance(c, int) or not 1 <= c <= MAX_CANONICAL_BUCKETS:
        raise _bad(f"{where}: canonical_buckets must be an integer in [1, {MAX_CANONICAL_BUCKETS}], got {c!r}")
    if name is not None and version is not None and (dataset != name or state["version"] != version):
        raise _bad(f"{where} is for dataset {dataset!r} version {state['version']}, not {name!r} version {version}")
    if samples is not None and state["sample_in_epoch"] > samples:
        raise _bad(f"{where}: sample_in_epoch {state['sample_in_epoch']} is past the version's {samples} samples")
    return {f: state[f] for f in STATE_FIELDS}
