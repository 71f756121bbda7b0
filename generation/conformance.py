"""Look conformance: does a candidate headshot match the company's approved look?

A backend may drift from the look it was asked for: a backdrop of the wrong colour, a face
too small or off-centre, a tilted head. Candidates are measured here before anyone sees
them, against tolerances that default to the offline backend's own framing bands (widened
a little for measurement noise) and that a look version may override.

Framing that a crop can fix is fixed rather than rejected: a face that is a little small,
off-centre or too high or low is re-cropped at the look's aspect ratio, inside the image
(no invented pixels) and with little upscaling (no visible softness). A face that is too
large, a tilted head or a wrong backdrop cannot be cropped away, so those are flagged.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from PIL import Image

from generation.backends.offline import EYE_DISTANCE_PER_BOX, FACE_SIZE_OVERSHOOT, FRAMINGS
from generation.backends.segmentation import person_mask_array
from generation.colour import delta_e_2000, hex_to_rgb, srgb_to_lab
from generation.intake.faces import Face, faces_detect
from generation.looks import LookSpec

BAND_MARGIN = 0.02  # the offline backend's bands, widened by this for measurement noise
MAX_UPSCALE = 1.25  # a re-crop is resized back to the output size, enlarging at most this
# A re-crop is only tried when its predicted metrics are this far inside the bands (a share
# of each band's half-width): a prediction right on an edge is as likely to miss as not.
CROP_SAFETY = 0.1
SEGMENT_LONG_SIDE = 384  # the backdrop's median colour needs no fine matte
BACKDROP_ALPHA = 0.05  # matte values below this are backdrop
MIN_BACKDROP_SHARE = 0.01  # less backdrop than this of the frame: none to speak of
FRAMING_FLAGS = frozenset({"face_size", "centre", "eye_line"})


@dataclass(frozen=True)
class Tolerances:
    """How far a candidate may be from its look. Defaults: head-and-shoulders framing.

    ``tolerances_for`` derives the framing bands from the offline backend's ``FRAMINGS``
    for the look's framing. Every field is a plain float so that a look version can store
    overrides as JSON.
    """

    backdrop_delta_e_max: float = 5.0  # CIEDE2000, median over the backdrop
    face_height_min: float = 0.28  # face height (see _face_height) over image height
    face_height_max: float = 0.38
    eye_line_min: float = 0.38  # eye midpoint's height from the top, over image height
    eye_line_max: float = 0.47
    centre_x_offset_max: float = 0.05  # |face centre x - 0.5|, of the width
    roll_degrees_max: float = 5.0


def tolerances_for(look: LookSpec, overrides: dict[str, Any] | None = None) -> Tolerances:
    """Default tolerances for ``look``'s framing, with a look version's ``overrides``.

    Overrides come from stored JSON (field name to number); unknown names and values that
    are not numbers are ignored, so an old or hand-edited override never breaks scoring.
    """
    framing = FRAMINGS.get(look.framing, FRAMINGS["head_and_shoulders"])
    tolerances = Tolerances(
        face_height_min=round(framing.face_band[0] - BAND_MARGIN, 4),
        face_height_max=round(framing.face_band[1] + BAND_MARGIN, 4),
        eye_line_min=round(framing.eye_band[0] - BAND_MARGIN, 4),
        eye_line_max=round(framing.eye_band[1] + BAND_MARGIN, 4),
    )
    names = {f.name for f in dataclasses.fields(Tolerances)}
    changes = {}
    for key, value in (overrides or {}).items():
        if key not in names or isinstance(value, bool):
            continue
        try:
            number = float(value)
        except (TypeError, ValueError):
            continue
        if math.isfinite(number):
            changes[key] = number
    return dataclasses.replace(tolerances, **changes)


@dataclass
class ConformanceResult:
    """The verdict on one candidate; ``recropped`` is the image to use instead, if any."""

    metrics: dict[str, Any]
    flags: list[str] = field(default_factory=list)
    recropped: Image.Image | None = None

    @property
    def passes(self) -> bool:
        return not self.flags


def conformance_measure(image: Image.Image, *, look: LookSpec) -> dict[str, Any]:
    """Backdrop colour difference and face placement, as JSON-ready numbers.

    Face metrics are fractions of the image, present only when ``face_found``: centres
    from dlib's box, the eye line from the 5-point model's eye centres. ``face_height`` is
    the box height refined by the eye distance (see ``_face_height``); ``face_box_height``
    is the raw box. ``backdrop_delta_e`` is None when the frame shows (almost) no backdrop.
    """
    return _measure(image.convert("RGB"), look)[0]


def conformance_check(image: Image.Image, *, look: LookSpec,
                      tolerances: Tolerances) -> ConformanceResult:
    """Measure ``image`` against ``look``; re-crop it where that alone makes it conform.

    A re-crop is only tried when framing is the sole problem (a tilted head or a wrong
    backdrop fails the candidate whatever the crop), and only kept when re-measuring the
    cropped image confirms it passes.
    """
    image = image.convert("RGB")
    metrics, face = _measure(image, look)
    flags = _flags(metrics, tolerances)
    # A crop within the image can only enlarge the face: one already too large stays flagged.
    if face is not None and flags and set(flags) <= FRAMING_FLAGS \
            and metrics["face_height"] <= tolerances.face_height_max:
        box = _plan_crop(face, image.size, look.output_dimensions, tolerances)
        if box is not None:
            cropped = image.resize(look.output_dimensions, Image.Resampling.LANCZOS, box=box)
            new_metrics, _ = _measure(cropped, look)
            new_flags = _flags(new_metrics, tolerances)
            if not new_flags:
                return ConformanceResult(metrics={**new_metrics, "recropped": True}, flags=[],
                                         recropped=cropped)
    return ConformanceResult(metrics={**metrics, "recropped": False}, flags=flags)


def _detect(image: Image.Image) -> Face | None:
    """The largest face; the quick pass sees any headshot-sized face, the slow one the rest."""
    faces = faces_detect(image, upsample=0) or faces_detect(image, upsample=1)
    return faces[0] if faces else None


def _measure(image: Image.Image, look: LookSpec) -> tuple[dict[str, Any], Face | None]:
    width, height = image.size
    face = _detect(image)
    metrics: dict[str, Any] = {"backdrop_delta_e": _backdrop_delta_e(image, look, face),
                               "face_found": face is not None}
    if face is not None:
        metrics.update(
            face_height=round(_face_height(face) / height, 4),
            face_box_height=round(face.height / height, 4),
            face_centre_x=round((face.left + face.right) / 2 / width, 4),
            face_centre_y=round((face.top + face.bottom) / 2 / height, 4),
            eye_line=round((face.right_eye[1] + face.left_eye[1]) / 2 / height, 4),
            roll_degrees=round(face.roll_degrees, 2),
        )
    return metrics, face


def _face_height(face: Face) -> float:
    """The face's height in pixels on the scale of dlib's box, refined by the eye distance.

    dlib's HOG boxes come in steps of 6/5 (its image pyramid), coarser than a framing
    band: the raw box would put one face at 0.28 or 0.34 of the frame depending on where
    it falls between steps, and a re-crop could not be planned. As in the offline
    backend's framing, the interocular distance gives the size between steps, clipped to
    what the box allows (a turned head shortens the eye distance), and is brought to the
    middle of a step, where the backend's own framing targets lie.
    """
    estimate = math.dist(face.right_eye, face.left_eye) / EYE_DISTANCE_PER_BOX
    return float(np.clip(estimate, 0.97 * face.height, 1.22 * face.height)) / FACE_SIZE_OVERSHOOT


def _backdrop_delta_e(image: Image.Image, look: LookSpec, face: Face | None) -> float | None:
    """Median CIEDE2000 between the backdrop (all but the person matte) and the look's colour.

    The median ignores a studio vignette and stray matte errors at the person's edge. The
    matte is computed on a small copy: a median colour needs no hair-fine edges.
    """
    scale = min(1.0, SEGMENT_LONG_SIDE / max(image.size))
    small = image if scale == 1.0 else image.resize(
        (max(1, round(image.width * scale)), max(1, round(image.height * scale))),
        Image.Resampling.BILINEAR)
    pixels = np.asarray(small)
    focus = None if face is None else tuple(v * scale for v in
                                            (face.left, face.top, face.right, face.bottom))
    alpha = person_mask_array(pixels, focus=focus)
    backdrop = pixels[alpha < BACKDROP_ALPHA]
    if len(backdrop) < MIN_BACKDROP_SHARE * alpha.size:
        return None
    target = srgb_to_lab(np.array(hex_to_rgb(look.backdrop_color), dtype=np.float64))
    difference = delta_e_2000(srgb_to_lab(backdrop), target)
    return round(float(np.median(difference)), 2)


def _flags(metrics: dict[str, Any], tol: Tolerances) -> list[str]:
    """Short names of what is out of tolerance. A frame with no backdrop to measure fails
    "backdrop": the look's backdrop is part of what was approved."""
    flags = []
    delta_e = metrics["backdrop_delta_e"]
    if delta_e is None or delta_e > tol.backdrop_delta_e_max:
        flags.append("backdrop")
    if not metrics["face_found"]:
        return [*flags, "no_face"]
    if not tol.face_height_min <= metrics["face_height"] <= tol.face_height_max:
        flags.append("face_size")
    if abs(metrics["face_centre_x"] - 0.5) > tol.centre_x_offset_max:
        flags.append("centre")
    if not tol.eye_line_min <= metrics["eye_line"] <= tol.eye_line_max:
        flags.append("eye_line")
    if abs(metrics["roll_degrees"]) > tol.roll_degrees_max:
        flags.append("roll")
    return flags


