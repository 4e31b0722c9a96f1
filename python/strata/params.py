"""Live parameters on a compacted stream: a coordinator sets values by key, every rank watches the map.

    import strata
    from strata import params

    client = strata.Client("http://127.0.0.1:7070")
    params.create(client, "run-7/params")                    # a stream with cleanup "compact"
    params.set(client, "run-7/params", "lr", {"value": 3e-4})  # the coordinator
    for current in params.watch(client, "run-7/params"):      # every rank, e.g. in a thread
        apply(current.get("lr"))                              # the whole map, after each change

The stream keeps the latest record per key (older ones are compacted away, the history until then
stays readable), and ``GET /v1/streams/{name}/latest`` answers that map with a watermark; ``watch``
long-polls it with the last watermark, so it sees every change of the map (changes made between
two polls arrive together, as one new map). ``set`` with ``fields=None`` publishes a tombstone: the
key leaves the map. Keys are strings (UTF-8); the map's values are each key's ``fields``.
"""

from __future__ import annotations

import builtins
from typing import Any, Iterator, Mapping
from urllib.parse import quote, urlencode

from .client import Client

# Each long poll waits at most this long; the gateway's limit on wait_ms is 60 s by default.
_DEFAULT_WAIT_MS = 30_000


def _segment(name: str) -> str:
    return quote(name, safe="")


def _key_of(key: Any) -> Any:
    """A record key as a str when it is UTF-8 (keys are stored as bytes), else the bytes."""
    if isinstance(key, (bytes, bytearray)):
        try:
            return bytes(key).decode("utf-8")
        except UnicodeDecodeError:
            return bytes(key)
    return key


def create(client: Client, stream: str, partitions: int = 1, tombstone_ms: int | None = None) -> dict:
    """Creates a compacted stream (``"cleanup": "compact"``); ``tombstone_ms``: how long a tombstone stays."""
    body: dict[str, Any] = {"name": stream, "partitions": int(partitions), "cleanup": "compact"}
    if tombstone_ms is not None:
        body["tombstone_ms"] = int(tombstone_ms)
    return client._call("POST", "/v1/streams", body, idempotent=False)


def set(client: Client, stream: str, key: str, fields: Mapping[str, Any] | None) -> dict:  # noqa: A001 - strata.params.set, as documented
    """Publishes ``fields`` as the value of ``key`` (``None``: a tombstone that removes the key); answers its position."""
    return client.publish(stream, [{"key": key, "fields": None if fields is None else dict(fields)}])[0]


def latest_answer(client: Client, stream: str, key: str | None = None, after: str | None = None, wait_ms: int | None = None) -> dict:
    """One ``GET /v1/streams/{stream}/latest``: ``{"stream", "watermark", "records"}``."""
    query = {k: v for k, v in (("key", key), ("after", after), ("wait_ms", wait_ms)) if v is not None}
    suffix = f"?{urlencode(query)}" if query else ""
    return client._call("GET", f"/v1/streams/{_segment(stream)}/latest{suffix}")


def _map_of(answer: Mapping[str, Any]) -> dict[Any, Any]:
    return {_key_of(r["key"]): r["fields"] for r in answer["records"]}


def latest(client: Client, stream: str, key: str | None = None) -> dict[Any, Any]:
    """The latest ``fields`` of every live key (or only of ``key``: an empty map when it has none)."""
    return _map_of(latest_answer(client, stream, key))


def watch(client: Client, stream: str, wait_ms: int = _DEFAULT_WAIT_MS, key: str | None = None) -> Iterator[dict[Any, Any]]:
    """Yields the current map (key -> fields), then the whole map again after each change; never ends.

    Each change is seen once and in order; changes that land between two polls come as one map.
    ``key`` restricts the map to that key.
    """
    answer = latest_answer(client, stream, key)
    yield _map_of(answer)
    watermark = answer["watermark"]
    while True:
        answer = latest_answer(client, stream, key, after=watermark, wait_ms=int(wait_ms))
        if answer["watermark"] == watermark:
            continue  # the wait ended with no change
        watermark = answer["watermark"]
        yield _map_of(answer)


__all__: builtins.list[str] = ["create", "latest", "latest_answer", "set", "watch"]
