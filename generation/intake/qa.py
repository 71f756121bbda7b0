"""Selfie QA: is this a photo we can make a good headshot from?

Every figure is stored with the selfie and shown next to its thumbnail, so a
person sees *why* a photo was refused. Thresholds are module constants,
calibrated on real portraits (tests/test_selfie_qa.py shows what each catches).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

import numpy as np
from PIL import Image

from .faces import Face, faces_detect

# A second face at least this fraction of the main face's width is another person
# in the photo, not a poster far behind.
SECOND_FACE_RATIO = 0.45
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
    metrics: dict[str, float | int | list[float] | None] = field(default_factory=dict)

    def as_dict(self) -> dict:
        return asdict(self)


def selfie_qa(image: Image.Image) -> QaResult:
    faces = faces_detect(image)
    metrics: dict = {"faces": len(faces), "width": image.width, "height": image.height}
    if not faces:
        return QaResult(False, ["No face found. Face the camera in good light, without "
                                "sunglasses or a mask."], metrics=metrics)
    face = faces[0]
    others = [f for f in faces[1:] if f.width >= SECOND_FACE_RATIO * face.width]
    short_side = min(image.size)
    fraction = face.width / short_side
    metrics.update(
        face_box=[round(v, 1) for v in (face.left, face.top, face.right, face.bottom)],
        face_fraction=round(fraction, 3),
        face_pixels=round(face.width),
        roll_degrees=round(face.roll_degrees, 1),
        detector_score=round(face.score, 2),
    )
    sample = _face_sample(image, face)
    grey = np.asarray(sample.convert("L"), dtype=np.float64)
    # Contrast-normalised, so a dark photo is not also called blurry.
    normalised = (grey - grey.mean()) * (50.0 / (grey.std() + 1e-6))
    metrics["sharpness"] = round(_laplacian_variance(normalised), 1)
    metrics["brightness"] = round(float(grey.mean()), 1)
    metrics["clipped"] = round(float(((grey <= 5) | (grey >= 250)).mean()), 3)

    reasons: list[str] = []
    warnings: list[str] = []
    if others:
        reasons.append("More than one person is in the photo. Take a selfie of just you.")
    if fraction < MIN_FACE_FRACTION or face.width < MIN_FACE_PIXELS:
        reasons.append("Your face is too small in the photo. Hold the camera closer, "
                       "about an arm's length away.")
    if _cut_off(image, face):
        reasons.append("Part of your head is cut off at the edge of the photo. Centre "
                       "your face with some space around it.")
    if metrics["sharpness"] < MIN_SHARPNESS:
        reasons.append("The photo is blurry. Hold the camera still and tap to focus on your face.")
    if metrics["brightness"] < MIN_BRIGHTNESS:
        reasons.append("The photo is too dark. Face a window or a lamp.")
    elif metrics["brightness"] > MAX_BRIGHTNESS or metrics["clipped"] > MAX_CLIPPED:
        reasons.append("The photo is overexposed. Move out of direct sunlight or away "
                       "from the flash.")
    if abs(face.roll_degrees) > MAX_ROLL_DEGREES:
        warnings.append("Your head is tilted. Keep it level for the best results.")
    small_others = len(faces) - 1 - len(others)
    if small_others:
        warnings.append("Someone else may be in the background.")
    return QaResult(not reasons, reasons, warnings, metrics)


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
