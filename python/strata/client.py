"""``strata.Client``: streams, records and datasets over the gateway's HTTP API (MessagePack)."""

from __future__ import annotations

import os
import secrets
import threading
from typing import Any, Iterable, Mapping, Sequence
from urllib.parse import quote, urlencode

import msgpack

from .errors import StrataError
from .endpoints import Endpoints
from .http import DEFAULT_MAX_ATTEMPTS, MSGPACK, Session
from .batch import CLIENT_BATCH_MEDIA_TYPE, client_batch, record_array
from .trace import derived_headers
from .wire import pack

# Publish batches stay under the gateway's defaults (10,000 records, 8 MiB per record, 64 MiB per request).
_BATCH_RECORDS = 1000
_BATCH_BYTES = 8 * 1024 * 1024
_RECORD_KEYS = frozenset(("fields", "key", "headers", "partition"))


_PRODUCER_LOCK = threading.Lock()


def _segment(name: str) -> str:
    return quote(name, safe="")


class _Producer:
    """This process's idempotent producer: a random 53-bit id and, per stream, an (epoch, seq).

    Each publish request carries ``{"id", "epoch", "seq"}``, so a retry after a broken connection is
    answered with the original offsets instead of writing the records twice. Requests to one stream
    go one at a time (the gateway needs a stream's sequence numbers in order). A publish that fails
    for good leaves its sequence number in doubt: the stream moves to the next epoch (sequence 0),
    so the next publish is neither a gap nor mistaken for that one. A forked or unpickled copy in
    another process draws its own id.
    """

    def __init__(self) -> None:
        self.pid = os.getpid()
        self.id = secrets.randbits(53)
        self._positions: dict[str, list[int]] = {}
        self._locks: dict[str, threading.Lock] = {}
        self._guard = threading.Lock()

    def lock(self, stream: str) -> threading.Lock:
        with self._guard:
            return self._locks.setdefault(stream, threading.Lock())

    def next(self, stream: str) -> dict[str, int]:
        """The producer of the stream's next request; call with ``lock(stream)`` held."""
        epoch, seq = self._positions.setdefault(stream, [0, 0])
        return {"id": self.id, "epoch": epoch, "seq": seq}

    def sent(self, stream: str) -> None:
        self._positions[stream][1] += 1

    def failed(self, stream: str) -> None:
        position = self._positions[stream]
        if position[0] >= 0xFFFF:
            raise StrataError("PRODUCER_FENCED", f"producer {self.id} ran out of epochs on {stream}")
        position[0] += 1
        position[1] = 0


