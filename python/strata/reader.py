"""Reads a dataset version's samples at a sequence of global indexes, in that order.

Background threads fetch windows of the sequence (``GET …/samples?start&count`` for a contiguous
run, ``POST …/samples {"indexes"}`` otherwise), decode them and hand them over in sequence. The
decoded windows waiting for the consumer hold at most ``prefetch_bytes`` (response bytes; one
window is always allowed): a slow consumer stops the read-ahead instead of growing memory.
The first window is small so that the first sample arrives quickly; windows then grow to
``window_bytes`` worth of samples.
"""

from __future__ import annotations

import itertools
import threading
from dataclasses import dataclass, field
from typing import Any, Iterable, Iterator, Sequence

import numpy as np

from .client import Client
from .errors import StrataError

_FIRST_WINDOW = 8
_MAX_WINDOW = 4096


@dataclass
class _Window:
    """Window ``seq`` of the sequence and its samples, fetched and decoded."""

    seq: int
    samples: list[dict] = field(default_factory=list)
    nbytes: int = 0


class _State:
    """What the fetchers and the consumer share, under one condition variable."""

    def __init__(self, threads: int) -> None:
        self.cond = threading.Condition()
        self.next_position = 0  # next index into the sequence a fetcher claims
        self.next_seq = 0  # next window number a fetcher claims
        self.ready: dict[int, _Window] = {}
        self.buffered_bytes = 0  # bytes of fetched windows the consumer has not finished
        self.running = threads
        self.stopped = False
        self.avg_sample_bytes = 0.0
        self.failure: BaseException | None = None  # what stopped a fetcher; raised to the consumer


class SampleReader:
    def __init__(
        self,
        client: Client,
        name: str,
        version: int,
        indexes: Iterable[int],
        total: int,
        fields: Sequence[str] | None = None,
        prefetch_bytes: int = 256 * 1024 * 1024,
        window_bytes: int = 16 * 1024 * 1024,
        threads: int = 2,
        tensor_format: str = "numpy",
    ) -> None:
        if prefetch_bytes < 1 or window_bytes < 1 or threads < 1:
            raise StrataError("BAD_REQUEST", "prefetch_bytes, window_bytes and threads must be positive")
        self._client = client
        self._name = name
        self._version = version
        # Drawn lazily (under the lock) as fetchers claim windows: the order is computed as it is read.
        self._indexes = iter(indexes)
        self._total = total
        self._fields = list(fields) if fields is not None else None
        self._prefetch_bytes = prefetch_bytes
        self._window_bytes = min(window_bytes, prefetch_bytes)
        self._tensor_format = tensor_format
        self._state = _State(threads)
        self._threads = [threading.Thread(target=self._fetch_loop, name=f"strata-prefetch-{i}", daemon=True) for i in range(threads)]
        for thread in self._threads:
            thread.start()

    def __len__(self) -> int:
        return self._total

    def close(self) -> None:
        state = self._state
        with state.cond:
            state.stopped = True
            state.cond.notify_all()

    def __iter__(self) -> Iterator[dict]:
        state = self._state
        seq = 0
        served = 0
        try:
            while served < self._total:
                with state.cond:
                    while seq not in state.ready:
                        if state.failure is not None:
                            raise state.failure
                        if state.running == 0:
                            raise StrataError("INTERNAL", "prefetch threads ended before the sequence was read")
                        state.cond.wait()
                    window = state.ready.pop(seq)
                yield from window.samples
                served += len(window.samples)
                seq += 1
                with state.cond:
                    state.buffered_bytes -= window.nbytes
                    state.cond.notify_all()
        finally:
            self.close()

    # ---- fetchers ----

    def _claim(self) -> tuple[int, np.ndarray, int] | None:
        """The next window to fetch (seq, its indexes, bytes reserved), waiting while the buffer is full."""
        state = self._state
        with state.cond:
            while not state.stopped and state.next_position < self._total and state.buffered_bytes >= self._prefetch_bytes:
                state.cond.wait()
            if state.stopped or state.next_position >= self._total:
                return None
            if state.next_seq == 0:
                count = _FIRST_WINDOW
            elif state.avg_sample_bytes > 0:
                count = int(self._window_bytes / state.avg_sample_bytes)
            else:
                count = _FIRST_WINDOW * 4
            count = max(1, min(count, _MAX_WINDOW, self._total - state.next_position))
            # Reserved before the fetch so that concurrent fetchers together respect the bound.
            reserved = int(count * state.avg_sample_bytes)
            indexes = np.fromiter(itertools.islice(self._indexes, count), dtype=np.int64, count=count)
            claimed = (state.next_seq, indexes, reserved)
            state.next_seq += 1
            state.next_position += count
            state.buffered_bytes += reserved
            return claimed

    def _fetch_loop(self) -> None:
        state = self._state
        try:
            while True:
                claimed = self._claim()
                if claimed is None:
                    return
                seq, indexes, reserved = claimed
                window = _Window(seq)
                window.samples, window.nbytes = self._fetch(indexes)
                with state.cond:
                    state.buffered_bytes += window.nbytes - reserved
                    per_sample = window.nbytes / len(window.samples)
                    state.avg_sample_bytes = per_sample if state.avg_sample_bytes == 0 else 0.5 * (state.avg_sample_bytes + per_sample)
                    state.ready[seq] = window
                    state.cond.notify_all()
        except BaseException as error:  # noqa: BLE001 - handed to the consumer, which raises it
            with state.cond:
                if state.failure is None:
                    state.failure = error
        finally:
            self._client.close()  # this thread's connection
            with state.cond:
                state.running -= 1
                state.cond.notify_all()

    def _fetch(self, indexes: np.ndarray) -> tuple[list[dict], int]:
        """All samples at these indexes, in order, across as many requests as the gateway's byte bound needs."""
        samples: list[dict] = []
        nbytes = 0
        at = 0
        while at < len(indexes):
            rest = indexes[at:]
            response = self._request(rest)
            got = response["samples"]
            if not got:
                raise StrataError("INTERNAL", f"the gateway answered no samples for index {int(rest[0])}")
            samples.extend(got)
            nbytes += response["_bytes"]
            at += len(got)
        return samples, nbytes

    def _request(self, indexes: np.ndarray) -> dict[str, Any]:
        session = self._client.session()
        contiguous = len(indexes) == 1 or bool(indexes[-1] - indexes[0] == len(indexes) - 1 and np.all(np.diff(indexes) == 1))
        if contiguous:
            path, body = self._client.samples_request(self._name, self._version, int(indexes[0]), len(indexes), self._fields)
        else:
            path, body = self._client.samples_at_request(self._name, self._version, indexes.tolist(), self._fields)
        response = session.request("POST" if body is not None else "GET", path, body, "application/msgpack" if body is not None else None)
        decoded = response.decode(self._tensor_format)
        decoded["_bytes"] = len(response.body)
        return decoded
