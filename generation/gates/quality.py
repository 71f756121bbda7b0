"""Image quality of a face: is there real, photographic detail to judge a likeness on?

A blurred, pixelated or painted face can still embed close to the person (dlib's embedding
is made to ignore image quality), so quality is judged first, on the face itself, brought
to a fixed size (``SAMPLE_WIDTH`` px across the face box) so a large and a small photo of
the same face measure alike:

* ``detail``: the Laplacian's variance at the sample's scale over its variance at half that
  scale, after normalising the contrast (a dark photo is not also called blurred): how much
  of the finest scale survived, whatever the face's features; a blur takes it first;
* ``texture`` and ``flat``: the same ratio for the median absolute Laplacian (skin and hair
  grain), and the share of flat pixels: a painted or cartoon face keeps its outlines but
  loses its grain and turns into flat patches;
* ``blockiness``: the share of gradient energy on a fixed grid of rows or columns: a
  pixelated face is made of square blocks.

A candidate is judged **against the person's own selfies** (its ``detail`` against the
median of theirs), so a soft phone camera does not doom every headshot, and within absolute
floors, so a blurred selfie set cannot lower the bar to nothing.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np
from PIL import Image

from generation.intake.faces import Face

from . import codes

SAMPLE_WIDTH = 160  # face box width of the sample, pixels
# ``detail``: Laplacian variance at the sample's scale over that at half of it. Content
# (a beard, glasses) moves both alike, so the ratio mostly says how much of the finest
# scale survived; a photograph keeps >= 0.17 (calibrated on 18 portraits, their retouched
# candidates, JPEG re-encodes and rescales: bench/likeness_calibration.py), a Gaussian blur
# of 3 px on a 1024 px headshot brings it to 0.10-0.13.
MIN_DETAIL = 0.15
# Against the person's selfies: a candidate keeps at least this share of their detail.
MIN_DETAIL_OF_SELFIES = 0.3
MAX_DETAIL_FLOOR = 0.17  # ...but a very crisp selfie set never asks for more than this
# Heavy blur leaves no fine scale at all, and ``detail`` (a ratio of two near-zero numbers)
# says nothing: the contrast-normalised Laplacian variance itself must reach this (real
# candidates measured 190-1000, selfie intake refuses under 45).
MIN_SHARPNESS = 30.0
# Pixelation: the share of edge energy on a fixed grid (0 photograph, 1 pure blocks);
# JPEG re-encodes stay under 0.08, pixelation even after a rescale is above 0.15.
MAX_BLOCKINESS = 0.12
# Painted or cartoon faces: the finest texture flattened (``texture``, median absolute
# Laplacian at the sample's scale over half of it) while large areas go flat.
MAX_PAINTED_TEXTURE = 0.42
MIN_PAINTED_FLAT = 0.2
# ...or, at the photo's own resolution, large areas without any grain at all: a painted
# area is exactly flat (3x3 neighbourhoods within 1 grey level), where a photograph keeps
# sensor noise (retouched candidates and their JPEG re-encodes measured <= 0.26; cartoon
# filters 0.55-0.74). Only together with the flattened texture above.
MIN_PAINTED_STILL = 0.3
FLAT_STD = 2.0  # local standard deviation (contrast-normalised) under which a pixel is flat
MIN_FACE_PIXELS = 64  # face box width in the candidate, pixels: smaller has no detail


@dataclass(frozen=True)
class FaceQuality:
    detail: float
    texture: float
    flat: float
    blockiness: float
    sharpness: float
    face_pixels: float
    still: float = 0.0

    def as_dict(self) -> dict[str, float]:
        return {"detail": round(self.detail, 3), "texture": round(self.texture, 3),
                "flat": round(self.flat, 3), "blockiness": round(self.blockiness, 3),
                "sharpness": round(self.sharpness, 1), "face_pixels": round(self.face_pixels),
                "still": round(self.still, 3)}


def face_sample(image: Image.Image | np.ndarray, face: Face) -> np.ndarray:
    """The face box (inside the frame) in grey, resized to SAMPLE_WIDTH wide, float64."""
    pixels = np.asarray(image) if isinstance(image, Image.Image) else image
    height, width = pixels.shape[:2]
    left, top = max(0, round(face.left)), max(0, round(face.top))
    right, bottom = min(width, round(face.right)), min(height, round(face.bottom))
    crop = pixels[top:max(top + 1, bottom), left:max(left + 1, right)]
    grey = cv2.cvtColor(np.ascontiguousarray(crop), cv2.COLOR_RGB2GRAY) if crop.ndim == 3 \
        else crop
    out_h = max(1, round(grey.shape[0] * SAMPLE_WIDTH / max(1, grey.shape[1])))
    interpolation = cv2.INTER_AREA if grey.shape[1] > SAMPLE_WIDTH else cv2.INTER_CUBIC
    return cv2.resize(grey, (SAMPLE_WIDTH, out_h), interpolation=interpolation).astype(np.float64)


def face_quality(image: Image.Image | np.ndarray, face: Face) -> FaceQuality:
    pixels = np.asarray(image) if isinstance(image, Image.Image) else image
    grey = face_sample(pixels, face)
    grey = (grey - grey.mean()) * (50.0 / (grey.std() + 1e-6))  # a dark face is not blurred
    half = cv2.resize(grey, (grey.shape[1] // 2, max(1, grey.shape[0] // 2)),
                      interpolation=cv2.INTER_AREA)
    fine = cv2.Laplacian(grey, cv2.CV_64F)[2:-2, 2:-2]
    coarse = cv2.Laplacian(half, cv2.CV_64F)[1:-1, 1:-1]
    mean = cv2.blur(grey, (5, 5))
    std = np.sqrt(np.maximum(cv2.blur(grey * grey, (5, 5)) - mean * mean, 0.0))
    return FaceQuality(
        detail=float(fine.var() / (coarse.var() + 1e-6)),
        texture=float(np.median(np.abs(fine)) / (np.median(np.abs(coarse)) + 1e-6)),
        flat=float((std < FLAT_STD).mean()),
        blockiness=_blockiness(pixels, face),
        sharpness=float(cv2.Laplacian(grey, cv2.CV_64F, ksize=1)[1:-1, 1:-1].var()),
        face_pixels=float(face.width),
        still=_still(pixels, face),
    )


def _face_grey(pixels: np.ndarray, face: Face) -> np.ndarray:
    """The face box inside the frame, at the photo's own resolution, in grey (uint8)."""
    height, width = pixels.shape[:2]
    left, top = max(0, round(face.left)), max(0, round(face.top))
    right, bottom = min(width, round(face.right)), min(height, round(face.bottom))
    crop = np.ascontiguousarray(pixels[top:bottom, left:right])
    if crop.ndim == 3 and crop.size:
        return cv2.cvtColor(crop, cv2.COLOR_RGB2GRAY)
    return crop.reshape(crop.shape[:2])


