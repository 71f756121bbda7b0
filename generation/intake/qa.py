"""Selfie QA: is this a photo we can make a good headshot from, and is it one person?

Every figure is stored with the selfie and shown next to its thumbnail, so a person sees
*why* a photo was refused. Thresholds are module constants, calibrated on real portraits
(tests/test_selfie_qa.py shows what each catches). Refusals carry a reason code
(``generation.gates.codes``; kept in ``metrics["codes"]``) and the sentence the person reads.

One person per photo is the people gate's (``generation.gates.people``): any other face
above its size floor, partial or faint, refuses the photo. One identity per *set* is
checked when the selfie joins the person's others (``generation.services.selfies``), with
the embedding computed here, once, and kept on the selfie.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

import numpy as np
from PIL import Image

from generation.finish_framing import framings_too_tight
from generation.gates import codes
from generation.gates.people import people_find
from generation.gates.quality import MAX_BLOCKINESS, face_quality
from generation.likeness import face_embedding

from .faces import Face

# The face must span this fraction of the image's shorter side, and this many pixels.
MIN_FACE_FRACTION = 0.12
MIN_FACE_PIXELS = 110
# Variance of the Laplacian over the face, resized to FACE_SAMPLE px wide.
FACE_SAMPLE = 200
MIN_SHARPNESS = 45.0
# Mean luminance (0-255) of the face, and the share of clipped pixels.
MIN_BRIGHTNESS = 55.0
MAX_BRIGHTNESS = 215.0
MAX_CLIPPED = 0.25
# Around the detector's box (which covers brows to chin) the head needs room for
# forehead and hair above and a little on every side.
EDGE_MARGIN_SIDE = 0.10
EDGE_MARGIN_TOP = 0.30
EDGE_MARGIN_BOTTOM = 0.10
MAX_ROLL_DEGREES = 12.0


@dataclass
class QaResult:
    accepted: bool
    reasons: list[str] = field(default_factory=list)  # why it was refused: actionable
    warnings: list[str] = field(default_factory=list)  # usable, but could be better
    metrics: dict = field(default_factory=dict)
    codes: list[str] = field(default_factory=list)  # machine codes of ``reasons``
    embedding: list[float] | None = None  # of the face, when there is one to compare

    def as_dict(self) -> dict:
        return asdict(self)


def selfie_qa(image: Image.Image, *, embed: bool = True) -> QaResult:
    image = image.convert("RGB")
    people = people_find(image)
    face = people.main
    metrics: dict = {"faces": (face is not None) + len(people.others),
                     "width": image.width, "height": image.height}
    if face is None:
        return _result([codes.NO_FACE], [], {**metrics, "codes": [codes.NO_FACE]}, None)
    short_side = min(image.size)
    fraction = face.width / short_side
    metrics.update(
        face_box=[round(v, 1) for v in (face.left, face.top, face.right, face.bottom)],
        face_fraction=round(fraction, 3),
        face_pixels=round(face.width),
        roll_degrees=round(face.roll_degrees, 1),
        detector_score=round(face.score, 2),
        other_faces=people.metrics["other_faces"],
    )
    pixels = np.asarray(image)
    sample = _face_sample(image, face)
    grey = np.asarray(sample.convert("L"), dtype=np.float64)
    # Contrast-normalised, so a dark photo is not also called blurry.
    normalised = (grey - grey.mean()) * (50.0 / (grey.std() + 1e-6))
    metrics["sharpness"] = round(_laplacian_variance(normalised), 1)
    metrics["brightness"] = round(float(grey.mean()), 1)
    metrics["clipped"] = round(float(((grey <= 5) | (grey >= 250)).mean()), 3)
    quality = face_quality(pixels, face)
    metrics.update(detail=round(quality.detail, 3), texture=round(quality.texture, 3),
                   blockiness=round(quality.blockiness, 3))

    found: list[str] = []
    warnings: list[str] = []
    if people.others:
        found.append(codes.SECOND_PERSON)
    if fraction < MIN_FACE_FRACTION or face.width < MIN_FACE_PIXELS:
        found.append(codes.FACE_TOO_SMALL)
    if _cut_off(image, face):
        found.append(codes.FACE_CUT_OFF)
    if metrics["sharpness"] < MIN_SHARPNESS:
        found.append(codes.BLURRED)
    elif quality.blockiness > MAX_BLOCKINESS:
        found.append(codes.LOW_DETAIL)
    if metrics["brightness"] < MIN_BRIGHTNESS:
        found.append(codes.TOO_DARK)
    elif metrics["brightness"] > MAX_BRIGHTNESS or metrics["clipped"] > MAX_CLIPPED:
        found.append(codes.OVEREXPOSED)
    if abs(face.roll_degrees) > MAX_ROLL_DEGREES:
        warnings.append("Your head is tilted. Keep it level for the best results.")
    metrics["codes"] = found
    if not found:
        # Which framings this photo is too short for; the upload decides with the look that
        # applies to the person whether to advise a photo that shows the shoulders.
        metrics["too_tight_for"] = framings_too_tight(face, source=(image.height, image.width))
    embedding = None
    if embed and codes.SECOND_PERSON not in found:
        embedding = face_embedding(image, face=face)
    return _result(found, warnings, metrics, embedding)


def _result(found: list[str], warnings: list[str], metrics: dict,
            embedding: list[float] | None) -> QaResult:
    return QaResult(accepted=not found, reasons=codes.selfie_messages(found), warnings=warnings,
                    metrics=metrics, codes=list(found), embedding=embedding)


def _face_sample(image: Image.Image, face: Face) -> Image.Image:
    box = (max(0, face.left), max(0, face.top), min(image.width, face.right),
           min(image.height, face.bottom))
    crop = image.crop(tuple(round(v) for v in box))
    height = max(1, round(crop.height * FACE_SAMPLE / max(1, crop.width)))
    return crop.resize((FACE_SAMPLE, height), Image.Resampling.BILINEAR)


def _laplacian_variance(grey: np.ndarray) -> float:
    lap = (grey[:-2, 1:-1] + grey[2:, 1:-1] + grey[1:-1, :-2] + grey[1:-1, 2:]
           - 4 * grey[1:-1, 1:-1])
    return float(lap.var())


def _cut_off(image: Image.Image, face: Face) -> bool:
    return (
        face.left - EDGE_MARGIN_SIDE * face.width < 0
        or face.right + EDGE_MARGIN_SIDE * face.width > image.width
        or face.top - EDGE_MARGIN_TOP * face.height < 0
        or face.bottom + EDGE_MARGIN_BOTTOM * face.height > image.height
    )
