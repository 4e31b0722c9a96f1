"""The gateways a client talks to: one URL, a comma-separated list or a list of URLs.

Requests go to the gateway that last answered (sticky, shared by the threads of one ``Client``),
and move to the next URL after a failure that another gateway can mend: a connection refused,
reset or not answered in time, or a 503 whose code is in ``FAILOVER_CODES``. One load balancer URL
is a list of one. See ``Session.request`` (http.py) for which requests are sent again.
"""

from __future__ import annotations

import threading
from typing import Sequence
from urllib.parse import urlsplit

from .errors import StrataError

#: The 503 codes after which a request goes to another gateway (or the same one, a moment later).
FAILOVER_CODES = frozenset(("NOT_LEADER", "LEASE_LOST", "UNAVAILABLE", "METADATA_UNAVAILABLE"))


def parse_urls(urls: str | Sequence[str]) -> list[str]:
    """The gateway URLs of ``urls``: http(s), a URL without a scheme means http, normalized, no repeats."""
    parts = [urls] if isinstance(urls, str) else list(urls)
    out: list[str] = []
    for text in (piece.strip() for part in parts for piece in str(part).split(",")):
        if not text:
            continue
        url = (text if "://" in text else f"http://{text}").rstrip("/")
        split = urlsplit(url)
        if split.scheme not in ("http", "https") or not split.hostname:
            raise StrataError("BAD_REQUEST", f"gateway URL must be http(s)://HOST[:PORT], not {text!r}")
        if url not in out:
            out.append(url)
    if not out:
        raise StrataError("BAD_REQUEST", "give at least one gateway URL")
    return out


def retry_after_seconds(header: str | None) -> float | None:
    """A Retry-After header in seconds (its HTTP-date form is read as no advice)."""
    if header is None:
        return None
    try:
        seconds = float(header)
    except ValueError:
        return None
    return seconds if seconds >= 0 else None


class Endpoints:
    """The URLs and which one requests go to; thread-safe, picklable (a worker process starts at the first URL)."""

    def __init__(self, urls: str | Sequence[str]) -> None:
        self.urls: tuple[str, ...] = tuple(parse_urls(urls))
        self._index = 0
        self._lock = threading.Lock()

    def __getstate__(self) -> dict:
        return {"urls": self.urls}

    def __setstate__(self, state: dict) -> None:
        self.urls = state["urls"]
        self._index = 0
        self._lock = threading.Lock()

    def current(self) -> str:
        with self._lock:
            return self.urls[self._index]

    def failed(self, url: str) -> str:
        """A request to ``url`` failed: when it is the current URL, the next one takes over. Answers the URL to use now."""
        with self._lock:
            if self.urls[self._index] == url:
                self._index = (self._index + 1) % len(self.urls)
            return self.urls[self._index]

    def answered(self, url: str) -> None:
        with self._lock:
            if url in self.urls:
                self._index = self.urls.index(url)
