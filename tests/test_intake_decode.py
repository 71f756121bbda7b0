"""Intake at the decoder's limit: big photos are scaled while decoding (JPEG) or by a whole
factor (others), then at most one resize, with orientation and colour applied after."""

from __future__ import annotations

import io
import os

import pillow_heif
from PIL import Image

from generation.intake.decode import COVER, IntakeLimits, image_normalise

from . import images

LIMITS = IntakeLimits()


def _big_true_picture(scale: int) -> Image.Image:
    picture = images.true_picture()
    return picture.resize((picture.width * scale, picture.height * scale), Image.Resampling.BOX)


def _check_blocks(image: Image.Image) -> None:
    """The true picture's layout at any size: red top-left, blue top-right, grey below."""
    w, h = image.size
    assert abs(w / h - 4 / 3) < 0.01
    for xy, colour in (((w * 0.05, h * 0.05), images.RED), ((w * 0.95, h * 0.05), images.BLUE),
                       ((w * 0.5, h * 0.5), images.GREY), ((w * 0.05, h * 0.95), images.GREY)):
        pixel = image.getpixel((int(xy[0]), int(xy[1])))
        assert all(abs(a - b) <= 14 for a, b in zip(pixel, colour, strict=True)), (xy, pixel)


def test_a_12_mp_jpeg_turned_sideways_decodes_at_half_size_the_right_way_up():
    picture = _big_true_picture(10)  # 3840×2880, as a phone's 12 MP
    exif = Image.Exif()
    exif[0x0112] = 6  # stored turned 90° counter-clockwise; shown turned back
    buffer = io.BytesIO()
    picture.transpose(Image.Transpose.ROTATE_90).save(buffer, "JPEG", quality=90, exif=exif)
    clean = image_normalise(buffer.getvalue(), limits=LIMITS)
    assert (clean.source_width, clean.source_height) == (2880, 3840)
    assert (clean.width, clean.height) == (1920, 1440)  # 1/2 by the decoder, no resize
    assert COVER * LIMITS.long_side <= max(clean.width, clean.height) <= LIMITS.long_side
    _check_blocks(clean.image)
    assert clean.jpeg[:2] == b"\xff\xd8" and b"Exif" not in clean.jpeg[:200]


def test_other_formats_shrink_by_a_whole_factor_then_one_resize_to_the_long_side():
    buffer = io.BytesIO()
    _big_true_picture(11).save(buffer, "PNG", compress_level=1)  # 4224×3168
    clean = image_normalise(buffer.getvalue(), limits=LIMITS)
    assert max(clean.width, clean.height) == LIMITS.long_side  # 2112 after ½, then 2048
    _check_blocks(clean.image)


def test_a_photo_at_or_under_the_long_side_keeps_its_size():
    buffer = io.BytesIO()
    _big_true_picture(5).save(buffer, "JPEG", quality=90)  # 1920×1440
    clean = image_normalise(buffer.getvalue(), limits=LIMITS)
    assert (clean.width, clean.height) == (1920, 1440)


def test_heic_decodes_on_every_core_the_process_may_use_and_never_from_a_thumbnail():
    from generation.intake.decode import cores_available

    assert pillow_heif.options.DECODE_THREADS == cores_available() <= len(os.sched_getaffinity(0))
    assert pillow_heif.options.THUMBNAILS is False
