"""What the offline retouch can honour of a redo's comment ("brighter", "warmer", "tighter
crop"), and applying it to a finished photo.

A generative backend reads the comment in its prompt; the retouch has no prompt, so the
few changes it can make are read from the words here, applied to the person only (the
matte: the backdrop keeps the look's colour, so the look gate still holds), and the rest
of the comment is reported as not available rather than silently ignored.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import numpy as np
from PIL import Image

# (pattern, what it changes, the words shown to the person). Small steps: a redo nudges
# the photo, it must still pass the look's gates (colour cast, framing band).
_RULES: list[tuple[str, dict, str]] = [
    (r"\b(brighter|lighter|more light|too dark|less dark)\b", {"exposure": 0.25}, "brighter"),
    (r"\b(darker|less bright|too bright|too light)\b", {"exposure": -0.2}, "darker"),
    (r"\b(warmer|too cold|too cool|less blue)\b", {"warmth": 0.04}, "warmer"),
    (r"\b(cooler|colder|too warm|less (orange|yellow))\b", {"warmth": -0.04}, "cooler"),
    (r"\b(tighter|closer|zoom(ed)? in|crop(ped)? (in|closer|tighter)|bigger face)\b",
     {"zoom": 1.04}, "a tighter crop"),
]
# A face may grow this much before it leaves the look's framing band (head-and-shoulders:
# 0.30-0.36 of the height around 0.33; the seed already varies the zoom by up to 3 %).
MAX_ZOOM = 1.04


@dataclass(frozen=True)
class RedoAdjustments:
    exposure: float = 0.0  # stops, on the person
    warmth: float = 0.0  # red up and blue down (relative), on the person
    zoom: float = 1.0  # > 1: a tighter crop about the face
    understood: tuple[str, ...] = field(default=())

    @property
    def any(self) -> bool:
        return bool(self.exposure or self.warmth or self.zoom != 1.0)


def redo_adjustments(instructions: str) -> RedoAdjustments:
    """The changes the retouch can make for ``instructions`` (the person's comment)."""
    text = (instructions or "").lower()
    changes: dict[str, float] = {}
    understood: list[str] = []
    for pattern, change, words in _RULES:
        if re.search(pattern, text):
            changes.update(change)
            understood.append(words)
    return RedoAdjustments(exposure=changes.get("exposure", 0.0),
                           warmth=changes.get("warmth", 0.0),
                           zoom=min(MAX_ZOOM, changes.get("zoom", 1.0)),
                           understood=tuple(understood))


def redo_apply(image: Image.Image, *, matte: np.ndarray,
               face_box: tuple[float, float, float, float],
               adjust: RedoAdjustments) -> Image.Image:
    """``image`` (a finished retouch) with ``adjust`` applied: light and colour on the
    person (``matte``), then the crop tightened about the face."""
    if not adjust.any:
        return image
    pixels = np.asarray(image.convert("RGB"), dtype=np.float32) / 255.0
    linear = np.power(pixels, 2.2)
    gain = np.full(3, 2.0 ** adjust.exposure, dtype=np.float32)
    gain *= np.array([1.0 + adjust.warmth, 1.0, 1.0 - adjust.warmth], dtype=np.float32)
    alpha = np.clip(matte.astype(np.float32), 0.0, 1.0)[..., None]
    linear = linear * (1.0 - alpha) + np.clip(linear * gain, 0.0, 1.0) * alpha
    out = Image.fromarray(np.clip(np.rint(np.power(linear, 1 / 2.2) * 255.0), 0, 255)
                          .astype(np.uint8), "RGB")
    if adjust.zoom > 1.0:
        width, height = out.size
        left, top, right, bottom = face_box
        # Scaled about the face's centre: it stays where the look puts it, only larger.
        cx, cy = (left + right) / 2, (top + bottom) / 2
        keep = 1.0 / adjust.zoom
        box = (cx * (1 - keep), cy * (1 - keep), cx * (1 - keep) + width * keep,
               cy * (1 - keep) + height * keep)
        out = out.resize((width, height), Image.Resampling.LANCZOS, box=box)
    return out
