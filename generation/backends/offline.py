"""The embedded default backend: a studio retouch of the selfie itself, offline, on the CPU.

No generative model is involved, and the product says so: the person's own photo is
framed, cut out, relit toward the look and laid on the look's backdrop by the same finish
every backend's output gets (``generation.finish``), with ``retouch`` on. What a retouch
cannot do (change the clothes, a lighting the text asks for that it does not know) is
listed by ``offline_limits`` and shown wherever the look and its results are.

Same image, look and seed: identical bytes. The seed varies zoom (±3 %) and horizontal
placement (±2 %) between candidates.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np
from PIL import Image

from generation.finish import NoFaceToFinish, Subject, finish_apply, finish_subject
from generation.finish_light import light_for
from generation.framing import EYE_DISTANCE_PER_BOX, FACE_SIZE_OVERSHOOT, FRAMINGS, Framing
from generation.looks import LookSpec

from .offline_redo import redo_adjustments, redo_apply

__all__ = ["BACKEND_LABEL", "EYE_DISTANCE_PER_BOX", "FACE_SIZE_OVERSHOOT", "FRAMINGS",
           "Framing", "NoFaceForRetouch", "OfflineLimit", "Subject", "finish_subject",
           "offline_limits", "studio_retouch", "studio_retouch_with_mask"]

BACKEND_LABEL = "Studio retouch, offline"

NoFaceForRetouch = NoFaceToFinish  # the name callers of this backend know


def studio_retouch(image: Image.Image, *, look: LookSpec, seed: int,
                   instructions: str = "", subject: Subject | None = None) -> Image.Image:
    """A studio-style headshot of the person in ``image``, framed and coloured per ``look``.

    ``instructions``: a redo's comment; what the retouch can honour of it ("brighter",
    "warmer", "tighter crop": ``offline_redo``) is applied to the person.
    ``subject``: ``finish_subject(image)``, found once for all of a job's seeds of it.
    """
    adjust = redo_adjustments(instructions)
    if not adjust.any:
        return studio_retouch_with_mask(image, look=look, seed=seed, subject=subject)[0]
    finished = finish_apply(image, look=look, seed=seed, retouch=True, subject=subject)
    return redo_apply(finished.image, matte=finished.matte, face_box=finished.face_box,
                      adjust=adjust)


def studio_retouch_with_mask(image: Image.Image, *, look: LookSpec, seed: int,
                             subject: Subject | None = None) -> tuple[Image.Image, np.ndarray]:
    """As ``studio_retouch``, plus the person matte used (float32 HxW, 1 on the person)."""
    finished = finish_apply(image, look=look, seed=seed, retouch=True, subject=subject)
    return finished.image, finished.matte


# Backdrop words that ask for more than a plain studio colour, which is all a retouch paints.
_SCENE_WORDS = re.compile(
    r"\b(textured?|texture|gradient|bokeh|office|outdoors?|outside|city|window|brick|wall|"
    r"pattern(ed)?|blurred|blurry|scene|plants?|bookshelf|bookcase|street|nature|garden|"
    r"painted|canvas|mottled)\b", re.IGNORECASE)


@dataclass(frozen=True)
class OfflineLimit:
    """One part of a look that the offline backend cannot honour, and the sentence shown."""

    field: str  # "wardrobe" | "lighting" | "backdrop"
    text: str


def offline_limits(*, wardrobe: str, lighting: str, backdrop_description: str
                   ) -> list[OfflineLimit]:
    """What the offline retouch will not do of a look, in words people are shown.

    The retouch keeps the person's own clothes, relights only what ``light_for``
    understands, and paints a plain colour: anything else the look asks for is listed
    here rather than silently ignored.
    """
    limits = []
    if wardrobe.strip():
        limits.append(OfflineLimit("wardrobe", (
            f"Wardrobe (“{wardrobe.strip()}”) is not available with the offline backend: it "
            "retouches the person's own photo, so they wear what they wore in it.")))
    unknown = light_for(lighting).unknown
    if unknown:
        listed = "”, “".join(unknown)
        limits.append(OfflineLimit("lighting", (
            f"Lighting “{listed}” is not available with the offline backend: it relights the "
            "photo only for key direction, fill, low or high key, flat light, contrast and "
            "warmth.")))
    scene = sorted({m.group(0).lower() for m in _SCENE_WORDS.finditer(backdrop_description)})
    if scene:
        limits.append(OfflineLimit("backdrop", (
            f"A {', '.join(scene)} backdrop is not available with the offline backend: it "
            "paints the look's colour with a soft studio falloff.")))
    return limits
