"""The one exception type of the client: a gateway error code, its message and the HTTP status."""

from __future__ import annotations


class StrataError(Exception):
    """A refusal or failure, carrying the gateway's error code (``NOT_FOUND``, ``BAD_REQUEST``, ...).

    ``status`` is the HTTP status the gateway answered with, or ``None`` for errors raised by the
    client itself (a malformed resume state, an unreachable gateway after the retries).
    """

    def __init__(self, code: str, message: str, status: int | None = None) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message
        self.status = status

    def __reduce__(self):  # DataLoader workers pickle exceptions back to the main process
        return (StrataError, (self.code, self.message, self.status))
