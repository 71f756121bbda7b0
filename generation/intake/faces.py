"""Face detection and landmarks, from model files shipped in wheels, safe under threads.

dlib's HOG detector is built into dlib-bin; the 5-point landmark model and the
face-recognition ResNet come from the ``face-recognition-models`` package (public domain).
The 68-point model in that package is never loaded: its training data forbids commercial
use. MediaPipe's BlazeFace detectors (short and full range, Apache-2.0) come inside the
``mediapipe==0.10.21`` wheel. Models load from local paths (``FACE_MODELS_DIR``) and never
from a hub.

**Threads.** None of these models may be shared by threads: one dlib detector or shape
predictor called from two threads at once gave wrong boxes and segfaults under the web
server's threads, and a MediaPipe graph is stateful. Every thread (and every process: the
models are created lazily, after any fork) gets its own instances through ``models()``.
Loading costs ~0.1 s and ~40 MB per thread, once.
"""

from __future__ import annotations

import importlib.util
import math
import os
import threading
import warnings
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


_free_sets: list[dict[str, object]] = []  # model sets whose thread has ended
_free_lock = threading.Lock()


class _ModelSet:
    """One thread's models. When the thread ends, Python drops its thread-local data and
    the set goes back to ``_free_sets`` for the next new thread: a server that starts a
    thread per request does not reload every model each time, and no instance is ever held
    by two live threads. A set made before a fork is not reused after it (MediaPipe's graphs
    own threads, which a fork does not copy)."""

    def __init__(self) -> None:
        with _free_lock:
            while _free_sets:
                models = _free_sets.pop()
                if models.get("pid") == os.getpid():
                    self.models = models
                    return
        self.models = {"pid": os.getpid()}

    def __del__(self) -> None:
        try:
            with _free_lock:
                _free_sets.append(self.models)
        except TypeError:  # interpreter shutdown: the module's globals are gone
            pass


class _ThreadModels(threading.local):
    """This thread's own model instances, created on first use."""

    def __init__(self) -> None:
        self.set = _ModelSet()

    def get(self, name: str, factory):
        if self.set.models.get("pid") != os.getpid():  # this thread was forked into a child
            self.set = _ModelSet()
        model = self.set.models.get(name)
        if model is None:
            model = self.set.models[name] = factory()
        return model


_models = _ThreadModels()


def _new_detector():
    import dlib

    return dlib.get_frontal_face_detector()


def _new_landmarks():
    import dlib

    return dlib.shape_predictor(str(face_models_dir() / "shape_predictor_5_face_landmarks.dat"))


def _new_recogniser():
    import dlib

    return dlib.face_recognition_model_v1(
        str(face_models_dir() / "dlib_face_recognition_resnet_model_v1.dat"))


def _new_blazeface(model_selection: int):
    def make():
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)  # protobuf 4 deprecation noise
            from mediapipe.python.solutions.face_detection import FaceDetection

            # Callers decide what score counts for what, so ask for a low floor. The graph
            # still drops what its own model deems too weak (0.5 short range, 0.6 full range,
            # seen while matching its detections outside MediaPipe), so nothing under that
            # reaches a caller; every threshold the gates apply is 0.6 or more.
            return FaceDetection(model_selection=model_selection, min_detection_confidence=0.3)
    return make


def _detector():
    return _models.get("dlib_detector", _new_detector)


def _landmarks():
    return _models.get("dlib_landmarks", _new_landmarks)


def _recogniser():
    return _models.get("dlib_recogniser", _new_recogniser)


def blazeface(model_selection: int = 0):
    """MediaPipe's face detector for this thread: 0 short range (faces > ~20 % of the
    frame), 1 full range (smaller faces)."""
    return _models.get(f"blazeface_{model_selection}", _new_blazeface(model_selection))


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
    def centre(self) -> tuple[float, float]:
        return ((self.left + self.right) / 2, (self.top + self.bottom) / 2)

    @property
    def roll_degrees(self) -> float:
        """Head tilt: 0 when the eyes are level; positive when the person's left eye is lower."""
        (rx, ry), (lx, ly) = self.right_eye, self.left_eye
        return math.degrees(math.atan2(ly - ry, lx - rx))


def detection_copy(image: Image.Image, long_side: int = DETECT_LONG_SIDE
                   ) -> tuple[np.ndarray, float]:
    """RGB pixels at most ``long_side`` long, and the scale from ``image`` to them."""
    scale = min(1.0, long_side / max(image.size))
    small = image if scale == 1.0 else image.resize(
        (max(1, round(image.width * scale)), max(1, round(image.height * scale))),
        Image.Resampling.BILINEAR,
    )
    return np.asarray(small.convert("RGB")), scale


def faces_detect(image: Image.Image, *, upsample: int = 1,
                 long_side: int = DETECT_LONG_SIDE) -> list[Face]:
    """All faces dlib's HOG detector finds, largest first, in ``image``'s own coordinates.

    ``upsample=1`` (QA) also finds faces down to ~40 px at the detection size; ``0`` is
    about four times faster and finds faces of 80 px and more.
    """
    pixels, scale = detection_copy(image, long_side)
    return faces_detect_array(pixels, upsample=upsample, scale=scale)


def faces_detect_array(pixels: np.ndarray, *, upsample: int = 1, scale: float = 1.0,
                       threshold: float = 0.0) -> list[Face]:
    """As ``faces_detect``, on RGB uint8 pixels; boxes divided by ``scale``."""
    rects, scores, _ = _detector().run(pixels, upsample, threshold)
    faces: list[Face] = []
    predictor = _landmarks()
    for rect, score in zip(rects, scores, strict=True):
        shape = predictor(pixels, rect)
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


def landmarks_for(pixels: np.ndarray, box: tuple[float, float, float, float]):
    """dlib's 5-point shape for a face box in ``pixels`` (this thread's predictor)."""
    import dlib

    rect = dlib.rectangle(*(round(v) for v in box))
    return _landmarks()(pixels, rect)


def _mid(a: tuple[float, float], b: tuple[float, float]) -> tuple[float, float]:
    return ((a[0] + b[0]) / 2, (a[1] + b[1]) / 2)
