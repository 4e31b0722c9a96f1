"""Reads a dataset version's samples at a sequence of global indexes by whole spans (or pieces).

A span is a run of ``span_samples`` consecutive samples of one partition (the order's shuffle
unit, stored contiguously). Reading whole spans with range reads (``GET …/samples?start&count``)
costs the gateway one sequential read each, where reading shuffled samples one by one would cost a
stored batch per sample. Background threads fetch the spans of the next positions in the order
they are first needed; a span stays cached while positions in the look-ahead still need it.

The fetch unit is given by ``unit_of`` (global index -> (start, count)): ``strata.Dataset`` passes
the order's ``piece_of``, a span cut to its canonical bucket, since the two parts of a span cut by
a bucket edge are read at unrelated times. A shuffled epoch needs about ``BLOCK_SPANS + 1`` pieces
of every bucket it touches at once (docs/dataset-order.md, "Working set"); with ``prefetch_bytes``
at least that and a look-ahead of two blocks' positions, every piece is fetched once per epoch
(``fetch_counts`` counts fetches per unit). Queued units that follow each other in global order
are fetched together, in one range read of up to ``COALESCE_BYTES``, while the estimate of the
bytes cached and in flight stays within ``prefetch_bytes`` (``requests`` lists each read's units).

Memory: a fetch starts only while cached spans hold under ``prefetch_bytes`` of response bytes;
past it, the cached span needed last is evicted (Belady's choice) when it is needed after the
span to fetch, and read again when its turn comes. The span the consumer waits for is always
fetched. A fetch is claimed only while the cache holds under ``prefetch_bytes`` (after evicting),
so the cache holds at most ``prefetch_bytes`` plus one request per fetch thread
(``largest_request_bytes``: one unit, or units coalesced while their estimate fitted the bound), and
a slow consumer stops the read-ahead. A bound smaller than the spans a shuffled epoch keeps in use (it
interleaves its canonical buckets) means spans are read more than once.
"""

from __future__ import annotations

import heapq
import itertools
import logging
import threading
from collections import deque
from dataclasses import dataclass
from typing import Any, Callable, Iterable, Iterator, Sequence

from .client import Client
from .errors import StrataError

log = logging.getLogger("strata.dataset")

LOOKAHEAD = 16384  # positions of the sequence known ahead of the consumer
# Queued pieces that follow each other in global order are fetched in one range read of up to this
# many (estimated) bytes, within prefetch_bytes: small pieces keep a shuffled epoch's working set
# small, and an in-order read still makes large requests.
COALESCE_BYTES = 8 * 1024 * 1024
_EXTEND = 512  # positions added to the look-ahead at a time


@dataclass(frozen=True)
class Span:
    start: int  # global index of its first sample
    count: int


class SpanMap:
    """Global index -> its span, from a version's partitions and span_samples."""

    def __init__(self, info: dict) -> None:
        self.span_samples = int(info["span_samples"])
        parts = [p for p in info["partitions"] if p["samples"] > 0]
        self._firsts = [int(p["first_index"]) for p in parts]
        self._ends = [int(p["first_index"]) + int(p["samples"]) for p in parts]

    def span_of(self, g: int) -> Span:
        lo, hi = 0, len(self._firsts) - 1
        while lo < hi:
            mid = (lo + hi + 1) // 2
            if self._firsts[mid] <= g:
                lo = mid
            else:
                hi = mid - 1
        first, end = self._firsts[lo], self._ends[lo]
        if not first <= g < end:
            raise StrataError("INTERNAL", f"invariant violated: index {g} lies in no partition")
        start = first + (g - first) // self.span_samples * self.span_samples
        return Span(start, min(self.span_samples, end - start))


