"""One keep-alive HTTP connection to a gateway, with retries across restarts.

A ``Session`` is used by one thread; a forked DataLoader worker notices the new process id and
opens its own connection. Connection failures and 503 answers are retried with exponential backoff
(up to ``retry_for`` seconds) when the request is safe to repeat, so a gateway restart in the
middle of an epoch only delays the reader.
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
from typing import IO, Any, Mapping
from urllib.parse import urlsplit

from .errors import StrataError
from .wire import unpack

log = logging.getLogger("strata.http")

MSGPACK = "application/msgpack"
_RETRYABLE = (ConnectionError, http.client.HTTPException, socket.timeout, TimeoutError, OSError)


@dataclass(frozen=True)
class Response:
    status: int
    content_type: str
    body: bytes | bytearray

    def decode(self, tensor_format: str = "numpy") -> Any:
        if not self.body:
            return None
        if self.content_type.startswith(MSGPACK):
            return unpack(self.body, tensor_format)
        return json.loads(self.body)


class Session:
    def __init__(self, url: str, token: str | None = None, timeout: float = 60.0, retry_for: float = 60.0) -> None:
        parts = urlsplit(url if "://" in url else f"http://{url}")
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise StrataError("BAD_REQUEST", f"gateway URL must be http(s)://HOST[:PORT], not {url!r}")
        self.url = url
        self._https = parts.scheme == "https"
        self._host = parts.hostname
        self._port = parts.port or (443 if self._https else 80)
        self._prefix = parts.path.rstrip("/")
        self._token = token
        self._timeout = timeout
        self._retry_for = retry_for
        self._conn: http.client.HTTPConnection | None = None
        self._pid = os.getpid()

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    def __del__(self) -> None:
        self.close()

    def _connection(self) -> http.client.HTTPConnection:
        if self._pid != os.getpid():  # forked: the parent's socket is not ours to use
            self._conn = None
            self._pid = os.getpid()
        if self._conn is None:
            if self._https:
                self._conn = http.client.HTTPSConnection(self._host, self._port, timeout=self._timeout, context=ssl.create_default_context())
            else:
                self._conn = http.client.HTTPConnection(self._host, self._port, timeout=self._timeout)
            self._conn.connect()
            self._conn.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return self._conn

    def request(self, method: str, path: str, body: bytes | IO[bytes] | None = None, content_type: str | None = None, idempotent: bool = True, headers: Mapping[str, str] | None = None) -> Response:
        """Sends a request and answers its response, raising StrataError for a gateway error.

        ``idempotent=False`` (creating a stream, say) retries only failures to connect and 503
        refusals (the gateway's in-flight cap answers 503 before it reads a body), never a request
        whose connection broke after it was sent. Publishes are sent as idempotent: each carries
        a producer sequence the gateway deduplicates, so a retry never writes a record twice.
        A file-like ``body`` is sent chunked as it is read; a retry reads it again, so its reads
        must start over once it has answered EOF. ``headers`` are added to the request.
        """
        headers = {"Accept": MSGPACK, **(headers or {})}
        if content_type is not None:
            headers["Content-Type"] = content_type
        if self._token is not None:
            headers["Authorization"] = f"Bearer {self._token}"
        deadline = time.monotonic() + self._retry_for
        attempt = 0
        while True:
            connected = False
            try:
                conn = self._connection()
                connected = True
                conn.request(method, self._prefix + path, body=body, headers=headers)
                response = self._read(conn.getresponse())
            except _RETRYABLE as error:
                self.close()
                if (not idempotent and connected) or time.monotonic() >= deadline:
                    raise StrataError("UNAVAILABLE", f"{method} {self.url}{path}: {error!r}") from error
                attempt = self._backoff(attempt, f"{method} {path}: {error!r}")
                continue
            if response.status == 503 and time.monotonic() < deadline:
                attempt = self._backoff(attempt, f"{method} {path}: 503")
                continue
            if response.status >= 400:
                raise _error_of(response)
            return response

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
        return Response(raw.status, raw.getheader("Content-Type", ""), body)

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
