"""Gradient exchange with a quorum: each rank contributes its gradients, the aggregator publishes the mean.

    import strata
    from strata import grad

    client = strata.Client("http://127.0.0.1:7070")
    mean, contributors = grad.allreduce_quorum(client, "train/grads", step, {"w": w_grad}, rank, world_size)

A contribution goes to ``POST /v1/gradients/{stream}/steps/{step}`` (MessagePack, tensors as the
log's Tensor extension); the aggregator (``strata aggregate --stream S --quorum Q --deadline-ms D``)
sums the contributions of a step and publishes their mean to ``{stream}.mean`` as soon as
``ceil(Q x world_size)`` ranks arrived, or when the deadline passed. This rank then long-polls that
stream for the record of its step.

The aggregator's ``--quorum`` decides when a mean is published; the ``quorum`` argument is what the
caller expects. A mean with fewer contributors than ``ceil(quorum x world_size)`` is accepted only
when it came from the deadline (fewer contributors than the aggregator's own quorum, which the
record's ``quorum`` header names); otherwise the aggregator runs with a lower quorum than the
caller asked for and the call raises ``StrataError("QUORUM_NOT_MET")``. The caller tells a deadline mean from a quorum mean with
``quorum_met(contributors, world_size, quorum)``, and whether its own gradient is in the mean with
``rank in contributors`` (a rank that arrived after the mean was published is not).

Dtypes: float32, float16 (numpy or torch) and bfloat16 (a ``torch.bfloat16`` tensor, or
``strata.Tensor("BF16", shape, bits)``). The mean comes back as writable numpy arrays of the same
dtype (bfloat16 as ``uint16`` bit patterns, like every Tensor read; see ``strata.wire``).
"""

from __future__ import annotations

import logging
import math
import struct
import threading
import time
import weakref
from dataclasses import dataclass, field
from typing import Any, Mapping
from urllib.parse import quote

import msgpack
import numpy as np

from .errors import StrataError
from .http import MSGPACK
from .wire import TENSOR_EXT_TYPE, Tensor

log = logging.getLogger("strata.grad")

# Each wait on the mean stream is at most this long, so threads sharing a cursor take turns.
_POLL_MS = 1_000
# A cursor made by a fresh process starts this many records before the end of the mean stream
# (the step it waits for is recent), and scans further back, doubling, when the step is older.
_LOOKBACK = 64
# Steps whose offsets a cursor remembers (the oldest are forgotten first).
_INDEXED_STEPS = 4_096
_SCAN_RECORDS = 1_000
_FLOAT_DTYPES = {np.dtype("<f4"): "F32", np.dtype("<f2"): "F16"}


def mean_stream(stream: str) -> str:
    """The stream the aggregator publishes ``stream``'s means to."""
    return f"{stream}.mean"


def required_contributors(world_size: int, quorum: float) -> int:
    """``ceil(quorum x world_size)``: how many ranks a quorum of ``world_size`` is."""
    _check_quorum(quorum)
    return max(1, math.ceil(quorum * world_size - 1e-9))


def quorum_met(contributors: list[int], world_size: int, quorum: float) -> bool:
    """Whether a mean's contributors reach ``ceil(quorum x world_size)`` (a mean the deadline published before its quorum does not)."""
    return len(contributors) >= required_contributors(world_size, quorum)


def from_deadline(record: dict) -> bool:
    """Whether a mean record was published by the aggregator's deadline: fewer contributors than its ``quorum`` header asks."""
    headers = record.get("headers") or {}
    quorum = headers.get("quorum")
    if isinstance(quorum, bytes):
        quorum = quorum.decode()
    try:
        aggregator_quorum = float(quorum)
    except (TypeError, ValueError) as error:
        raise StrataError("CORRUPT_DATA", f"the mean of step {record['fields'].get('step')} has no quorum header") from error
    fields = record["fields"]
    return not quorum_met(list(fields["contributors"]), int(fields["world_size"]), aggregator_quorum)


def contribute(client: Any, stream: str, step: int, tensors: Mapping[str, Any], rank: int, world_size: int) -> dict:
    """Posts this rank's gradients for ``step``; answers ``{"stream", "step", "rank", "partition", "offset"}``.

    A contribution whose tensor names, dtypes or shapes differ from the step's first one is refused
    with ``StrataError`` code ``TENSOR_MISMATCH`` (400) and leaves the step as it was.
    """
    _check_position(step, rank, world_size)
    body = _contribution_body(rank, world_size, tensors)
    path = f"/v1/gradients/{quote(stream, safe='')}/steps/{step}"
    # Safe to retry: the gateway answers a repeated identical contribution with its first record.
    return client.session().request("POST", path, body, MSGPACK, idempotent=True).decode()