class SpanReader:
    def __init__(
        self,
        client: Client,
        name: str,
        version: int,
        info: dict,
        indexes: Iterable[int],
        total: int,
        fields: Sequence[str] | None = None,
        prefetch_bytes: int = 256 * 1024 * 1024,
        threads: int = 2,
        tensor_format: str = "numpy",
        unit_of: Callable[[int], tuple[int, int]] | None = None,
        lookahead: int = LOOKAHEAD,
    ) -> None:
        if prefetch_bytes < 1 or threads < 1 or lookahead < 2 * _EXTEND:
            raise StrataError("BAD_REQUEST", f"prefetch_bytes and threads must be positive and lookahead at least {2 * _EXTEND}")
        self._client = client
        self._name = name
        self._version = version
        if unit_of is None:
            span_of = SpanMap(info).span_of
        else:
            units = unit_of

            def span_of(g: int) -> Span:
                start, count = units(g)
                return Span(start, count)

        self._span_of = span_of
        self._lookahead = lookahead
        self.fetch_counts: dict[Span, int] = {}  # fetches per unit (more than 1: read again after an eviction)
        self._indexes = iter(indexes)
        self._total = total
        self._fields = list(fields) if fields is not None else None
        self._prefetch_bytes = prefetch_bytes
        self._tensor_format = tensor_format
        # Shared state, under one condition variable.
        self._cond = threading.Condition()
        self._ahead: deque[tuple[int, int, Span]] = deque()  # the next positions: (position, global index, its span)
        self._drawn = 0  # indexes drawn from the sequence so far (the next position's number)
        self._needs: dict[Span, deque[int]] = {}  # the positions of the look-ahead that need each span, ascending
        self._queue: list[tuple[int, int, int, Span]] = []  # heap of spans to fetch by the position that needs them next
        self._queued: dict[Span, int] = {}  # queued span -> its heap entry's number (older entries are stale)
        self._queued_by_start: dict[int, Span] = {}
        self._entries = 0
        self._inflight_estimate = 0.0  # estimated bytes of the coalesced units in flight
        self._fetched_bytes = 0
        self._fetched_samples = 0
        self.requests: list[tuple[Span, ...]] = []  # the units of each range read, in the order they were claimed
        self._inflight: set[Span] = set()
        self._cache: dict[Span, tuple[list[dict], int]] = {}  # span -> (its samples, response bytes)
        self._cached_bytes = 0
        self.peak_cached_bytes = 0  # the most bytes cached at once (the read-ahead bound's witness)
        self._waiting_for: Span | None = None
        self.evictions = 0  # spans dropped while still needed (each is read again)
        self.largest_request_bytes = 0  # the largest response of one claimed fetch (the bound's per-thread term)
        self._stopped = False
        self._failure: BaseException | None = None
        self._running = threads
        self._threads = [threading.Thread(target=self._fetch_loop, name=f"strata-span-{i}", daemon=True) for i in range(threads)]
        for thread in self._threads:
            thread.start()

    def __len__(self) -> int:
        return self._total

    def close(self) -> None:
        with self._cond:
            self._stopped = True
            self._cond.notify_all()

    def _extend(self, n: int) -> None:
        """Draws up to n more positions into the look-ahead (caller holds the lock)."""
        n = min(n, self._total - self._drawn)
        for g in itertools.islice(self._indexes, n):
            span = self._span_of(int(g))
            position = self._drawn
            self._ahead.append((position, int(g), span))
            self._needs.setdefault(span, deque()).append(position)
            if span not in self._cache and span not in self._inflight:
                self._enqueue(span)
            self._drawn += 1
        self._cond.notify_all()

    def _enqueue(self, span: Span) -> None:
        if span not in self._queued:
            self._entries += 1
            heapq.heappush(self._queue, (self._needs[span][0], span.start, self._entries, span))
            self._queued[span] = self._entries
            self._queued_by_start[span.start] = span

    def _unqueue(self, span: Span) -> None:
        del self._queued[span]
        del self._queued_by_start[span.start]

    def _coalesce(self, head: Span, needed_at: int) -> tuple[list[Span], float]:
        """The head and the queued units that follow it in global order and are needed soon after it (by the
        time the samples before them are read, twice over), within COALESCE_BYTES and the bound (estimated
        from the bytes per sample fetched so far); their estimated bytes (caller holds the lock).

        An in-order read coalesces; a shuffled one rarely does, since a unit needed much later would hold
        bytes of the bound that the units needed before it must then evict."""
        group = [head]
        if self._fetched_samples == 0:
            return group, 0.0  # no estimate yet: the first read stays small, for a fast first sample
        per_sample = self._fetched_bytes / self._fetched_samples * 1.125  # a margin over the average
        size = head.count * per_sample
        estimate = 0.0
        covered = head.count
        following = self._queued_by_start.get(head.start + head.count)
        # A following unit comes along only if no other queued unit is needed before it: units are then
        # fetched in the order they are first needed, so coalescing never brings in a unit that eviction
        # would pick over one still queued (with the working set as the bound, nothing is evicted).
        while (
            following is not None
            and self._needs[following][0] <= needed_at + 2 * covered
            and self._needs[following][0] <= self._next_queued_need()
        ):
            extra = following.count * per_sample
            # The head counts too: a coalesced request is estimated to fit the bound whole.
            if size + extra > COALESCE_BYTES or self._cached_bytes + self._inflight_estimate + size + extra > self._prefetch_bytes:
                break
            self._unqueue(following)
            group.append(following)
            size += extra
            estimate += extra
            covered += following.count
            following = self._queued_by_start.get(following.start + following.count)
        return group, estimate

    def _next_queued_need(self) -> float:
        """The first need of the queued unit needed first, or infinity (caller holds the lock)."""
        while self._queue and self._queued.get(self._queue[0][3]) != self._queue[0][2]:
            heapq.heappop(self._queue)  # stale: claimed with another unit, or queued again since
        return self._queue[0][0] if self._queue else float("inf")

    def _evict_for(self, position: int) -> bool:
        """Evicts the cached span needed last, if it is needed after `position` (Belady's choice); whether it did."""
        victim = max(self._cache, key=lambda s: self._needs[s][0])
        if self._needs[victim][0] <= position:
            return False
        _, nbytes = self._cache.pop(victim)
        self._cached_bytes -= nbytes
        if self.evictions == 0:
            log.warning("prefetch_bytes (%d) is under the spans this order keeps in use: spans are read more than once; a larger prefetch_bytes avoids it", self._prefetch_bytes)
        self.evictions += 1
        self._enqueue(victim)  # read again when its turn comes
        return True

    def __iter__(self) -> Iterator[dict[str, Any]]:
        cond = self._cond
        try:
            for _ in range(self._total):
                with cond:
                    if len(self._ahead) < self._lookahead // 2 and self._drawn < self._total:
                        self._extend(_EXTEND if self._ahead else min(_EXTEND, 16))
                    if not self._ahead:
                        raise StrataError("INTERNAL", "invariant violated: the sequence ended before its announced length")
                    position, g, span = self._ahead.popleft()
                    while span not in self._cache:
                        if self._failure is not None:
                            raise self._failure
                        if self._running == 0:
                            raise StrataError("INTERNAL", "span fetchers ended before the sequence was read")
                        self._waiting_for = span
                        cond.notify_all()
                        cond.wait()
                    self._waiting_for = None
                    samples, nbytes = self._cache[span]
                    sample = samples[g - span.start]
                    needs = self._needs[span]
                    if needs.popleft() != position:
                        raise StrataError("INTERNAL", "invariant violated: a span's needs are served in position order")
                    if not needs:  # no position in the look-ahead needs it: free its bytes
                        del self._needs[span]
                        del self._cache[span]
                        self._cached_bytes -= nbytes
                        cond.notify_all()
                yield sample
        finally:
            self.close()

    # ---- fetchers ----

    def _claim(self) -> tuple[list[Span], float] | None:
        cond = self._cond
        with cond:
            while True:
                if self._stopped:
                    return None
                self._next_queued_need()  # drops stale heap entries
                if not self._queue and self._drawn < self._total and len(self._ahead) < self._lookahead:
                    self._extend(_EXTEND)
                    continue
                if self._queue:
                    needed_at, _, _, head = self._queue[0]
                    if self._cached_bytes >= self._prefetch_bytes and self._cache and self._evict_for(needed_at):
                        continue
                    # Within the bound, or nothing cached, or the span the consumer waits for (the heap's
                    # head: every other span is needed later), fetched even when nothing could be evicted.
                    if self._cached_bytes < self._prefetch_bytes or not self._cache or head == self._waiting_for:
                        heapq.heappop(self._queue)
                        self._unqueue(head)
                        group, estimate = self._coalesce(head, needed_at)
                        self._inflight_estimate += estimate
                        for unit in group:
                            self._inflight.add(unit)
                            self.fetch_counts[unit] = self.fetch_counts.get(unit, 0) + 1
                        self.requests.append(tuple(group))
                        return group, estimate
                elif self._drawn >= self._total and not self._inflight:
                    return None
                cond.wait()

    def _fetch_loop(self) -> None:
        try:
            while True:
                claimed = self._claim()
                if claimed is None:
                    return
                group, estimate = claimed
                samples, nbytes = self._fetch(group[0].start, sum(unit.count for unit in group))
                with self._cond:
                    self._inflight_estimate -= estimate
                    self._fetched_bytes += nbytes
                    self._fetched_samples += len(samples)
                    self.largest_request_bytes = max(self.largest_request_bytes, nbytes)
                    first = 0
                    for unit in group:
                        self._inflight.discard(unit)
                        if self._needs.get(unit):
                            # Response bytes shared out by samples: the bound counts them per unit.
                            share = nbytes * unit.count // len(samples)
                            self._cache[unit] = (samples[first : first + unit.count], share)
                            self._cached_bytes += share
                        first += unit.count
                    self.peak_cached_bytes = max(self.peak_cached_bytes, self._cached_bytes)
                    self._cond.notify_all()
        except BaseException as error:  # noqa: BLE001 - handed to the consumer, which raises it
            with self._cond:
                if self._failure is None:
                    self._failure = error
        finally:
            self._client.close()  # this thread's connection
            with self._cond:
                self._running -= 1
                self._cond.notify_all()

    def _fetch(self, start: int, count: int) -> tuple[list[dict], int]:
        """Samples [start, start + count), across as many range reads as the gateway's byte bound needs."""
        samples: list[dict] = []
        nbytes = 0
        session = self._client.session()
        while len(samples) < count:
            path, _ = self._client.samples_request(self._name, self._version, start + len(samples), count - len(samples), self._fields)
            response = session.request("GET", path)
            got = response.decode(self._tensor_format)["samples"]
            if not got:
                raise StrataError("INTERNAL", f"the gateway answered no samples for index {start + len(samples)}")
            samples.extend(got)
            nbytes += len(response.body)
        return samples, nbytes
