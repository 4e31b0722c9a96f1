"""One keep-alive HTTP connection to a gateway, with retries across restarts and gateways.

A ``Session`` is used by one thread; a forked DataLoader worker notices the new process id and
opens its own connection. Given several gateway URLs (endpoints.py), a request that fails to
connect or is answered 503 NOT_LEADER, LEASE_LOST, UNAVAILABLE or METADATA_UNAVAILABLE moves to the
next URL; retries back off exponentially with jitter (up to ``retry_for`` seconds and
``max_attempts`` attempts) when the request is safe to repeat, so a gateway restart or a cluster
failover in the middle of an epoch only delays the reader.
"""

from __future__ import annotations

import http.client
import json
import logging
import os
import random
import socket
import ssl
import time
from dataclasses import dataclass
from typing import IO, Any, Mapping, Sequence
from urllib.parse import urlsplit

from .endpoints import FAILOVER_CODES, Endpoints, retry_after_seconds
from .errors import StrataError
from .wire import unpack

log = logging.getLogger("strata.http")

MSGPACK = "application/msgpack"
_RETRYABLE = (ConnectionError, http.client.HTTPException, socket.timeout, TimeoutError, OSError)
#: Attempts of one request across the gateway URLs, unless the Session is given another bound.
DEFAULT_MAX_ATTEMPTS = 60
#: The longest Retry-After waited for as asked.
_MAX_RETRY_AFTER = 10.0


@dataclass(frozen=True)
class Response:
    status: int
    content_type: str
    body: bytes | bytearray
    retry_after: str | None = None

    def decode(self, tensor_format: str = "numpy") -> Any:
        if not self.body:
            return None
        if self.content_type.startswith(MSGPACK):
            return unpack(self.body, tensor_format)
        return json.loads(self.body)


