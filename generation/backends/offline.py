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

import numpy as np
from PIL import Image

from generation.finish import NoFaceToFinish, finish_apply
from generation.framing import EYE_DISTANCE_PER_BOX, FACE_SIZE_OVERSHOOT, FRAMINGS, Framing
from generation.looks import LookSpec

__all__ = ["BACKEND_LABEL", "EYE_DISTANCE_PER_BOX", "FACE_SIZE_OVERSHOOT", "FRAMINGS",
           "Framing", "NoFaceForRetouch", "studio_retouch", "studio_retouch_with_mask"]

BACKEND_LABEL = "Studio retouch, offline"

NoFaceForRetouch = NoFaceToFinish  # the name callers of this backend know


def studio_retouch(image: Image.Image, *, look: LookSpec, seed: int) -> Image.Image:
    """A studio-style headshot of the person in ``image``, framed and coloured per ``look``."""
    return studio_retouch_with_mask(image, look=look, seed=seed)[0]


def studio_retouch_with_mask(image: Image.Image, *, look: LookSpec,
                             seed: int) -> tuple[Image.Image, np.ndarray]:
    """As ``studio_retouch``, plus the person matte used (float32 HxW, 1 on the person)."""
    finished = finish_apply(image, look=look, seed=seed, retouch=True)
    return finished.image, finished.matte
