"""What can go wrong with Replicate, for callers of generation.backends.replicate_api.

- ``RateLimited`` (a ``ReplicateError`` with ``transient=True``): wait ``retry_after``
  seconds and try again. Raised by our own token bucket before a create (the API never saw
  the request) and for HTTP 429 from the API.
- ``ReplicateError(transient=True)``: 5xx, timeouts, connection failures. Retry with
  backoff. NB: a create that timed out may still have made a prediction.
- ``ReplicateError(transient=False)``: 4xx (bad token, invalid input, unknown prediction),
  an unknown model, malformed responses. Retrying will not help.
"""

from __future__ import annotations


class ReplicateError(Exception):
    """Replicate could not do what we asked. ``transient`` says whether a retry may work."""

    def __init__(self, message: str, *, transient: bool, status: int | None = None) -> None:
        super().__init__(message)
        self.transient = transient
        self.status = status


class RateLimited(ReplicateError):
    """Too many creates: try again after ``retry_after`` seconds."""

    def __init__(self, message: str, *, retry_after: float, status: int | None = None) -> None:
        super().__init__(message, transient=True, status=status)
        self.retry_after = retry_after
