"""Waiting before trying again: what a server's Retry-After header asks for, and jitter so
that many workers retrying the same thing do not come back at the same moment."""

from __future__ import annotations

import email.utils
import random
import time


def retry_after_seconds(value: str | None) -> float | None:
    """Retry-After as seconds (it may be a number or an HTTP date); None when absent or
    unreadable."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())


def jittered(seconds: float) -> float:
    """``seconds`` plus up to a quarter more, at random."""
    return seconds * (1 + random.random() * 0.25)
