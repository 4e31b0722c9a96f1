"""Work queues over streams: claim records, ack or nack them, and a small worker loop.

The model (docs/queues.md): a claim hands records of the listed streams (the first listed have
strict priority) to one consumer at a time, each invisible to other claims for ``visibility_ms``;
an ack settles a record, a nack gives it back for redelivery after the queue's backoff, and after
the queue's ``max_deliveries`` the record goes to ``<stream>.dlq`` with the last error.

    import strata
    from strata import queues

    client = strata.Client("http://127.0.0.1:7070")
    for record in queues.claim(client, "render", ["tasks/high", "tasks/low"], max_records=10):
        ...
        queues.ack(client, "render", [record["receipt"]])

    queues.work(client, "render", ["tasks/high", "tasks/low"], handle)  # until stop is set

Records come back as dicts: ``receipt, stream, partition, offset, timestamp, key, headers,
fields, deliveries``, with bytes as ``bytes`` and tensors as numpy arrays (MessagePack answers).
Failures raise ``strata.StrataError`` with the gateway's code.
"""

from __future__ import annotations

import json
import logging
import threading
from typing import Any, Callable, Iterable, Sequence
from urllib.parse import quote

from .errors import StrataError

log = logging.getLogger("strata.queues")

_JSON = "application/json"
_CLAIM_WAIT_MS = 5_000


def _path(group: str, tail: str = "") -> str:
    return f"/v1/queues/{quote(group, safe='')}{tail}"


def _call(client: Any, method: str, path: str, body: Any = None) -> Any:
    # Bodies go as JSON (small, no tensors); answers come as MessagePack (the session's Accept).
    # Every call is safe to repeat: a claim whose answer was lost only keeps its records invisible
    # until their visibility ends, a repeated ack or nack answers its receipts as stale.
    payload = None if body is None else json.dumps(body).encode()
    response = client.session().request(method, path, payload, _JSON if payload is not None else None, True)
    return response.decode()


def _receipts(receipts: Iterable[str]) -> list[str]:
    listed = list(receipts)
    if not listed or not all(isinstance(r, str) and r for r in listed):
        raise StrataError("BAD_REQUEST", "receipts must be a non-empty list of receipt strings")
    return listed


def claim(
    client: Any,
    group: str,
    streams: Sequence[str],
    max_records: int | None = None,
    visibility_ms: int | None = None,
    wait_ms: int | None = None,
    filter: str | None = None,  # noqa: A002 - the gateway's name for it
) -> list[dict]:
    """Claims up to ``max_records`` records of ``group``'s queue over ``streams`` (priority order)."""
    if isinstance(streams, str) or not streams:
        raise StrataError("BAD_REQUEST", "streams must be a non-empty list of stream names")
    body: dict[str, Any] = {"streams": list(streams)}
    if max_records is not None:
        body["max_records"] = max_records
    if visibility_ms is not None:
        body["visibility_ms"] = visibility_ms
    if wait_ms is not None:
        body["wait_ms"] = wait_ms
    if filter is not None:
        body["filter"] = filter
    return list(_call(client, "POST", _path(group, "/claim"), body)["records"])


def ack(client: Any, group: str, receipts: Iterable[str]) -> dict:
    """Settles the deliveries; answers ``{"acked": n, "stale": [receipts naming no current delivery]}``."""
    return _call(client, "POST", _path(group, "/ack"), {"receipts": _receipts(receipts)})


def nack(client: Any, group: str, receipts: Iterable[str], delay_ms: int | None = None, error: str | None = None) -> dict:
    """Gives the deliveries back for redelivery (after ``delay_ms``, else the queue's backoff), keeping ``error``."""
    body: dict[str, Any] = {"receipts": _receipts(receipts)}
    if delay_ms is not None:
        body["delay_ms"] = delay_ms
    if error is not None:
        body["error"] = error
    return _call(client, "POST", _path(group, "/nack"), body)


def describe(client: Any, group: str) -> dict:
    """The queue's configuration and counts (in_flight, pending, redelivered, dead_lettered, acked)."""
    return _call(client, "GET", _path(group))


def configure(client: Any, group: str, **config: Any) -> dict:
    """Sets ``max_deliveries``, ``visibility_ms`` or ``backoff`` of the queue (admin scope); answers the whole configuration."""
    return _call(client, "PUT", _path(group), config)["config"]


def work(
    client: Any,
    group: str,
    streams: Sequence[str],
    handler: Callable[[dict], None],
    visibility_ms: int | None = None,
    batch: int = 1,
    filter: str | None = None,  # noqa: A002
    stop: threading.Event | None = None,
    limit: int | None = None,
) -> dict:
    """Claims records and calls ``handler(record)`` on each: returning acks it, raising nacks it
    with ``"<ExceptionType>: <message>"`` as the error.

    Nothing extends a claim: ``visibility_ms`` (or the queue's default) must exceed the handler's
    time for ``batch`` records, or a record is redelivered to another worker meanwhile. Runs until
    ``stop`` is set (checked between claims: the records in hand are finished and settled first;
    a claim waiting for records returns within 5 s) or ``limit`` records have been handled. Answers ``{"acked": n, "nacked": n, "stale": n}``.
    """
    if batch < 1:
        raise StrataError("BAD_REQUEST", f"batch must be >= 1, got {batch}")
    counts = {"acked": 0, "nacked": 0, "stale": 0}
    handled = 0
    while not (stop is not None and stop.is_set()) and (limit is None or handled < limit):
        take = batch if limit is None else min(batch, limit - handled)
        records = claim(client, group, streams, max_records=take, visibility_ms=visibility_ms, wait_ms=_CLAIM_WAIT_MS, filter=filter)
        for record in records:
            try:
                handler(record)
            except Exception as error:  # noqa: BLE001 - any failure of the handler nacks the record
                answer = nack(client, group, [record["receipt"]], error=f"{type(error).__name__}: {error}")
                counts["nacked"] += answer["nacked"]
            else:
                answer = ack(client, group, [record["receipt"]])
                counts["acked"] += answer["acked"]
            if answer["stale"]:
                counts["stale"] += len(answer["stale"])
                log.warning("%s/%s@%s was settled after its visibility had expired", record["stream"], record["partition"], record["offset"])
            handled += 1
    return counts
