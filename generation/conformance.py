"""Look conformance: does a candidate headshot match the company's approved look?

A backend may drift from the look it was asked for, and a photo may be damaged in ways a
median hides. Candidates are measured here before anyone sees them, against tolerances that
default to the offline backend's own framing bands (widened a little for measurement noise)
and that a look version may override. Each failure is a reason code (``generation.gates.codes``):

* ``backdrop_off``: the **share** of backdrop pixels further than ``backdrop_delta_e_max``
  (CIEDE2000) from the look's colour is over ``backdrop_off_share_max``. A share, not a
  median: a strip painted over 46 % of the backdrop leaves the median untouched;
* ``colour_cast``: the skin's hue or chroma outside the band human skin spans in any light
  we accept, or, for a neutral backdrop, the backdrop tinted away from neutral;
* ``face_cut_off``: the head, with room for the crown above the face box and the chin
  below it, is not wholly inside the frame;
* ``framing_off``: face size, centre, eye line or tilt outside the look's bands, where a
  re-crop cannot fix it (``metrics["framing"]`` says which).

Framing that a crop can fix is fixed rather than rejected: a face that is a little small,
off-centre or too high or low is re-cropped at the look's aspect ratio, inside the image
(no invented pixels) and with little upscaling (no visible softness). A face that is too
large, a tilted head or a wrong backdrop cannot be cropped away, so those fail.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field
from typing import Any

import cv2
import numpy as np
from PIL import Image

from generation.backends.offline import EYE_DISTANCE_PER_BOX, FACE_SIZE_OVERSHOOT, FRAMINGS
from generation.colour import delta_e_2000, hex_to_rgb, srgb_to_lab
from generation.gates import codes
from generation.gates.segment import SEGMENT_LONG_SIDE, person_confidence
from generation.intake.faces import Face, faces_detect
from generation.looks import LookSpec

BAND_MARGIN = 0.02  # the offline backend's bands, widened by this for measurement noise
MAX_UPSCALE = 1.25  # a re-crop is resized back to the output size, enlarging at most this
# A re-crop is only tried when its predicted metrics are this far inside the bands (a share
# of each band's half-width): a prediction right on an edge is as likely to miss as not.
CROP_SAFETY = 0.1
BACKDROP_CONFIDENCE = 0.1  # person confidence below this is backdrop...
BACKDROP_ERODE = 5  # ...this many pixels (at SEGMENT_LONG_SIDE) away from the person
MIN_BACKDROP_SHARE = 0.01  # less backdrop than this of the frame: none to speak of
FRAMING_FLAGS = frozenset({"face_size", "centre", "eye_line"})
# Room the head needs around dlib's face box (brows to chin): crown and hair above, the
# chin and a little neck below, ears at the sides.
CROWN_MARGIN = 0.35
CHIN_MARGIN = 0.1
SIDE_MARGIN = 0.08
# Skin (cheeks and forehead, mean CIELAB) of every portrait in the calibration set and its
# retouched candidates: hue 32-66 degrees, chroma 14-36. Casts a person would call wrong
# (bench/likeness_calibration.py) leave these bands.
SKIN_HUE = (25.0, 75.0)
SKIN_CHROMA = (8.0, 45.0)
NEUTRAL_CHROMA = 12.0  # a look backdrop under this CIELAB chroma is neutral (grey, white, navy)
NEUTRAL_CAST_AB = 5.0  # a neutral backdrop's median a*b* this far from the look's...
SKIN_CENTRE = (15.0, 18.0)  # ...and the skin's a*b* moved the same way from the band's middle
SKIN_CAST_AB = 8.0  # by more than one person's skin differs from another's: a cast


@dataclass(frozen=True)
class Tolerances:
    """How far a candidate may be from its look. Defaults: head-and-shoulders framing.

    ``tolerances_for`` derives the framing bands from the offline backend's ``FRAMINGS``
    for the look's framing. Every field is a plain float so that a look version can store
    overrides as JSON.
    """

    backdrop_delta_e_max: float = 5.0  # CIEDE2000, per backdrop pixel
    backdrop_off_share_max: float = 0.06  # share of backdrop pixels beyond that
    face_height_min: float = 0.28  # face height (see _face_height) over image height
    face_height_max: float = 0.47  # head-and-shoulders band top x Framing.tight_limit + margin
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
        # The finish may enlarge a face up to ``tight_limit`` x the band's top rather than
        # invent a body the photo does not have (generation/finish_framing.py): such a
        # close crop is still the look; only larger ("short" plans) is off.
        face_height_max=round(framing.face_band[1] * framing.tight_limit + BAND_MARGIN, 4),
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
    flags: list[str] = field(default_factory=list)  # reason codes (generation.gates.codes)
    recropped: Image.Image | None = None
    face: Face | None = None  # the main face in the final image (the re-crop's, if any)

    @property
    def passes(self) -> bool:
        return not self.flags


def conformance_measure(image: Image.Image, *, look: LookSpec,
                        face: Face | None = None) -> dict[str, Any]:
    """Backdrop, colour and face placement, as JSON-ready numbers.

    Face metrics are fractions of the image, present only when ``face_found``: centres
    from the face box, the eye line from the 5-point model's eye centres. ``face_height`` is
    the box height refined by the eye distance (see ``_face_height``); ``face_box_height``
    is the raw box. ``backdrop_delta_e`` (the median, kept for the uniformity report),
    ``backdrop_off`` (shares beyond each ΔE) and ``backdrop_lab`` are None when the frame shows (almost) no
    backdrop.
    """
    return _measure(image.convert("RGB"), look, face)[0]


def conformance_check(image: Image.Image, *, look: LookSpec, tolerances: Tolerances,
                      face: Face | None = None) -> ConformanceResult:
    """Measure ``image`` against ``look``; re-crop it where that alone makes it conform.

    ``face``: the main face, when the caller already found it (else it is detected). A
    re-crop is only tried when framing is the sole problem (a tilted head or a wrong
    backdrop fails the candidate whatever the crop), and only kept when re-measuring the
    cropped image confirms it passes.
    """
    image = image.convert("RGB")
    metrics, face = _measure(image, look, face)
    flags, framing = _flags(metrics, tolerances, image.size, face)
    # A crop within the image can only enlarge the face: one already too large stays flagged.
    if face is not None and flags == [codes.FRAMING_OFF] and set(framing) <= FRAMING_FLAGS \
            and metrics["face_height"] <= tolerances.face_height_max:
        box = _plan_crop(face, image.size, look.output_dimensions, tolerances)
        if box is not None:
            cropped = image.resize(look.output_dimensions, Image.Resampling.LANCZOS, box=box)
            new_metrics, new_face = _measure(cropped, look, None)
            new_flags, new_framing = _flags(new_metrics, tolerances, cropped.size, new_face)
            if not new_flags:
                return ConformanceResult(
                    metrics={**new_metrics, "framing": new_framing, "recropped": True},
                    flags=[], recropped=cropped, face=new_face)
    return ConformanceResult(metrics={**metrics, "framing": framing, "recropped": False},
                             flags=flags, face=face)


def _detect(image: Image.Image) -> Face | None:
    """The largest face; the quick pass sees any headshot-sized face, the slow one the rest."""
    faces = faces_detect(image, upsample=0) or faces_detect(image, upsample=1)
    return faces[0] if faces else None


def _measure(image: Image.Image, look: LookSpec, face: Face | None
             ) -> tuple[dict[str, Any], Face | None]:
    width, height = image.size
    if face is None:
        face = _detect(image)
    metrics: dict[str, Any] = {**_backdrop(image, look), "face_found": face is not None}
    if face is not None:
        metrics.update(
            face_height=round(_face_height(face) / height, 4),
            face_box_height=round(face.height / height, 4),
            face_centre_x=round((face.left + face.right) / 2 / width, 4),
            face_centre_y=round((face.top + face.bottom) / 2 / height, 4),
            eye_line=round((face.right_eye[1] + face.left_eye[1]) / 2 / height, 4),
            roll_degrees=round(face.roll_degrees, 2),
            **_skin(image, face),
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


def _backdrop(image: Image.Image, look: LookSpec) -> dict[str, Any]:
    """Each backdrop pixel's CIEDE2000 from the look's colour, summarised as the median and
    the share beyond every whole ΔE (``_flags`` picks the look's tolerance from it)."""
    scale = min(1.0, SEGMENT_LONG_SIDE / max(image.size))
    small = image if scale == 1.0 else image.resize(
        (max(1, round(image.width * scale)), max(1, round(image.height * scale))),
        Image.Resampling.BILINEAR)
    pixels = np.asarray(small)
    person = person_confidence(pixels) >= BACKDROP_CONFIDENCE
    kernel = np.ones((2 * BACKDROP_ERODE + 1, 2 * BACKDROP_ERODE + 1), np.uint8)
    near_person = cv2.dilate(person.astype(np.uint8), kernel) > 0
    backdrop = pixels[~near_person]
    target = srgb_to_lab(np.array(hex_to_rgb(look.backdrop_color), dtype=np.float64))
    target_lab = [round(float(v), 2) for v in target]
    if len(backdrop) < MIN_BACKDROP_SHARE * person.size:
        return {"backdrop_delta_e": None, "backdrop_lab": None, "backdrop_off": None,
                "backdrop_target_lab": target_lab}
    # A backdrop has few distinct colours (tens to thousands among ~25,000 pixels): each is
    # converted and compared once, then every pixel takes its colour's numbers.
    codes_ = (backdrop[:, 0].astype(np.int32) << 16) | (backdrop[:, 1].astype(np.int32) << 8) \
        | backdrop[:, 2]
    colours, inverse = np.unique(codes_, return_inverse=True)
    distinct = np.stack([colours >> 16, (colours >> 8) & 255, colours & 255], axis=-1)
    distinct_lab = srgb_to_lab(distinct.astype(np.uint8))
    lab = distinct_lab[inverse]
    difference = delta_e_2000(distinct_lab, target)[inverse]
    return {
        "backdrop_target_lab": target_lab,
        "backdrop_delta_e": round(float(np.median(difference)), 2),
        # The median colour: a cast tints all of the backdrop, a strip only part of it.
        "backdrop_lab": [round(float(v), 2) for v in np.median(lab, axis=0)],
        # Share of backdrop pixels beyond each whole ΔE from 1 to 30: a tolerance chosen
        # later (a look version's override) still finds its share.
        "backdrop_off": [round(float((difference > t).mean()), 4) for t in range(1, 31)],
    }


def _skin(image: Image.Image, face: Face) -> dict[str, Any]:
    """Mean CIELAB hue and chroma of cheeks and forehead (the face box's middle, the darkest
    fifth and the brightest twentieth left out: brows, eyes, nostrils, highlights)."""
    pixels = np.asarray(image)
    w, h = face.width, face.height
    top, bottom = max(0, round(face.top + 0.15 * h)), min(image.height, round(face.top + 0.75 * h))
    left, right = max(0, round(face.left + 0.2 * w)), min(image.width, round(face.right - 0.2 * w))
    patch = pixels[top:bottom, left:right].reshape(-1, 3)
    if len(patch) < 16:
        return {}
    lab = srgb_to_lab(patch)
    lightness = lab[:, 0]
    dark, bright = np.percentile(lightness, [20, 95])  # one partial sort for both
    keep = (lightness > dark) & (lightness < bright)
    mean = lab[keep].mean(axis=0) if keep.any() else lab.mean(axis=0)
    return {"skin_hue": round(float(np.degrees(np.arctan2(mean[2], mean[1]))), 1),
            "skin_chroma": round(float(np.hypot(mean[1], mean[2])), 1)}


def backdrop_off_share(metrics: dict[str, Any], delta_e_max: float) -> float | None:
    """The share of backdrop pixels beyond ``delta_e_max``, from the stored distribution."""
    shares = metrics.get("backdrop_off")
    if not shares:
        return None
    index = int(min(max(round(delta_e_max), 1), len(shares))) - 1
    return float(shares[index])


def _flags(metrics: dict[str, Any], tol: Tolerances, size: tuple[int, int],
           face: Face | None) -> tuple[list[str], list[str]]:
    """Reason codes, and which framing measures are out of their bands. A frame with no
    backdrop to measure fails ``backdrop_off``: the look's backdrop is part of what was
    approved."""
    flags: list[str] = []
    share = backdrop_off_share(metrics, tol.backdrop_delta_e_max)
    metrics["backdrop_off_share"] = share
    if share is None or share > tol.backdrop_off_share_max:
        flags.append(codes.BACKDROP_OFF)
    if _neutral_cast(metrics, tol):
        flags.append(codes.COLOUR_CAST)
    if face is None:
        return [*flags, codes.NO_FACE], []
    hue, chroma = metrics.get("skin_hue"), metrics.get("skin_chroma")
    if hue is not None and codes.COLOUR_CAST not in flags and not (
            SKIN_HUE[0] <= hue <= SKIN_HUE[1] and SKIN_CHROMA[0] <= chroma <= SKIN_CHROMA[1]):
        flags.append(codes.COLOUR_CAST)
    width, height = size
    if (face.left - SIDE_MARGIN * face.width < 0 or face.right + SIDE_MARGIN * face.width > width
            or face.top - CROWN_MARGIN * face.height < 0
            or face.bottom + CHIN_MARGIN * face.height > height):
        flags.append(codes.FACE_CUT_OFF)
    framing = []
    if not tol.face_height_min <= metrics["face_height"] <= tol.face_height_max:
        framing.append("face_size")
    if abs(metrics["face_centre_x"] - 0.5) > tol.centre_x_offset_max:
        framing.append("centre")
    if not tol.eye_line_min <= metrics["eye_line"] <= tol.eye_line_max:
        framing.append("eye_line")
    if abs(metrics["roll_degrees"]) > tol.roll_degrees_max:
        framing.append("roll")
    if framing:
        flags.append(codes.FRAMING_OFF)
    return flags, framing


def _neutral_cast(metrics: dict[str, Any], tol: Tolerances) -> bool:
    """A neutral backdrop tinted, with the skin tinted the same way: a cast over the whole
    photo. (A backdrop of the wrong colour with natural skin is ``backdrop_off`` only.)"""
    lab, target = metrics.get("backdrop_lab"), metrics.get("backdrop_target_lab")
    hue, chroma = metrics.get("skin_hue"), metrics.get("skin_chroma")
    if lab is None or target is None or hue is None \
            or math.hypot(target[1], target[2]) >= NEUTRAL_CHROMA:
        return False
    shift = (lab[1] - target[1], lab[2] - target[2])
    size = math.hypot(*shift)
    if size <= NEUTRAL_CAST_AB:
        return False
    skin = (chroma * math.cos(math.radians(hue)) - SKIN_CENTRE[0],
            chroma * math.sin(math.radians(hue)) - SKIN_CENTRE[1])
    return (skin[0] * shift[0] + skin[1] * shift[1]) / size > SKIN_CAST_AB


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
