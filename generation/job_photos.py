"""The photos a job run stored, kept in memory, decoded, for the same run's scoring.

Scoring used to read every photo the run had just written back from storage (on S3, one GET
per candidate on the job's critical path), then decode the bytes the run had kept instead:
a fifth of the platform's own CPU per job (4–6 ms a 1024×1280 candidate), to get back
pixels the run held a moment before. Now the run keeps the image it encoded, and scoring
judges that. The stored JPEG (quality 92) is those pixels to within a level or two (mean
absolute difference 0.7–1.4 levels on real retouched portraits). ``bench/judged_pixels.py``
judges both side by side: on the shared identities' candidates, each against its own
person and an impostor, every gate gave the same verdict on both (30 of 30), and the
likeness distance differed by 0.004 on average, at most 0.013 (the threshold is 0.5). The
re-crop now starts from the pixels the backend made, not from a JPEG of them.

Nothing here outlives the run (``photos_kept``): the images go when the block ends (about
5 MB a 1024×1280 candidate, until scoring takes it). A photo the run itself replaces
(scoring's re-crop) or drops (a duplicate) is forgotten, so scoring never judges a photo the
run knows storage no longer holds; a photo this run did not store (a job resumed, rescored
or settled by a later webhook) is read from storage as before. A candidate erased by
someone else during the run may still be judged from its pixels; its verdict then updates
no row.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

from PIL import Image

_kept: ContextVar[dict[str, Image.Image] | None] = ContextVar("job_photos", default=None)


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


def photo_stored(key: str, image: Image.Image) -> None:
    """Storage now holds ``image`` (RGB), encoded, at ``key``."""
    kept = _kept.get()
    if kept is not None:
        kept[key] = image


def photo_forgotten(key: str) -> None:
    """What storage holds at ``key`` changed, or is gone."""
    kept = _kept.get()
    if kept is not None:
        kept.pop(key, None)


def photo_taken(key: str) -> Image.Image | None:
    """The image this run stored at ``key``, handed over once; None: read storage."""
    kept = _kept.get()
    return None if kept is None else kept.pop(key, None)
