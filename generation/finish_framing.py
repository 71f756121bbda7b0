"""Framing for the finish: a crop of what the photo really has, never an invented body.

The face is levelled, scaled and placed per the look's framing (``generation.framing``) in
one affine warp. Where the frame would reach past the photo, the planner first uses the
framing's bands (a slightly larger face, a lower eye line, a small shift), then enlarges
the face beyond the band (``Framing.tight_limit``) rather than show what the photo does
not have: the bottom of the frame and every side the person touches stay inside the photo.
Past the photo's top and free sides there is only backdrop, which the finish paints anew.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import cv2
import numpy as np

from generation.framing import FACE_SIZE_OVERSHOOT, FRAMINGS, Framing, face_anchor, face_size
from generation.intake.faces import Face

MAX_ROLL_CORRECTION = 10.0  # degrees
ROLL_IGNORE = 1.0  # degrees: a tilt this small is left as it is (the gates allow 5)
SEED_ZOOM = 0.03
SEED_SHIFT = 0.02
# When even a face ``tight_limit`` x the band does not fit, a still larger one (up to this x
# the band's top: a close head shot) rather than show the photo's edge.
LAST_RESORT = 2.2
EDGE_TOUCH = 0.5  # model confidence at a photo edge that says the person runs off it


@dataclass(frozen=True)
class Plan:
    matrix: np.ndarray  # 2x3, source pixels -> output pixels
    face_height: float  # planned face size (of the output height, dlib box scale)
    eye_line: float
    tight: bool  # the face had to be larger than the framing's band
    short: bool  # larger still than tight_limit allows, or even so not inside the photo

    @property
    def scale(self) -> float:
        """Output pixels per source pixel."""
        return float(math.hypot(self.matrix[0, 0], self.matrix[0, 1]))


def touched_edges(confidence: np.ndarray) -> dict[str, float | None]:
    """For each photo edge, where the person runs off it: for the left and right edges the
    highest touching row (a fraction of the height), for top and bottom just whether."""
    person = confidence >= EDGE_TOUCH
    h, w = person.shape

    def first_row(column: np.ndarray) -> float | None:
        rows = np.nonzero(column)[0]
        return None if len(rows) == 0 else rows[0] / h

    return {
        "left": first_row(person[:, :2].any(axis=1)),
        "right": first_row(person[:, -2:].any(axis=1)),
        "top": 0.0 if person[:2, :].any() else None,
        "bottom": 1.0 if person[-2:, :].any() else None,
    }


def _matrix(*, pivot: tuple[float, float], roll: float, scale: float,
            place: tuple[float, float]) -> np.ndarray:
    """Source to output: level the eyes about ``pivot``, scale, and move it to ``place``."""
    angle = math.radians(roll)
    cos, sin = math.cos(angle) * scale, math.sin(angle) * scale
    linear = np.array([[cos, sin], [-sin, cos]])
    offset = np.array(place) - linear @ np.array(pivot)
    return np.hstack([linear, offset[:, None]]).astype(np.float64)


def _shortfall(corners: np.ndarray, source: tuple[int, int],
               edges: dict[str, float | None]) -> np.ndarray:
    """How far (source pixels) each frame reaches past a photo edge it must stay within.

    ``corners``: (..., 4, 2) the frame's corners in the photo (top-left, top-right,
    bottom-left, bottom-right).
    """
    src_h, src_w = source
    xs, ys = corners[..., 0], corners[..., 1]
    bottom = np.maximum(ys[..., 2], ys[..., 3])
    worst = bottom - src_h  # the bottom always: below the photo is no body
    bottom_row = bottom / src_h
    if edges["left"] is not None:
        worst = np.where(bottom_row > edges["left"],
                         np.maximum(worst, -np.minimum(xs[..., 0], xs[..., 2])), worst)
    if edges["right"] is not None:
        worst = np.where(bottom_row > edges["right"],
                         np.maximum(worst, np.maximum(xs[..., 1], xs[..., 3]) - src_w), worst)
    if edges["top"] is not None:
        worst = np.maximum(worst, -np.minimum(ys[..., 0], ys[..., 1]))
    return worst


def frame_plan(face: Face, framing: Framing, *, source: tuple[int, int],
               output: tuple[int, int], edges: dict[str, float | None],
               rng: np.random.Generator | None = None) -> Plan:
    """The warp that frames ``face`` per ``framing`` within what the photo shows.

    Tries face sizes from the framing's target outwards, eye lines across the band and
    small shifts, and takes the one nearest the targets that keeps the frame inside the
    photo where it must be; if none in the band does, the smallest larger face that does
    (up to ``tight_limit`` x the band's top, then up to LAST_RESORT: ``short``), else the
    closest it can get.
    """
    out_w, out_h = output
    (rx, ry), (lx, ly) = face.right_eye, face.left_eye
    roll = float(np.clip(math.degrees(math.atan2(ly - ry, lx - rx)),
                         -MAX_ROLL_CORRECTION, MAX_ROLL_CORRECTION))
    if abs(roll) < ROLL_IGNORE:
        roll = 0.0  # no visible tilt: a plain crop and resize, one resampling, no rotation
    anchor = face_anchor(face)
    size = face_size(face)
    zoom, shift = 1.0, 0.0
    if rng is not None:
        zoom = 1.0 + SEED_ZOOM * (2 * rng.random() - 1)
        shift = SEED_SHIFT * (2 * rng.random() - 1)
    lo, hi = framing.face_band
    target_f = float(np.clip(framing.face_height * zoom, lo, hi))
    e_lo, e_hi = framing.eye_band
    half_f, half_e = (hi - lo) / 2, (e_hi - e_lo) / 2
    tol = framing.centre_tolerance

    def matrix_for(f: float, e: float, dx: float) -> np.ndarray:
        scale = f * FACE_SIZE_OVERSHOOT * out_h / size
        return _matrix(pivot=anchor, roll=roll, scale=scale,
                       place=(out_w * (0.5 + dx), out_h * e))

    tight_top = hi * framing.tight_limit
    sizes = np.concatenate([np.linspace(lo, hi, 13), np.linspace(hi, tight_top, 9)[1:],
                            np.linspace(tight_top, hi * LAST_RESORT, 13)[1:]])
    eyes = np.linspace(e_lo, e_hi, 9)
    shifts = np.clip(np.array([shift, 0.0, -tol, tol, -tol / 2, tol / 2]), -tol, tol)
    f, e, dx = (g[..., None] for g in np.meshgrid(sizes, eyes, shifts, indexing="ij"))
    # Every candidate frame's corners in the photo: anchor + R^T (corner - place) / scale.
    scale = f * FACE_SIZE_OVERSHOOT * out_h / size
    cos, sin = math.cos(math.radians(roll)), math.sin(math.radians(roll))
    du = np.array([0, out_w, 0, out_w]) - out_w * (0.5 + dx)
    dv = np.array([0, 0, out_h, out_h]) - out_h * e
    corners = np.stack([anchor[0] + (cos * du - sin * dv) / scale,
                        anchor[1] + (sin * du + cos * dv) / scale], axis=-1)
    miss = _shortfall(corners, source, edges)
    f, e, dx = f[..., 0], e[..., 0], dx[..., 0]
    cost = (((f - target_f) / half_f) ** 2 + ((e - framing.eye_line) / half_e) ** 2
            + ((dx - shift) / tol) ** 2 + 100 * np.maximum(0.0, f - hi) / half_f)
    fits = miss <= 0.5
    index = np.unravel_index(np.argmin(np.where(fits, cost, np.inf)) if fits.any()
                             else np.argmin(miss), miss.shape)
    chosen = (float(f[index]), float(e[index]), float(dx[index]))
    return Plan(matrix=matrix_for(*chosen), face_height=chosen[0], eye_line=chosen[1],
                tight=chosen[0] > hi + 1e-6,
                short=not fits.any() or chosen[0] > tight_top + 1e-6)


def frame_warp(source: np.ndarray, plan: Plan, output: tuple[int, int]) -> tuple[np.ndarray,
                                                                                  np.ndarray]:
    """The framed photo (uint8) and where it shows the photo (float32, 0 past its edges).

    One resampling per pixel at the output scale, so nothing is softened twice: a
    downscale averages the area first (INTER_AREA) to exactly the output scale, then the
    level-and-place warp runs at 1:1 (bicubic); an upscale is a single bicubic warp. A
    level face needs no warp: the frame is cropped and resized once. Only the part of the
    photo inside the frame is resampled.
    """
    out_w, out_h = output
    src_h, src_w = source.shape[:2]
    matrix = plan.matrix.copy()
    if matrix[0, 1] == 0 and matrix[1, 0] == 0:
        return _crop_resize(source, matrix, output)
    inverse = cv2.invertAffineTransform(matrix)
    corners = np.array([[0, 0], [out_w, 0], [0, out_h], [out_w, out_h]], dtype=np.float64)
    src = corners @ inverse[:, :2].T + inverse[:, 2]
    # A margin wider than Lanczos' reach (4 output pixels), so the crop's own edge never shows.
    margin = math.ceil(6 / min(1.0, plan.scale)) + 2
    x0 = int(max(0, math.floor(src[:, 0].min()) - margin))
    y0 = int(max(0, math.floor(src[:, 1].min()) - margin))
    x1 = int(min(src_w, math.ceil(src[:, 0].max()) + margin))
    y1 = int(min(src_h, math.ceil(src[:, 1].max()) + margin))
    if x1 <= x0 or y1 <= y0:  # the frame misses the photo entirely (cannot happen for a face)
        x0, y0, x1, y1 = 0, 0, src_w, src_h
    crop = source[y0:y1, x0:x1]
    matrix[:, 2] += matrix[:, :2] @ np.array([x0, y0], dtype=np.float64)  # crop offset
    scale = plan.scale
    if scale < 0.98:
        size = (max(1, round(crop.shape[1] * scale)), max(1, round(crop.shape[0] * scale)))
        crop = cv2.resize(crop, size, interpolation=cv2.INTER_AREA)
        kx, ky = size[0] / (x1 - x0), size[1] / (y1 - y0)
        matrix[:, 0] /= kx
        matrix[:, 1] /= ky
    pixels = cv2.warpAffine(crop, matrix, (out_w, out_h), flags=cv2.INTER_CUBIC,
                            borderMode=cv2.BORDER_REPLICATE)
    ones = np.ones(crop.shape[:2], np.float32)
    valid = cv2.warpAffine(ones, matrix, (out_w, out_h), flags=cv2.INTER_LINEAR,
                           borderMode=cv2.BORDER_CONSTANT, borderValue=0)
    return pixels, np.clip(valid, 0.0, 1.0)


def _crop_resize(source: np.ndarray, matrix: np.ndarray, output: tuple[int, int]
                 ) -> tuple[np.ndarray, np.ndarray]:
    """The frame of a scale-and-shift ``matrix``: crop (padded past the photo's edges) and
    one resize. The crop is rounded to whole photo pixels (< 0.05 % off in scale)."""
    out_w, out_h = output
    src_h, src_w = source.shape[:2]
    scale = matrix[0, 0]
    width, height = max(1, round(out_w / scale)), max(1, round(out_h / scale))
    x0, y0 = round(-matrix[0, 2] / scale), round(-matrix[1, 2] / scale)
    pad = (max(0, -y0), max(0, y0 + height - src_h), max(0, -x0), max(0, x0 + width - src_w))
    crop = source[max(0, y0):min(src_h, y0 + height), max(0, x0):min(src_w, x0 + width)]
    inside = np.ones(crop.shape[:2], np.float32)
    if any(pad):
        crop = cv2.copyMakeBorder(crop, *pad, cv2.BORDER_REPLICATE)
        inside = cv2.copyMakeBorder(inside, *pad, cv2.BORDER_CONSTANT, value=0)
    interpolation = cv2.INTER_AREA if scale < 1 else cv2.INTER_CUBIC
    pixels = cv2.resize(crop, output, interpolation=interpolation)
    valid = cv2.resize(inside, output, interpolation=cv2.INTER_LINEAR) if any(pad) \
        else np.ones((out_h, out_w), np.float32)
    return pixels, valid


# What a photo is judged against before any look is known: the frame's bottom must stay in
# the photo (no invented body); its sides and top may be backdrop. A 4:5 frame, the looks'
# usual shape.
_INTAKE_EDGES: dict[str, float | None] = {"left": None, "right": None, "top": None,
                                          "bottom": 1.0}
_INTAKE_OUTPUT = (819, 1024)


def framings_too_tight(face: Face, *, source: tuple[int, int]) -> list[str]:
    """The framings (``generation.framing.FRAMINGS``) this photo ends too close below the
    chin for: the finish could only make a close head shot of it, which the result gates
    hide as off the look's framing. ``source`` is (height, width)."""
    return [name for name, framing in FRAMINGS.items()
            if frame_plan(face, framing, source=source, output=_INTAKE_OUTPUT,
                          edges=_INTAKE_EDGES).short]