def _plan_crop(face: Face, size: tuple[int, int], output: tuple[int, int],
               tol: Tolerances) -> tuple[float, float, float, float] | None:
    """The crop (left, top, right, bottom) at the output's aspect ratio, inside the image and
    upscaled at most MAX_UPSCALE, that puts the face nearest the middle of its bands; None
    where no such crop keeps the face's predicted metrics safely inside all of them."""
    width, height = size
    out_w, out_h = output
    aspect = out_w / out_h
    lowest = out_h / MAX_UPSCALE  # crop heights, in image pixels
    highest = min(height, width / aspect)
    face_x = (face.left + face.right) / 2
    eye_y = (face.right_eye[1] + face.left_eye[1]) / 2
    bands = {  # (min, max) of: face height, centre x, eye line
        "face": (tol.face_height_min, tol.face_height_max),
        "x": (0.5 - tol.centre_x_offset_max, 0.5 + tol.centre_x_offset_max),
        "eye": (tol.eye_line_min, tol.eye_line_max),
    }
    safe = {k: (lo + CROP_SAFETY * (hi - lo) / 2, hi - CROP_SAFETY * (hi - lo) / 2)
            for k, (lo, hi) in bands.items()}
    # Crop heights that keep the face's height inside its safe band.
    face_h = _face_height(face)
    low = max(lowest, face_h / safe["face"][1])
    high = min(highest, face_h / safe["face"][0])
    if low > high:
        return None
    target_eye = sum(bands["eye"]) / 2
    best, best_cost = None, math.inf
    for crop_h in np.linspace(high, low, 12):
        crop_w = crop_h * aspect
        left = float(np.clip(face_x - crop_w / 2, 0.0, width - crop_w))
        top = float(np.clip(eye_y - target_eye * crop_h, 0.0, height - crop_h))
        predicted = {"face": face_h / crop_h, "x": (face_x - left) / crop_w,
                     "eye": (eye_y - top) / crop_h}
        if not all(safe[k][0] <= v <= safe[k][1] for k, v in predicted.items()):
            continue
        cost = sum(abs(v - sum(bands[k]) / 2) / (bands[k][1] - bands[k][0])
                   for k, v in predicted.items())
        if cost < best_cost:
            best, best_cost = (left, top, left + crop_w, top + crop_h), cost
    return best
