"""Measures of the finish's artefacts on real photos, for tests (and anyone judging a sheet).

Each measure is chosen so that the artefact it names moves it far: a smeared band of
invented body has almost no detail; spill of a green old background shows as green
excess along the person's edge; a leftover fragment of a saturated sign is a cluster of
its colour; soft upscaling loses the face's fine detail.
"""

from __future__ import annotations

import cv2
import numpy as np

LUMA = np.array([0.299, 0.587, 0.114])


def luma(image: np.ndarray) -> np.ndarray:
    return image.astype(np.float64) @ LUMA


def bottom_detail_ratio(image: np.ndarray, matte: np.ndarray, *, band: float = 0.06) -> float:
    """Vertical detail on the person in the frame's bottom ``band`` over that in a band of
    the same height at three quarters down: about 1 for a real photo, near 0 for a band
    made by repeating and smearing a row (its columns are flat top to bottom). The light
    blur keeps a one-level dither from counting as detail."""
    y = cv2.GaussianBlur(luma(image), (0, 0), sigmaX=0.8)
    vertical = np.abs(np.diff(y, axis=0, append=y[-1:]))
    h = image.shape[0]
    rows = max(4, round(band * h))
    person = matte > 0.9

    def detail(top: int) -> float:
        region = person[top:top + rows]
        return float(vertical[top:top + rows][region].mean()) if region.sum() > 50 else 0.0

    reference = detail(round(0.75 * h))
    return detail(h - rows - 1) / max(reference, 1e-6)


def edge_band(matte: np.ndarray, *, grow: int = 3) -> np.ndarray:
    """The person's soft edge and a few pixels either side of it."""
    soft = ((matte > 0.02) & (matte < 0.98)).astype(np.uint8)
    hard = (matte > 0.5).astype(np.uint8)
    outline = cv2.morphologyEx(hard, cv2.MORPH_GRADIENT, np.ones((3, 3), np.uint8))
    kernel = np.ones((2 * grow + 1, 2 * grow + 1), np.uint8)
    return cv2.dilate(soft | outline, kernel) > 0


def green_excess(image: np.ndarray, where: np.ndarray) -> float:
    """99th percentile of G - max(R, B) over ``where``: 0 or below for skin, hair, cloth
    and a grey backdrop; tens of levels where a green background spills."""
    pixels = image[where].astype(np.float64)
    excess = pixels[:, 1] - np.maximum(pixels[:, 0], pixels[:, 2])
    return float(np.percentile(excess, 99))


def colour_share(image: np.ndarray, colour: tuple[int, int, int], *,
                 tolerance: float = 60.0) -> float:
    """Share of the frame within ``tolerance`` (RGB distance) of a saturated ``colour``."""
    distance = np.linalg.norm(image.astype(np.float64) - np.array(colour), axis=-1)
    return float((distance < tolerance).mean())


def face_detail(image: np.ndarray, box: tuple[float, float, float, float]) -> float:
    """Variance of the Laplacian of the inner face (eyes, nose, mouth): fine detail."""
    left, top, right, bottom = box
    w, h = right - left, bottom - top
    region = luma(image)[int(top + 0.2 * h):int(bottom - 0.15 * h),
                         int(left + 0.2 * w):int(right - 0.2 * w)]
    return float(cv2.Laplacian(region, cv2.CV_64F).var())


def solid(matte: np.ndarray) -> np.ndarray:
    """``matte`` with its holes filled: what a person in front of a backdrop looks like
    (a matte of a real photo may see the old background through the hair; pasting a new
    background there would put it *inside* the hair, which no real photo has)."""
    person = (matte > 0.5).astype(np.uint8)
    h, w = person.shape
    outside = person.copy()
    mask = np.zeros((h + 2, w + 2), np.uint8)
    for x, y in ((0, 0), (w - 1, 0), (0, h - 1), (w - 1, h - 1)):
        if outside[y, x] == 0:
            cv2.floodFill(outside, mask, (x, y), 2)
    holes = outside == 0
    filled = matte.copy()
    filled[holes] = 1.0
    # Deep inside the outline the person is opaque.
    core = cv2.erode((filled > 0.5).astype(np.uint8), np.ones((9, 9), np.uint8)) > 0
    filled[core] = 1.0
    return filled
