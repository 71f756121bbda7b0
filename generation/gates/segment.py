"""A coarse person mask for measuring the backdrop, one MediaPipe model per thread.

MediaPipe's selfie segmentation (general model, 256x256, inside the mediapipe==0.10.21
wheel) is enough to tell backdrop from person for a share of pixels: no fine matte is
needed, so this is cheaper than the offline backend's refined matte, and it is never
shared between threads (``generation.intake.faces.models``).
"""

from __future__ import annotations

import warnings

import cv2
import numpy as np

from generation.intake.faces import _models

SEGMENT_LONG_SIDE = 256  # the model's own input size: more pixels only cost colour maths


def _new_segmenter():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        from mediapipe.python.solutions.selfie_segmentation import SelfieSegmentation

        return SelfieSegmentation(model_selection=0)


def person_confidence(pixels: np.ndarray) -> np.ndarray:
    """Person confidence (float32 HxW in 0..1) for RGB uint8 ``pixels``, at their size."""
    segmenter = _models.get("selfie_segmentation", _new_segmenter)
    result = segmenter.process(np.ascontiguousarray(pixels))
    mask = result.segmentation_mask
    if mask is None:
        return np.zeros(pixels.shape[:2], dtype=np.float32)
    mask = np.asarray(mask, dtype=np.float32)
    if mask.shape != pixels.shape[:2]:
        mask = cv2.resize(mask, (pixels.shape[1], pixels.shape[0]))
    return np.clip(mask, 0.0, 1.0)