class Session:
    """One thread's keep-alive connection to the gateway that currently answers (see ``Endpoints``).

    ``url``: one URL, a comma-separated list, a list of URLs, or an ``Endpoints`` shared with other
    sessions (a ``Client``'s threads share one, so they all keep to the gateway that answered).
    ``retry_for`` (seconds) and ``max_attempts`` bound the retries of one request.
    """

    def __init__(self, url: str | Sequence[str] | Endpoints, token: str | None = None, timeout: float = 60.0, retry_for: float = 60.0, max_attempts: int = DEFAULT_MAX_ATTEMPTS) -> None:
        self._conn: http.client.HTTPConnection | None = None
        if max_attempts < 1 or retry_for < 0:
            raise StrataError("BAD_REQUEST", f"max_attempts must be at least 1 and retry_for at least 0, got {max_attempts} and {retry_for}")
        self.endpoints = url if isinstance(url, Endpoints) else Endpoints(url)
        self._token = token
        self._timeout = timeout
        self._retry_for = retry_for
        self._max_attempts = max_attempts
        self._conn_url: str | None = None
        self._pid = os.getpid()

    @property
    def url(self) -> str:
        """The gateway requests go to now."""
        return self.endpoints.current()

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None
            self._conn_url = None

    def __del__(self) -> None:
        self.close()

    def _connection(self, url: str) -> http.client.HTTPConnection:
        if self._pid != os.getpid():  # forked: the parent's socket is not ours to use
            self._conn = None
            self._pid = os.getpid()
        if self._conn is not None and self._conn_url != url:
            self.close()
        if self._conn is None:
            parts = urlsplit(url)
            host = parts.hostname or ""
            if parts.scheme == "https":
                self._conn = http.client.HTTPSConnection(host, parts.port or 443, timeout=self._timeout, context=ssl.create_default_context())
            else:
                self._conn = http.client.HTTPConnection(host, parts.port or 80, timeout=self._timeout)
            self._conn.connect()
            self._conn.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            self._conn_url = url
        return self._conn

    def request(self, method: str, path: str, body: bytes | IO[bytes] | None = None, content_type: str | None = None, idempotent: bool = True, headers: Mapping[str, str] | None = None) -> Response:
        """Sends a request and answers its response, raising StrataError for a gateway error.

        Failover (``Endpoints``): a failure to connect (refused, unreachable, no connection in
        ``timeout``), a connection broken before the answer, or a 503 with a code of
        ``FAILOVER_CODES`` moves the request to the next gateway URL; once every URL of a round
        failed it waits a jittered backoff, or the 503's Retry-After when longer (at most 10 s).
        At most ``max_attempts`` attempts within ``retry_for`` seconds. Which requests are sent
        again: ``idempotent`` ones (reads; publishes, which carry an idempotent producer whose
        repeated (id, epoch, seq) the gateway answers with the first offsets) after any of those
        failures; any other request (creating a stream, say) only when it never reached a gateway
        (the connection could not be made) or was refused by the in-flight cap (503 UNAVAILABLE
        with Retry-After, answered before the body is read). A file-like ``body`` is sent chunked
        as it is read; a retry reads it again, so its reads must start over once it has answered
        EOF. ``headers`` are added to the request.
        """
        headers = {"Accept": MSGPACK, **(headers or {})}
        if content_type is not None:
            headers["Content-Type"] = content_type
        if self._token is not None:
            headers["Authorization"] = f"Bearer {self._token}"
        deadline = time.monotonic() + self._retry_for
        rounds = 0
        tried = 0
        attempt = 0
        while True:
            attempt += 1
            url = self.endpoints.current()
            connected = False
            move = True
            retry_after: float | None = None
            try:
                conn = self._connection(url)
                connected = True
                conn.request(method, urlsplit(url).path + path, body=body, headers=headers)
                response = self._read(conn.getresponse())
            except _RETRYABLE as error:
                self.close()
                failure = StrataError("UNAVAILABLE", f"{method} {url}{path}: {error!r}")
                failure.__cause__ = error
                retryable = idempotent or not connected
                why = f"{error!r}"
            else:
                if response.status != 503:
                    self.endpoints.answered(url)
                    if response.status >= 400:
                        raise _error_of(response)
                    return response
                failure = _error_of(response)
                retry_after = retry_after_seconds(response.retry_after)
                code = "UNAVAILABLE" if failure.code.startswith("HTTP_") else failure.code  # a proxy's own 503
                move = code in FAILOVER_CODES
                # Another 503 (STORAGE_ERROR, say) is retried on the same gateway when safe.
                retryable = idempotent or (code == "UNAVAILABLE" and retry_after is not None)
                why = f"503 {code}"
            if move:
                self.endpoints.failed(url)
            tried += 1
            delay = 0.0
            if tried >= len(self.endpoints.urls):
                delay = min(2.0, 0.05 * (2**rounds)) * (0.5 + random.random() / 2)
                rounds += 1
                tried = 0
            if retry_after is not None:
                delay = max(delay, min(retry_after, _MAX_RETRY_AFTER))
            if not retryable or attempt >= self._max_attempts or time.monotonic() + delay >= deadline:
                raise failure
            log.debug("retrying %s %s at %s in %.2fs (attempt %d) after %s failed: %s", method, path, self.endpoints.current(), delay, attempt + 1, url, why)
            time.sleep(delay)

    def _read(self, raw: http.client.HTTPResponse) -> Response:
        length = raw.length
        if length is not None:
            # One buffer of the announced size, filled straight from the socket.
            body = bytearray(length)
            view = memoryview(body)
            got = 0
            while got < length:
                n = raw.readinto(view[got:])
                if n == 0:
                    raise http.client.IncompleteRead(bytes(view[:got]), length - got)
                got += n
        else:
            body = raw.read()
        if raw.will_close:
            self.close()
        return Response(raw.status, raw.getheader("Content-Type", ""), body, raw.getheader("Retry-After"))

    def _backoff(self, attempt: int, why: str) -> int:
        delay = min(2.0, 0.05 * (2**attempt)) * (0.5 + random.random() / 2)
        log.debug("retrying in %.2fs after %s", delay, why)
        time.sleep(delay)
        return attempt + 1


def _error_of(response: Response) -> StrataError:
    try:
        decoded = response.decode()
        error = decoded["error"]
        return StrataError(str(error["code"]), str(error["message"]), response.status)
    except Exception:  # noqa: BLE001 - a body that is not the error shape still becomes an error
        text = bytes(response.body[:200]).decode("utf-8", "replace")
        return StrataError(f"HTTP_{response.status}", text, response.status)
