"""Record tracing (docs/tracing.md): carry a W3C trace on from a consumed record to the records derived from it.

A record derived from another gets ``traceparent``, a child of the source's (the same trace id, a
new span id; a new trace when the source has none or an invalid one), and ``strata-source``, the
source's ``"<stream>/<partition>/<offset>"``. ``strata trace`` walks ``strata-source`` back::

    for record in strata.queues.claim(client, "resize", ["s2"]):
        client.publish("s3", [{"fields": resized(record)}], derived_from=record)

``derived_from`` (and :func:`derived_headers`) take a claimed record as it is; a record from
``Client.read`` has no stream or partition, so pass them: ``derived_headers(record, "s2", 0)``.
"""

from __future__ import annotations

import re
import secrets
from typing import Any, Mapping

from .errors import StrataError

TRACEPARENT_HEADER = "traceparent"
SOURCE_HEADER = "strata-source"

_TRACEPARENT = re.compile(r"00-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})")
_ZERO_TRACE = "0" * 32
_ZERO_SPAN = "0" * 16


def parse_traceparent(value: Any) -> tuple[str, str, int] | None:
    """``(trace_id, span_id, flags)`` of a valid version-00 traceparent, else None (bytes are never one)."""
    if not isinstance(value, str):
        return None
    match = _TRACEPARENT.fullmatch(value)
    if match is None or match.group(1) == _ZERO_TRACE or match.group(2) == _ZERO_SPAN:
        return None
    return match.group(1), match.group(2), int(match.group(3), 16)


def _random_hex(size: int) -> str:
    while True:
        value = secrets.token_hex(size)
        if value.strip("0"):
            return value


def child_traceparent(parent: Any) -> str:
    """A traceparent continuing ``parent``'s trace with a new span id; a new sampled trace when ``parent`` is not a valid traceparent."""
    parsed = parse_traceparent(parent)
    trace_id, flags = (parsed[0], parsed[2]) if parsed is not None else (_random_hex(16), 1)
    return f"00-{trace_id}-{_random_hex(8)}-{flags:02x}"


def derived_headers(record: Mapping[str, Any], stream: str | None = None, partition: int | None = None) -> dict[str, str]:
    """The headers of a record derived from ``record`` (stream and partition from the arguments, else from the record)."""
    stream = stream if stream is not None else record.get("stream")
    partition = partition if partition is not None else record.get("partition")
    offset = record.get("offset")
    if not isinstance(stream, str) or not isinstance(partition, int) or not isinstance(offset, int):
        raise StrataError("BAD_REQUEST", "a source record needs its stream, partition and offset (pass stream= and partition= for a record from Client.read)")
    headers = record.get("headers") or {}
    return {TRACEPARENT_HEADER: child_traceparent(headers.get(TRACEPARENT_HEADER)), SOURCE_HEADER: f"{stream}/{partition}/{offset}"}
