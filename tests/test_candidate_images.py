"""A candidate's thumbnail, made by one resize, is Pillow's ``thumbnail`` pixel for pixel."""

from __future__ import annotations

import pytest
from PIL import Image

from generation.candidate_images import THUMB_SIZE, candidate_thumbnail, thumbnail_size


@pytest.mark.parametrize("size", [(819, 1024), (1024, 819), (1024, 1024), (768, 1024),
                                  (1000, 333), (333, 1000), (400, 100), (385, 384),
                                  (384, 384), (200, 300), (3, 2000), (2000, 3)])
def test_thumbnail_is_pillows_own(size):
    image = Image.linear_gradient("L").resize(size).convert("RGB")
    expected = image.copy()
    expected.thumbnail((THUMB_SIZE, THUMB_SIZE), Image.Resampling.LANCZOS, reducing_gap=1.0)
    made = candidate_thumbnail(image)
    assert thumbnail_size(size) == expected.size == made.size
    assert made.tobytes() == expected.tobytes()
