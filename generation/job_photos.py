"""The photos a job run stored, kept in memory for the same run's scoring.

Scoring judges the stored JPEG, so it read every photo the run had just written back from
storage: on S3, one GET per candidate on the job's critical path. Within one run, the bytes
a photo was stored as are the bytes storage holds, so scoring decodes those instead: the
same pixels, without the round trip.

Nothing here outlives the run (``photos_kept``): the bytes go when the block ends. A photo
the run itself replaces (scoring's re-crop) or drops (a duplicate) is forgotten, so scoring
never judges bytes the run knows storage no longer holds; a photo this run did not store (a
job resumed, rescored or settled by a later webhook) is read from storage as before. A
candidate erased by someone else during the run may still be judged from its bytes; its
verdict then updates no row.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

_kept: ContextVar[dict[str, bytes] | None] = ContextVar("job_photos", default=None)


@contextmanager
def photos_kept() -> Iterator[None]:
    """Photos stored inside the block are kept for scoring inside it. Nested: the outer
    block keeps them."""
    if _kept.get() is not None:
        yield
        return
    token = _kept.set({})
    try:
        yield
    finally:
        _kept.reset(token)


def photo_stored(key: str, data: bytes) -> None:
    """``data`` is now what storage holds at ``key``."""
    kept = _kept.get()
    if kept is not None:
        kept[key] = data


def photo_forgotten(key: str) -> None:
    """What storage holds at ``key`` changed, or is gone."""
    kept = _kept.get()
    if kept is not None:
        kept.pop(key, None)


def photo_taken(key: str) -> bytes | None:
    """The bytes this run stored at ``key``, handed over once; None: read storage."""
    kept = _kept.get()
    return None if kept is None else kept.pop(key, None)