class Client:
    """A gateway client. Safe to share between threads: each thread keeps its own keep-alive connection."""

    def __init__(self, url: str | Sequence[str], token: str | None = None, timeout: float = 60.0, retry_for: float = 60.0, max_attempts: int = DEFAULT_MAX_ATTEMPTS) -> None:
        """``url``: one gateway URL (or a load balancer's), several separated by commas, or a list.

        Requests go to the gateway that last answered and move to the next URL after a failure
        another gateway can mend (http.py ``Session.request`` says which and which requests are
        sent again); each request makes at most ``max_attempts`` attempts within ``retry_for`` s.
        """
        self._endpoints = Endpoints(url)
        self.url = ",".join(self._endpoints.urls)
        self.token = token
        self._timeout = timeout
        self._retry_for = retry_for
        self._max_attempts = max_attempts
        self._local = threading.local()
        self._producer: _Producer | None = None
        self._batches_refused = False  # the gateway answered that it does not take client-built batches
        Session(self._endpoints, token, timeout, retry_for, max_attempts)  # validates the bounds now rather than at the first request

    def __getstate__(self) -> dict[str, Any]:
        # Pickled into DataLoader workers (spawn): connections are per process and per thread.
        state = self.__dict__.copy()
        del state["_local"]
        state["_producer"] = None  # another process publishes as another producer
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self._local = threading.local()

    def session(self) -> Session:
        """This thread's connection to the gateway."""
        session = getattr(self._local, "session", None)
        if session is None:
            session = Session(self._endpoints, self.token, self._timeout, self._retry_for, self._max_attempts)
            self._local.session = session
        return session

    def close(self) -> None:
        session = getattr(self._local, "session", None)
        if session is not None:
            session.close()

    def _call(self, method: str, path: str, body: Any = None, idempotent: bool = True, tensor_format: str = "numpy") -> Any:
        payload = None if body is None else pack(body)
        response = self.session().request(method, path, payload, MSGPACK if payload is not None else None, idempotent)
        return response.decode(tensor_format)

    # ---- streams ----

    def create_stream(self, name: str, partitions: int = 1, retention_ms: int | None = None, retention_bytes: int | None = None) -> dict:
        body: dict[str, Any] = {"name": name, "partitions": partitions}
        if retention_ms is not None or retention_bytes is not None:
            body["retention"] = {k: v for k, v in (("ms", retention_ms), ("bytes", retention_bytes)) if v is not None}
        return self._call("POST", "/v1/streams", body, idempotent=False)

    def streams(self) -> list[dict]:
        return self._call("GET", "/v1/streams")["streams"]

    def stream(self, name: str) -> dict:
        return self._call("GET", f"/v1/streams/{_segment(name)}")

    def publish(self, stream: str, records: Iterable[Mapping[str, Any]], acks: str | None = None, derived_from: Mapping[str, Any] | None = None) -> list[dict]:
        """Publishes records (dicts with ``fields`` and optional ``key``, ``headers``, ``partition``).

        Numpy arrays and torch tensors among the fields are stored as tensors. Answers one
        ``{"partition", "offset"}`` per record, in order. Large inputs are sent in batches.
        ``derived_from``: the consumed record (with ``stream``, ``partition``, ``offset``,
        ``headers``, as a claim answers it) these were made from; each record then carries its
        trace on (``strata.trace.derived_headers``, docs/tracing.md).
        """
        if derived_from is not None:
            source = derived_from
            records = ({**_check_record(r), "headers": {**(r.get("headers") or {}), **derived_headers(source)}} for r in records)
        path = f"/v1/streams/{_segment(stream)}/records"
        producer = self._producer_of_this_process()
        positions: list[dict] = []
        for batch in _batches(records):
            target = None if self._batches_refused else _batch_target(batch)
            with producer.lock(stream):
                try:
                    # Safe to retry: the gateway answers a repeated (id, epoch, seq) with its offsets.
                    response = None
                    if target is not None:
                        query = _query(acks=acks, partition=target if target >= 0 else None)
                        body = client_batch([pack(record_array(r)) for r in batch], producer.next(stream))
                        try:
                            response = self.session().request("POST", path + (f"?{query}" if query else ""), body, CLIENT_BATCH_MEDIA_TYPE, idempotent=True)
                        except StrataError as error:
                            if not _predates_batches(error):
                                raise
                            self._batches_refused = True  # the sequence number was not used: send the records as MessagePack
                    if response is None:
                        body = _records_body([pack(dict(r)) for r in batch], producer.next(stream))
                        response = self.session().request("POST", path + (f"?acks={acks}" if acks else ""), body, MSGPACK, idempotent=True)
                except BaseException:
                    producer.failed(stream)
                    raise
                producer.sent(stream)
            positions.extend(response.decode()["records"])
        return positions

    def _producer_of_this_process(self) -> _Producer:
        with _PRODUCER_LOCK:
            producer = self._producer
            if producer is None or producer.pid != os.getpid():
                producer = self._producer = _Producer()
            return producer

    def read(
        self,
        stream: str,
        partition: int,
        offset: int,
        max_records: int | None = None,
        max_bytes: int | None = None,
        fields: Sequence[str] | None = None,
        filter: str | None = None,  # noqa: A002 - the gateway's parameter name
        wait_ms: int | None = None,
        tensor_format: str = "numpy",
    ) -> dict:
        """One read of a partition: ``{"records": [...], "next_offset", "end_offset"}``."""
        query = _query(offset=offset, max_records=max_records, max_bytes=max_bytes, fields=fields, filter=filter, wait_ms=wait_ms)
        return self._call("GET", f"/v1/streams/{_segment(stream)}/partitions/{int(partition)}/records?{query}", tensor_format=tensor_format)

    # ---- datasets ----

    def create_dataset(self, name: str, stream: str, filter: str | None = None, fields: Sequence[str] | None = None, span_samples: int | None = None) -> dict:  # noqa: A002
        """Pins the stream's current offset ranges as a new version of the dataset ``name``."""
        body: dict[str, Any] = {"name": name, "stream": stream}
        if filter is not None:
            body["filter"] = filter
        if fields is not None:
            body["fields"] = list(fields)
        if span_samples is not None:
            body["span_samples"] = span_samples
        return self._call("POST", "/v1/datasets", body, idempotent=False)

    def datasets(self) -> list[dict]:
        return self._call("GET", "/v1/datasets")["datasets"]

    def dataset(self, name: str) -> dict:
        """The dataset and its versions."""
        return self._call("GET", f"/v1/datasets/{_segment(name)}")

    def dataset_version(self, name: str, version: int | str = "latest") -> dict:
        return self._call("GET", f"/v1/datasets/{_segment(name)}/versions/{_version_segment(version)}")

    def samples(self, name: str, version: int, start: int, count: int, fields: Sequence[str] | None = None, tensor_format: str = "numpy") -> dict:
        """Up to ``count`` samples from global index ``start``: ``{"start", "samples", "offsets"}`` (fewer when bounded by bytes)."""
        path, _ = self.samples_request(name, version, start, count, fields)
        return self._call("GET", path, tensor_format=tensor_format)

    def samples_at(self, name: str, version: int, indexes: Sequence[int], fields: Sequence[str] | None = None, tensor_format: str = "numpy") -> dict:
        """The samples at these global indexes, in this order (a prefix of them when bounded by bytes)."""
        path, body = self.samples_at_request(name, version, indexes, fields)
        response = self.session().request("POST", path, body, MSGPACK)
        return response.decode(tensor_format)

    def samples_request(self, name: str, version: int, start: int, count: int, fields: Sequence[str] | None = None) -> tuple[str, None]:
        """The path of a sample range read (the dataset reader sends it itself to count response bytes)."""
        return f"/v1/datasets/{_segment(name)}/versions/{int(version)}/samples?{_query(start=start, count=count, fields=fields)}", None

    def samples_at_request(self, name: str, version: int, indexes: Sequence[int], fields: Sequence[str] | None = None) -> tuple[str, bytes]:
        """The path and MessagePack body of a read of samples by index."""
        body: dict[str, Any] = {"indexes": [int(i) for i in indexes]}
        if fields is not None:
            body["fields"] = list(fields)
        return f"/v1/datasets/{_segment(name)}/versions/{int(version)}/samples", pack(body)