def allreduce_quorum(
    client: Any,
    stream: str,
    step: int,
    tensors: Mapping[str, Any],
    rank: int,
    world_size: int,
    quorum: float = 0.8,
    timeout_s: float = 60.0,
) -> tuple[dict[str, np.ndarray], list[int]]:
    """Contributes ``tensors`` for ``step`` and waits for the step's mean: ``(mean tensors, contributing ranks)``.

    Raises ``StrataError`` with code ``TIMEOUT`` when no mean of the step is published within
    ``timeout_s`` (the aggregator is not running, or the step is too old to find), and
    ``QUORUM_NOT_MET`` when the mean has fewer contributors than ``quorum`` asks for without the
    deadline having passed (see the module's documentation).
    """
    _check_quorum(quorum)
    if timeout_s <= 0:
        raise StrataError("BAD_REQUEST", f"timeout_s must be positive, got {timeout_s}")
    deadline = time.monotonic() + timeout_s
    contribute(client, stream, step, tensors, rank, world_size)
    record = wait_for_mean(client, stream, step, deadline - time.monotonic())
    fields = record["fields"]
    contributors = sorted(int(r) for r in fields["contributors"])
    if not quorum_met(contributors, world_size, quorum) and not from_deadline(record):
        raise StrataError(
            "QUORUM_NOT_MET",
            f"step {step} of {stream}: the mean has {len(contributors)} of {world_size} ranks, fewer than quorum {quorum} "
            f"({required_contributors(world_size, quorum)}), and not from the deadline: the aggregator's --quorum is lower",
        )
    return dict(fields["tensors"]), contributors


def wait_for_mean(client: Any, stream: str, step: int, timeout_s: float) -> dict:
    """The record of ``step`` on ``{stream}.mean`` (``{"offset", "key", "headers", "fields"}``), waiting up to ``timeout_s``."""
    deadline = time.monotonic() + max(0.0, timeout_s)
    cursor = _cursor_of(client, stream)
    while True:
        offset = cursor.locate(client, step, deadline)
        if offset is not None:
            return cursor.fetch(client, offset)
        if time.monotonic() >= deadline:
            raise StrataError("TIMEOUT", f"no mean of step {step} on {mean_stream(stream)} within {timeout_s:.1f}s")


# ---- the cursor on a mean stream ----


@dataclass(frozen=True)
class _Fresh:
    """No scan yet: the first one starts ``_LOOKBACK`` records before the end of the mean stream."""


@dataclass
class _Scanning:
    """Offsets ``[low, next)`` of the mean stream were scanned, their steps indexed."""

    low: int
    next: int

    def __post_init__(self) -> None:
        self.check()

    def check(self) -> None:
        if not 0 <= self.low <= self.next:
            raise AssertionError(f"a mean-stream cursor scanned [{self.low}, {self.next}): low must be within [0, next]")


