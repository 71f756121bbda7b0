"""Real portraits from ../shared/faces (read in place, never copied into the project)."""

from __future__ import annotations

import io
import os
from pathlib import Path

import pytest
from PIL import Image


def _faces_dir() -> Path:
    """``SHARED_FACES_DIR``, else ``../shared/faces`` beside the checkout, else beside the
    workspace's main checkout (a CI clone may live elsewhere)."""
    candidates = [os.environ.get("SHARED_FACES_DIR", ""),
                  Path(__file__).resolve().parents[2] / "shared" / "faces",
                  Path("/work/shared/faces")]
    for candidate in candidates:
        if candidate and Path(candidate).is_dir():
            return Path(candidate)
    return Path(candidates[1])


FACES = _faces_dir()


def face_path(name: str) -> Path:
    path = FACES / name
    if not path.exists():
        pytest.skip(f"{path} is not available")
    return path


def face_image(name: str) -> Image.Image:
    return Image.open(face_path(name)).convert("RGB")


def face_bytes(name: str) -> bytes:
    return face_path(name).read_bytes()


def jpeg(image: Image.Image, **kwargs) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format="JPEG", quality=92, **kwargs)
    return buffer.getvalue()


def face_photos(name: str = "obama.jpg") -> list[bytes]:
    """Four distinct JPEG photos of one person: the portrait, mirrored, and cropped two ways
    (for what needs several selfies: a consistent batch, a personal model)."""
    portrait = face_image(name)
    width, height = portrait.size
    return [jpeg(variant) for variant in (
        portrait, portrait.transpose(Image.Transpose.FLIP_LEFT_RIGHT),
        portrait.crop((20, 20, width - 20, height - 10)),
        portrait.crop((0, 0, width - 30, height - 30)))]
