"""Face detection and landmarks with dlib, from model files shipped in a wheel.

dlib's HOG detector is built into dlib-bin; the 5-point landmark model comes
from the ``face-recognition-models`` package (public domain). The 68-point
model in that package is never loaded: its training data forbids commercial use.
Models load from a local path (``FACE_MODELS_DIR``) and never from a hub.
"""

from __future__ import annotations

import functools
import importlib.util
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from django.conf import settings
from PIL import Image

DETECT_LONG_SIDE = 640


def face_models_dir() -> Path:
    configured = getattr(settings, "FACE_MODELS_DIR", "")
    if configured:
        return Path(configured)
    # Located without importing: the package's __init__ needs pkg_resources.
    spec = importlib.util.find_spec("face_recognition_models")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError(
            "Face models not found: install face-recognition-models or set FACE_MODELS_DIR."
        )
    return Path(next(iter(spec.submodule_search_locations))) / "models"


@functools.cache
def _detector():
    import dlib

    return dlib.get_frontal_face_detector()


@functools.cache
def _landmarks():
    import dlib

    return dlib.shape_predictor(str(face_models_dir() / "shape_predictor_5_face_landmarks.dat"))


@dataclass(frozen=True)
class Face:
    # Box in the analysed image's pixels: left, top, right, bottom (may exceed the frame).
    left: float
    top: float
    right: float
    bottom: float
    score: float
    # Eye centres (x, y) from the 5-point model: the person's right eye, then left.
    right_eye: tuple[float, float]
    left_eye: tuple[float, float]
    nose: tuple[float, float]

    @property
    def width(self) -> float:
        return self.right - self.left

    @property
    def height(self) -> float:
        return self.bottom - self.top

    @property
    def roll_degrees(self) -> float:
        """Head tilt: 0 when the eyes are level; positive when the person's left eye is lower."""
        (rx, ry), (lx, ly) = self.right_eye, self.left_eye
        return math.degrees(math.atan2(ly - ry, lx - rx))


def faces_detect(image: Image.Image, *, upsample: int = 1) -> list[Face]:
    """All faces, largest first, in ``image``'s own pixel coordinates.

    ``upsample=1`` (QA) also finds faces down to ~40 px at the detection size; ``0`` is
    about four times faster and finds faces of 80 px and more.
    """
    scale = min(1.0, DETECT_LONG_SIDE / max(image.size))
    small = image if scale == 1.0 else image.resize(
        (max(1, round(image.width * scale)), max(1, round(image.height * scale))),
        Image.Resampling.BILINEAR,
    )
    pixels = np.asarray(small.convert("RGB"))
    rects, scores, _ = _detector().run(pixels, upsample, 0.0)
    faces: list[Face] = []
    for rect, score in zip(rects, scores, strict=True):
        shape = _landmarks()(pixels, rect)
        points = [(p.x / scale, p.y / scale) for p in shape.parts()]
        # 5-point model: 0-1 one eye's corners, 2-3 the other's, 4 under the nose.
        eye_a = _mid(points[0], points[1])
        eye_b = _mid(points[2], points[3])
        right_eye, left_eye = sorted((eye_a, eye_b))  # image-left eye is the person's right
        faces.append(Face(
            left=rect.left() / scale, top=rect.top() / scale,
            right=rect.right() / scale, bottom=rect.bottom() / scale,
            score=float(score), right_eye=right_eye, left_eye=left_eye, nose=points[4],
        ))
    faces.sort(key=lambda f: f.width * f.height, reverse=True)
    return faces


def _mid(a: tuple[float, float], b: tuple[float, float]) -> tuple[float, float]:
    return ((a[0] + b[0]) / 2, (a[1] + b[1]) / 2)