@dataclass
class _Cursor:
    """How far one client has scanned ``{stream}.mean``, and the offsets of the steps it saw.

    Scans read only the records' ``step`` field; the tensors are fetched once, for the wanted
    step. The first scan of a fresh cursor starts near the end of the stream (a restarted process
    does not rescan from 0) and goes further back only when the wanted step is older than every
    step seen. Threads sharing a client share its cursor, one scan or wait at a time. A cursor
    whose offsets retention removed starts afresh.
    """

    stream: str
    lock: threading.Lock = field(default_factory=threading.Lock)
    state: _Fresh | _Scanning = field(default_factory=_Fresh)
    steps: dict[int, int] = field(default_factory=dict)

    def locate(self, client: Any, step: int, deadline: float) -> int | None:
        """The offset of ``step``'s record, after at most one wait of up to ``_POLL_MS``; None if not there yet."""
        with self.lock:
            if step in self.steps:
                return self.steps[step]
            state = self.state
            if isinstance(state, _Fresh):
                state = self._start(client)
                if state is None:
                    _sleep_until_next_poll(deadline)  # the aggregator has not created the mean stream yet
                    return None
                self.state = state
            try:
                self._scan_forward(client, state, step, deadline)
                if step not in self.steps and self.steps and step < min(self.steps):
                    self._scan_back(client, state, step)
            except StrataError as error:
                if error.code != "OFFSET_OUT_OF_RANGE":
                    raise
                self.state = _Fresh()  # retention removed offsets the cursor was at
            return self.steps.get(step)

    def fetch(self, client: Any, offset: int) -> dict:
        answer = client.read(mean_stream(self.stream), 0, offset, max_records=1)
        records = answer["records"]
        if not records or records[0]["offset"] != offset:
            raise StrataError("NOT_FOUND", f"the mean at {mean_stream(self.stream)}@{offset} is gone (retention?)")
        return records[0]

    def _bounds(self, client: Any) -> tuple[int, int] | None:
        """The mean stream's (start, end) offsets, or None while it does not exist."""
        try:
            info = client.stream(mean_stream(self.stream))
        except StrataError as error:
            if error.status == 404:
                return None
            raise
        partition = next(p for p in info["partitions"] if p["partition"] == 0)
        return partition["start_offset"], partition["end_offset"]

    def _start(self, client: Any) -> _Scanning | None:
        bounds = self._bounds(client)
        if bounds is None:
            return None
        start, end = bounds
        begin = max(start, end - _LOOKBACK)
        return _Scanning(low=begin, next=begin)

    def _scan_forward(self, client: Any, state: _Scanning, step: int, deadline: float) -> None:
        """Reads step fields from ``next`` to the end; waits at the end (up to ``_POLL_MS``) when nothing new is there."""
        while True:
            remaining_ms = int((deadline - time.monotonic()) * 1000)
            wait_ms = max(0, min(_POLL_MS, remaining_ms))
            answer = self._read_steps(client, state.next, wait_ms)
            state.next = answer["next_offset"]
            state.check()
            if step in self.steps or answer["next_offset"] >= answer["end_offset"] or not answer["records"]:
                return

    def _scan_back(self, client: Any, state: _Scanning, step: int) -> None:
        """Scans the offsets before ``low`` in windows doubling from ``_LOOKBACK`` until ``step`` or the start."""
        window = _LOOKBACK
        while step not in self.steps and step < min(self.steps):
            bounds = self._bounds(client)
            if bounds is None or state.low <= bounds[0]:
                return
            begin = max(bounds[0], state.low - window)
            offset = begin
            while offset < state.low:
                answer = self._read_steps(client, offset, 0, max_records=min(_SCAN_RECORDS, state.low - offset))
                if not answer["records"]:
                    break
                offset = answer["next_offset"]
            state.low = begin
            state.check()
            window *= 2

    def _read_steps(self, client: Any, offset: int, wait_ms: int, max_records: int = _SCAN_RECORDS) -> dict:
        answer = client.read(mean_stream(self.stream), 0, offset, max_records=max_records, fields=["step"], wait_ms=wait_ms or None)
        for record in answer["records"]:
            seen = record["fields"].get("step")
            if isinstance(seen, int) and seen not in self.steps:  # the first mean of a step counts
                self.steps[seen] = record["offset"]
                if len(self.steps) > _INDEXED_STEPS:
                    self.steps.pop(next(iter(self.steps)))
        return answer


_CURSORS: "weakref.WeakKeyDictionary[Any, dict[str, _Cursor]]" = weakref.WeakKeyDictionary()
_CURSORS_LOCK = threading.Lock()


def _cursor_of(client: Any, stream: str) -> _Cursor:
    with _CURSORS_LOCK:
        per_stream = _CURSORS.setdefault(client, {})
        cursor = per_stream.get(stream)
        if cursor is None:
            cursor = per_stream[stream] = _Cursor(stream)
        return cursor


def _sleep_until_next_poll(deadline: float) -> None:
    time.sleep(max(0.0, min(0.05, deadline - time.monotonic())))


# ---- arguments ----


def _check_quorum(quorum: float) -> None:
    if isinstance(quorum, bool) or not isinstance(quorum, (int, float)) or not 0 < quorum <= 1:
        raise StrataError("BAD_REQUEST", f"quorum is a fraction of the ranks in (0, 1], got {quorum!r}")


