"""Person segmentation with MediaPipe's selfie segmentation model, read from the wheel's files.

The model (``selfie_segmentation.tflite``, 256×256, Apache-2.0) ships inside the
``mediapipe==0.10.21`` wheel; later releases ship no model files. It is loaded from a
local path (the ``SEGMENTATION_MODEL_PATH`` setting when set, else the installed wheel)
and never from the network. The model's coarse confidence map is refined into a hair-level matte
by ``generation.backends.matting``.

MediaPipe graphs are not thread-safe: there is one segmenter per process, and calls to it
are serialised by a lock (a call takes a few milliseconds).
"""

from __future__ import annotations

import importlib.util
import os
import threading
import warnings
from pathlib import Path

import cv2
import numpy as np
from django.conf import settings
from PIL import Image

from generation.backends.matting import WORK_SIDE, refine_mask

MODEL_SIDE = 256  # the general selfie model's square input
# The head passes: square side in face-box heights, and whether the view is mirrored.
HEAD_VIEWS = ((2.4, False), (2.4, True), (3.0, False))
_MODEL_IN_WHEEL = Path("modules") / "selfie_segmentation" / "selfie_segmentation.tflite"

_lock = threading.Lock()
_segmenters: dict[tuple[int, str], object] = {}


def segmentation_model_path() -> Path:
    """The .tflite file: ``settings.SEGMENTATION_MODEL_PATH`` if set, else mediapipe's own."""
    configured = getattr(settings, "SEGMENTATION_MODEL_PATH", "")
    if configured:
        path = Path(configured)
    else:
        # Found without importing mediapipe (its import takes a second or more).
        spec = importlib.util.find_spec("mediapipe")
        if spec is None or not spec.submodule_search_locations:
            raise RuntimeError(
                "Segmentation model not found: install mediapipe==0.10.21 "
                "(pip install --no-deps mediapipe==0.10.21) or set SEGMENTATION_MODEL_PATH."
            )
        path = Path(next(iter(spec.submodule_search_locations))) / _MODEL_IN_WHEEL
    if not path.is_file():
        raise RuntimeError(f"Segmentation model file {path} does not exist.")
    return path


def _segmenter():
    """One ImageSegmenter per process and model path (never shared across a fork)."""
    path = str(segmentation_model_path())
    key = (os.getpid(), path)
    segmenter = _segmenters.get(key)
    if segmenter is None:
        with warnings.catch_warnings():
            # protobuf 4 warns about an API mediapipe uses internally.
            warnings.simplefilter("ignore", UserWarning)
            from mediapipe.tasks.python import BaseOptions
            from mediapipe.tasks.python.vision import ImageSegmenter, ImageSegmenterOptions

            options = ImageSegmenterOptions(
                base_options=BaseOptions(model_asset_path=path),
                output_confidence_masks=True, output_category_mask=False,
            )
            segmenter = ImageSegmenter.create_from_options(options)
        _segmenters[key] = segmenter
    return segmenter


def model_confidence(rgb: np.ndarray, *, resize: bool = True) -> np.ndarray:
    """The model's raw person confidence for an RGB uint8 array, at MODEL_SIDE² (float32).

    The image is stretched to the model's square input (``resize=False``: it already is).
    """
    import mediapipe as mp

    small = cv2.resize(rgb, (MODEL_SIDE, MODEL_SIDE), interpolation=cv2.INTER_AREA) if resize \
        else rgb
    frame = mp.Image(image_format=mp.ImageFormat.SRGB, data=np.ascontiguousarray(small))
    with _lock:
        result = _segmenter().segment(frame)
        confidence = np.array(result.confidence_masks[0].numpy_view(), dtype=np.float32)
    return np.clip(confidence.reshape(MODEL_SIDE, MODEL_SIDE), 0.0, 1.0)


def _prescaled(rgb: np.ndarray, side: float, cache: dict[float, np.ndarray]) -> tuple[
        float, np.ndarray]:
    """``rgb`` reduced so that a square of ``side`` is at most twice the model's input,
    once per scale (two head views share theirs)."""
    prescale = min(1.0, 2 * MODEL_SIDE / side)
    if prescale not in cache:
        cache[prescale] = rgb if prescale == 1.0 else cv2.resize(
            rgb, None, fx=prescale, fy=prescale, interpolation=cv2.INTER_AREA)
    return prescale, cache[prescale]