def _still(pixels: np.ndarray, face: Face) -> float:
    """Share of the face box (at the photo's resolution) whose 3x3 neighbourhood spans at
    most one grey level: no grain at all."""
    grey = _face_grey(pixels, face)
    if grey.shape[0] < 3 or grey.shape[1] < 3:
        return 0.0
    kernel = np.ones((3, 3), np.uint8)
    spread = cv2.dilate(grey, kernel).astype(np.int16) - cv2.erode(grey, kernel)
    return float((spread <= 1).mean())


def _blockiness(pixels: np.ndarray, face: Face) -> float:
    """Share of the face's gradient energy at one phase of a period of 3-32 px, beyond
    what that period gives by chance; 0 for a photograph, near 1 for pixelation."""
    grey = _face_grey(pixels, face)
    if grey.shape[0] < 16 or grey.shape[1] < 16:
        return 0.0
    grey = grey.astype(np.float64)
    best = 0.0
    for axis in (0, 1):
        energy = np.abs(np.diff(grey, axis=axis)).sum(axis=1 - axis)  # per column / row
        total = energy.sum()
        if total <= 0:
            continue
        for period in range(3, min(33, len(energy) // 3)):
            phases = np.bincount(np.arange(len(energy)) % period, weights=energy,
                                 minlength=period)
            share = phases.max() / total
            chance = 1.0 / period
            best = max(best, (share - chance) / (1.0 - chance))
    return float(best)


def quality_reasons(quality: FaceQuality, *, baseline: dict[str, float] | None) -> list[str]:
    """``blurred`` / ``low_detail`` for a candidate face, against the selfies' ``baseline``
    (their median ``detail``; None: the absolute floors only)."""
    reasons: list[str] = []
    floor = MIN_DETAIL
    if baseline and baseline.get("detail"):
        floor = max(floor, min(MAX_DETAIL_FLOOR, MIN_DETAIL_OF_SELFIES * baseline["detail"]))
    pixelated = quality.blockiness > MAX_BLOCKINESS
    painted = quality.texture < MAX_PAINTED_TEXTURE and (
        quality.flat > MIN_PAINTED_FLAT or quality.still > MIN_PAINTED_STILL)
    if pixelated or painted or quality.face_pixels < MIN_FACE_PIXELS:
        reasons.append(codes.LOW_DETAIL)
    elif quality.detail < floor or quality.sharpness < MIN_SHARPNESS:
        reasons.append(codes.BLURRED)
    return reasons


def quality_baseline(values: list[dict]) -> dict[str, float] | None:
    """The selfie set's median ``detail`` (from the selfies' stored QA metrics)."""
    detail = [float(v["detail"]) for v in values if isinstance(v.get("detail"), (int, float))]
    return {"detail": float(np.median(detail))} if detail else None