def _check_position(step: int, rank: int, world_size: int) -> None:
    for name, value in (("step", step), ("rank", rank), ("world_size", world_size)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise StrataError("BAD_REQUEST", f"{name} must be a non-negative integer, got {value!r}")
    if not rank < world_size:
        raise StrataError("BAD_REQUEST", f"rank {rank} is not below world_size {world_size}")


def _contribution_body(rank: int, world_size: int, tensors: Mapping[str, Any]) -> bytes:
    """The MessagePack body ``{"rank", "world_size", "tensors": {name: Tensor extension}}``.

    Framed here rather than with ``wire.pack``: msgpack's packer grows its buffer while copying a
    large bin, and the extension is packed twice (payload, then value), which costs ~100 ms for a
    25 MB gradient; this writes the headers and joins the tensor bytes into the body with one copy.
    The bytes are the same MessagePack (core/log/extensions.ts's Tensor: ``[dtype, shape, data]``).
    """
    if not isinstance(tensors, Mapping) or not tensors:
        raise StrataError("BAD_REQUEST", "tensors is a non-empty dict of name -> array")
    packer = msgpack.Packer(use_bin_type=True)
    parts: list[bytes | memoryview] = [packer.pack_map_header(3), packer.pack("rank"), packer.pack(rank), packer.pack("world_size"), packer.pack(world_size), packer.pack("tensors"), packer.pack_map_header(len(tensors))]
    for name, value in tensors.items():
        if not isinstance(name, str) or not name:
            raise StrataError("BAD_REQUEST", f"tensor names are non-empty strings, got {name!r}")
        dtype, shape, data = _wire_tensor(name, value)
        head = packer.pack_array_header(3) + packer.pack(dtype) + packer.pack(list(shape)) + _bin_header(data.nbytes)
        parts += [packer.pack(name), _ext_header(TENSOR_EXT_TYPE, len(head) + data.nbytes), head, data]
    return b"".join(parts)


def _bin_header(size: int) -> bytes:
    """A MessagePack bin header in its shortest form (bin 8/16/32)."""
    if size < 1 << 8:
        return struct.pack(">BB", 0xC4, size)
    if size < 1 << 16:
        return struct.pack(">BH", 0xC5, size)
    return struct.pack(">BI", 0xC6, size)


def _ext_header(code: int, size: int) -> bytes:
    """A MessagePack extension header in its shortest form (fixext 1/2/4/8/16, ext 8/16/32)."""
    fixed = {1: 0xD4, 2: 0xD5, 4: 0xD6, 8: 0xD7, 16: 0xD8}
    if size in fixed:
        return struct.pack(">Bb", fixed[size], code)
    if size < 1 << 8:
        return struct.pack(">BBb", 0xC7, size, code)
    if size < 1 << 16:
        return struct.pack(">BHb", 0xC8, size, code)
    return struct.pack(">BIb", 0xC9, size, code)


def _wire_tensor(name: str, value: Any) -> tuple[str, tuple[int, ...], memoryview]:
    """A gradient tensor as (dtype name, shape, little-endian bytes): float32/float16 arrays, BF16 bits."""
    if isinstance(value, Tensor):
        dtype = value.dtype.upper()
        if dtype not in ("F32", "F16", "BF16"):
            raise StrataError("BAD_REQUEST", f"tensor {name!r}: dtype {value.dtype} is not F32, F16 or BF16")
        return dtype, tuple(value.shape), memoryview(value.data).cast("B")
    torch = _torch_if_loaded()
    if torch is not None and isinstance(value, torch.Tensor):
        cpu = value.detach().cpu().contiguous()
        if cpu.dtype == torch.bfloat16:
            bits = cpu.view(torch.int16).numpy().view("<u2")
            return "BF16", tuple(cpu.shape), memoryview(bits).cast("B")
        value = cpu.numpy()
    if not isinstance(value, np.ndarray):
        raise StrataError("BAD_REQUEST", f"tensor {name!r} is a {type(value).__name__}, not a numpy array or torch tensor")
    dtype = _FLOAT_DTYPES.get(value.dtype.newbyteorder("<"))
    if dtype is None:
        raise StrataError("BAD_REQUEST", f"tensor {name!r}: dtype {value.dtype} is not float32, float16 or bfloat16")
    little = np.ascontiguousarray(value.astype(value.dtype.newbyteorder("<"), copy=False))
    return dtype, tuple(value.shape), memoryview(little).cast("B")


def _torch_if_loaded() -> Any:
    import sys

    return sys.modules.get("torch")