def _version_segment(version: int | str) -> str:
    if version == "latest":
        return "latest"
    if isinstance(version, bool) or not isinstance(version, int) or version < 1:
        raise StrataError("BAD_REQUEST", f'a dataset version is a positive integer or "latest", not {version!r}')
    return str(version)


def _query(**params: Any) -> str:
    pairs: list[tuple[str, str]] = []
    for key, value in params.items():
        if value is None:
            continue
        pairs.append((key, ",".join(value) if isinstance(value, (list, tuple)) else str(value)))
    return urlencode(pairs)


def _check_record(record: Mapping[str, Any]) -> Mapping[str, Any]:
    if not isinstance(record, Mapping) or "fields" not in record:
        raise StrataError("BAD_REQUEST", 'a record is a dict with "fields" (and optional "key", "headers", "partition")')
    unknown = set(record) - _RECORD_KEYS
    if unknown:
        raise StrataError("BAD_REQUEST", f"unknown record keys {sorted(unknown)}; a record has {sorted(_RECORD_KEYS)}")
    return record


def _batches(records: Iterable[Mapping[str, Any]]) -> Iterable[list[Mapping[str, Any]]]:
    """Checked records, cut into requests by count and by encoded bytes."""
    batch: list[Mapping[str, Any]] = []
    size = 0
    for record in records:
        encoded = len(pack(record_array(_check_record(record))))
        if batch and (len(batch) >= _BATCH_RECORDS or size + encoded > _BATCH_BYTES):
            yield batch
            batch, size = [], 0
        batch.append(record)
        size += encoded
    if batch:
        yield batch


def _batch_target(records: Sequence[Mapping[str, Any]]) -> int | None:
    """The partition a client-built batch of ``records`` names (-1: none, their one key decides), or None when they may span several."""
    partitions = {r.get("partition") for r in records}
    if len(partitions) != 1:
        return None
    (partition,) = partitions
    if partition is not None:
        return int(partition)
    keys = {k.encode("utf-8") if isinstance(k, str) else bytes(k) for k in (r.get("key") for r in records) if k is not None}
    return -1 if len(keys) <= 1 else None


def _predates_batches(error: StrataError) -> bool:
    """Whether a refused batch says the gateway does not take them (415, or 400 from one that reads it as JSON)."""
    return error.status == 415 or (error.code == "BAD_REQUEST" and error.message.startswith("malformed JSON body"))


def _records_body(encoded: list[bytes], producer: dict[str, int]) -> bytes:
    packer = msgpack.Packer(use_bin_type=True)
    return b"".join([packer.pack_map_header(2), packer.pack("producer"), packer.pack(producer), packer.pack("records"), packer.pack_array_header(len(encoded)), *encoded])
