"""A candidate's thumbnail, made by one resize, is Pillow's ``thumbnail`` pixel for pixel."""

from __future__ import annotations

import io

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


def _photo(size=(640, 800)) -> Image.Image:
    gradient = Image.linear_gradient("L").resize(size)
    return Image.merge("RGB", (gradient, gradient.transpose(Image.Transpose.FLIP_LEFT_RIGHT),
                               gradient.rotate(90, expand=False)))


def test_scoring_reads_a_jobs_photos_in_order_on_one_thread_or_several(monkeypatch, settings,
                                                                        tmp_path):
    from django.core.files.base import ContentFile
    from django.core.files.storage import default_storage

    from generation import scoring

    keys = []
    for index, size in enumerate([(300, 400), (400, 300), (320, 320), (200, 500)]):
        out = io.BytesIO()
        _photo(size).save(out, format="JPEG", quality=92)
        keys.append(default_storage.save(f"tests/open-all-{tmp_path.name}-{index}.jpg",
                                         ContentFile(out.getvalue())))
    try:
        settings.SCORING_THREADS = 1
        one = scoring._open_all(keys)
        settings.SCORING_THREADS = 3
        monkeypatch.setattr(scoring, "cores_available", lambda: 4)
        several = scoring._open_all(keys)
    finally:
        for key in keys:
            default_storage.delete(key)
    assert [i.size for i in several] == [(300, 400), (400, 300), (320, 320), (200, 500)]
    assert [i.tobytes() for i in several] == [i.tobytes() for i in one]
    assert all(i.mode == "RGB" for i in several)
