"""A candidate's two stored files, made one way wherever a candidate's image is written
(``candidate_store``, and a re-crop replacing it in scoring): the photo as a JPEG at
quality 92 and a 384 px thumbnail at 85."""

from __future__ import annotations

import io
import math
from concurrent.futures import ThreadPoolExecutor

from PIL import Image

from .intake.decode import cores_available

THUMB_SIZE = 384


def thumbnail_size(size: tuple[int, int], box: int = THUMB_SIZE) -> tuple[int, int]:
    """The size ``Image.thumbnail((box, box))`` gives an image of ``size`` (Pillow's own
    rounding: the side nearest the aspect ratio), so the thumbnail is made by one resize,
    without copying the full image first."""
    width, height = size
    if box >= width and box >= height:
        return size

    def round_aspect(number: float, key) -> int:
        return max(min(math.floor(number), math.ceil(number), key=key), 1)

    aspect = width / height
    x, y = box, box
    if x / y >= aspect:
        x = round_aspect(y * aspect, key=lambda n: abs(aspect - n / y))
    else:
        y = round_aspect(x / aspect, key=lambda n: 0 if n == 0 else abs(aspect - x / n))
    return x, y


def candidate_thumbnail(image: Image.Image) -> Image.Image:
    """What ``image.copy().thumbnail((384, 384), LANCZOS, reducing_gap=1.0)`` gives, pixel
    for pixel: a whole-factor box reduction first, then Lanczos (half the time of Lanczos
    over the full image, the same picture to within a level on average)."""
    size = thumbnail_size(image.size)
    if size == image.size:
        return image
    return image.resize(size, Image.Resampling.LANCZOS, reducing_gap=1.0)


def _jpeg(image: Image.Image, quality: int) -> bytes:
    out = io.BytesIO()
    image.save(out, format="JPEG", quality=quality)
    return out.getvalue()


def _thumbnail_jpeg(image: Image.Image) -> bytes:
    return _jpeg(candidate_thumbnail(image), 85)


def candidate_jpegs(image: Image.Image) -> tuple[bytes, bytes]:
    """The stored photo and its thumbnail, as JPEG bytes (``image`` is RGB).

    Where the process has a second core, the thumbnail is made and encoded on another
    thread while the photo is encoded here: Pillow releases the GIL for both, so the pair
    takes the longer of the two, not both (the same bytes; about 0.3 ms more CPU). The
    thread is started per call: a pool kept in the module would not survive a prefork
    worker's fork."""
    if cores_available() < 2:
        return _jpeg(image, 92), _thumbnail_jpeg(image)
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="thumbnail") as pool:
        thumb = pool.submit(_thumbnail_jpeg, image)
        return _jpeg(image, 92), thumb.result()