def _square_confidence(rgb: np.ndarray, square: tuple[float, float, float], *, flip: bool,
                       size: tuple[int, int],
                       prescaled: dict[float, np.ndarray] | None = None) -> np.ndarray:
    """The model's confidence for a square (x0, y0, side) of ``rgb``, drawn at ``size``."""
    h, w = rgb.shape[:2]
    x0, y0, side = square
    prescale, source = _prescaled(rgb, side, {} if prescaled is None else prescaled)
    k = MODEL_SIDE / side
    # Crop by warping (the square may leave the frame; edge pixels fill it).
    to_crop = np.array([[k / prescale, 0, -x0 * k], [0, k / prescale, -y0 * k]])
    if flip:
        to_crop[0] = -to_crop[0]
        to_crop[0, 2] += MODEL_SIDE - 1
    crop = cv2.warpAffine(source, to_crop, (MODEL_SIDE, MODEL_SIDE), flags=cv2.INTER_LINEAR,
                          borderMode=cv2.BORDER_REPLICATE)
    confidence = model_confidence(crop, resize=False)
    if flip:
        confidence = np.ascontiguousarray(confidence[:, ::-1])
    out_w, out_h = size
    sx, sy = out_w / w, out_h / h
    back = np.array([[side / MODEL_SIDE * sx, 0, x0 * sx], [0, side / MODEL_SIDE * sy, y0 * sy]])
    return cv2.warpAffine(confidence, back, (out_w, out_h), flags=cv2.INTER_LINEAR,
                          borderMode=cv2.BORDER_CONSTANT, borderValue=0)


def _head_confidence(rgb: np.ndarray, focus: tuple[float, float, float, float],
                     size: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
    """A closer look at the head alone, at ``size`` (w, h), with its blending weight.

    At 256 px for the whole frame, the hair's outline is a few model pixels wide; a square
    around the head gives the model several times the resolution where it matters most.
    Three views (two sizes, one mirrored) are averaged: the model's stray guesses in a
    busy background rarely agree between views, the person does.
    """
    left, top, right, bottom = focus
    face_h = bottom - top
    cx, cy = (left + right) / 2, (top + bottom) / 2 - 0.2 * face_h
    views = []
    prescaled: dict[float, np.ndarray] = {}
    for factor, flip in HEAD_VIEWS:
        side = max(16.0, factor * face_h)
        views.append(_square_confidence(rgb, (cx - side / 2, cy - side / 2, side), flip=flip,
                                        size=size, prescaled=prescaled))
    head = np.mean(views, axis=0)
    # Blend weight: 1 inside the smallest square, fading out over its outer 15 %.
    side = max(16.0, min(f for f, _ in HEAD_VIEWS) * face_h)
    edge = 0.15 * side
    h, w = rgb.shape[:2]
    out_w, out_h = size
    xs = (np.arange(out_w, dtype=np.float32) + 0.5) * w / out_w
    ys = (np.arange(out_h, dtype=np.float32) + 0.5) * h / out_h
    ramp_x = np.clip(np.minimum(xs - (cx - side / 2), (cx + side / 2) - xs) / edge, 0.0, 1.0)
    ramp_y = np.clip(np.minimum(ys - (cy - side / 2), (cy + side / 2) - ys) / edge, 0.0, 1.0)
    return head.astype(np.float32), np.minimum.outer(ramp_y, ramp_x).astype(np.float32)


def person_prior(rgb: np.ndarray, *, focus: tuple[float, float, float, float] | None = None,
                 size: tuple[int, int]) -> np.ndarray:
    """The model's person confidence for ``rgb`` at ``size`` (w, h), with the closer
    passes on the head blended in where ``focus`` (a face box in ``rgb``'s pixels) is given."""
    prior = cv2.resize(model_confidence(rgb), size, interpolation=cv2.INTER_LINEAR)
    if focus is not None:
        head, weight = _head_confidence(rgb, focus, size)
        prior = weight * head + (1.0 - weight) * prior
    return prior.astype(np.float32)


def person_mask_array(rgb: np.ndarray, *,
                      focus: tuple[float, float, float, float] | None = None) -> np.ndarray:
    """Person matte for an RGB uint8 array: float32 HxW in [0, 1].

    ``focus``, a face box (left, top, right, bottom) in ``rgb``'s pixels, adds a closer
    second pass on the head for a finer hair line.
    """
    rgb = np.ascontiguousarray(rgb[..., :3], dtype=np.uint8)
    h, w = rgb.shape[:2]
    ratio = min(1.0, WORK_SIDE / max(h, w))
    size = (max(1, round(w * ratio)), max(1, round(h * ratio)))
    return refine_mask(rgb, person_prior(rgb, focus=focus, size=size))


def person_mask(image: Image.Image, *,
                focus: tuple[float, float, float, float] | None = None) -> np.ndarray:
    """Person matte for ``image``: float32 HxW in [0, 1], 1 on the person."""
    return person_mask_array(np.asarray(image.convert("RGB")), focus=focus)
