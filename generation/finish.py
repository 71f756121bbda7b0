"""The studio finish every backend's photo gets: the look's framing and backdrop, cleanly.

    result = finish_apply(image, look=spec, seed=seed)            # any backend's output
    result = finish_apply(selfie, look=spec, seed=seed, retouch=True)  # the offline backend

1. the face is found (dlib) and the photo is levelled, scaled and cropped in one warp so
   the face lands where the look's framing wants it, from what the photo really has: the
   frame's bottom and the sides the person runs off stay inside the photo (never an
   invented body; ``generation.finish_framing``);
2. the person is matted at hair level (``generation.backends.segmentation``), and parts
   of the old background that touch the person are dropped;
3. with ``retouch`` (the offline backend, whose input is a plain selfie) the person's
   light is shaped toward the look's lighting and their colour balanced
   (``generation.finish_light``); a generative backend already lit its photo as asked;
4. the person's own colour at the soft edge is estimated without the old background
   (blur-fusion foreground estimation: no halo or colour spill) and laid on the look's
   backdrop with a faint studio falloff and a little light wrap from the new backdrop;
5. output sharpening on the person at the delivered size, and a one-level dither.

Same image, look, seed and options: identical bytes. The seed varies the zoom (±3 %) and
the horizontal placement (±2 %) between candidates, inside the framing's bands.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import cv2
import numpy as np
from PIL import Image

from generation.backends.segmentation import model_confidence, person_mask_array
from generation.colour import srgb_to_lab, srgb_to_linear
from generation.finish_foreground import foreground_estimate
from generation.finish_framing import frame_plan, frame_warp, touched_edges
from generation.finish_light import LUMA, channels3, light_for, relight
from generation.framing import framing_for
from generation.intake.faces import Face, faces_detect
from generation.looks import LookSpec

VIGNETTE_CORNER_DE = 3.2  # CIEDE2000 at the far corners; ~0 behind the head
VIGNETTE_CORNER_DE_LIGHT = 1.6  # for light backdrops (L* > 85), which should stay clean
LIGHT_WRAP = 0.18  # how much of the new backdrop's light wraps onto the person's edge
SHARPEN_AMOUNT = 0.35  # output sharpening at 1:1 or below; more when the photo was enlarged
SHARPEN_SIGMA = 0.9  # output pixels

# Codes in ``Finished.notes``, with the sentence people are shown.
NOTES = {
    "framing_tight": "The photo ends close below the chin, so the face is framed larger "
                     "than the look asks rather than invent a body that is not in the photo.",
    "framing_short": "The photo does not reach the bottom of the look's framing even at the "
                     "largest face size; use a selfie that shows the shoulders.",
    "upscaled": "The face in this photo is small, so it was enlarged to the output size "
                "and will look softer than a photo taken closer.",
}
UPSCALE_NOTE = 1.6  # enlarging more than this is worth a note

_TO_LINEAR = srgb_to_linear(np.arange(256)).astype(np.float32)
_FROM_LINEAR_STEPS = 16384
_FROM_LINEAR = (255 * np.where(
    np.linspace(0, 1, _FROM_LINEAR_STEPS + 1) <= 0.0031308,
    np.linspace(0, 1, _FROM_LINEAR_STEPS + 1) * 12.92,
    1.055 * np.linspace(0, 1, _FROM_LINEAR_STEPS + 1) ** (1 / 2.4) - 0.055)).astype(np.float32)


class NoFaceToFinish(ValueError):
    """The photo has no face the finish can frame."""


@dataclass(frozen=True)
class Finished:
    image: Image.Image  # RGB, the look's output size
    matte: np.ndarray  # float32 HxW, 1 on the person
    face_box: tuple[float, float, float, float]  # left, top, right, bottom, planned
    notes: tuple[str, ...]  # codes of NOTES
    scale: float  # output pixels per photo pixel (> 1: enlarged)
    # The output's corners (top-left, top-right, bottom-left, bottom-right) in the photo's
    # pixels: where the frame was cut from.
    frame: tuple[tuple[float, float], ...]


@dataclass(frozen=True)
class Subject:
    """What the finish reads from the whole photo before framing it: the face, and the
    edges the person runs off. The same for every look and seed of one photo, so a job
    that renders several from one selfie finds it once (``finish_subject``)."""

    face: Face
    edges: dict[str, float | None]


def finish_subject(image: Image.Image, *, face: Face | None = None) -> Subject:
    """The ``Subject`` of ``image`` (``face``: if already known). Raises ``NoFaceToFinish``."""
    return _subject(image, _rgb(image), face)


def _subject(image: Image.Image, source: np.ndarray, face: Face | None) -> Subject:
    if face is None:
        # A usable photo has a large face: the quick pass finds it; look closer if not.
        faces = faces_detect(image, upsample=0) or faces_detect(image)
        if not faces:
            raise NoFaceToFinish(
                "No face was found in the photo, so it cannot be framed as a headshot. "
                "Use a photo where the face is clearly visible and faces the camera.")
        face = faces[0]
    return Subject(face=face, edges=touched_edges(model_confidence(source)))


def finish_apply(image: Image.Image, *, look: LookSpec, seed: int = 0, retouch: bool = False,
                 face: Face | None = None, subject: Subject | None = None) -> Finished:
    """``image`` framed, matted and laid on ``look``'s backdrop (see the module's text).

    ``face``: the face in ``image``'s pixels if already known (saves a detection);
    ``subject``: ``finish_subject(image)`` if already known (saves that and more).
    ``retouch``: also shape the person's light and colour toward the look (for a selfie;
    a generative backend's output was lit as asked). Raises ``NoFaceToFinish``.
    """
    source = _rgb(image)
    if subject is None:
        subject = _subject(image, source, face)
    face, edges = subject.face, subject.edges
    framing = framing_for(look.framing)
    output = look.output_dimensions
    out_w, out_h = output
    rng = np.random.default_rng(np.random.SeedSequence([seed & 0xFFFFFFFF, 0x5EED]))

    plan = frame_plan(face, framing, source=source.shape[:2], output=output, edges=edges,
                      rng=rng)
    framed, valid = frame_warp(source, plan, output)
    box = _mapped_box(face, plan.matrix)

    alpha = person_mask_array(framed, focus=box) * valid
    alpha = _keep_subject(alpha, box)

    linear = cv2.LUT(framed, _TO_LINEAR)  # as _TO_LINEAR[framed], at a seventh of the cost
    backdrop_colour = srgb_to_linear(np.array(look.backdrop_rgb)).astype(np.float32)
    foreground = foreground_estimate(linear, alpha)
    if retouch:
        foreground = relight(foreground, alpha, box, light=light_for(look.lighting),
                             backdrop=backdrop_colour)
    backdrop = _backdrop(look, out_w, out_h, centre=((box[0] + box[2]) / 2,
                                                     (box[1] + box[3]) / 2))
    a = channels3(alpha)
    composite = a * foreground
    a = np.subtract(1.0, a, out=a)
    composite += a * backdrop
    composite = _light_wrap(composite, alpha, backdrop)
    np.clip(composite, 0.0, 1.0, out=composite)
    composite *= _FROM_LINEAR_STEPS
    encoded = _FROM_LINEAR.take(np.rint(composite, out=composite).astype(np.intp))
    amount = SHARPEN_AMOUNT * (1.0 + min(1.0, max(0.0, plan.scale - 1.0)))
    encoded = _sharpen(encoded, alpha, amount)
    # Triangular dither of one level: no banding in the smooth backdrop, still deterministic.
    noise = rng.random((out_h, out_w), dtype=np.float32) - rng.random((out_h, out_w),
                                                                      dtype=np.float32)
    encoded += channels3(noise)
    out = np.clip(np.rint(encoded, out=encoded), 0, 255, out=encoded).astype(np.uint8)

    notes = []
    if plan.tight:
        notes.append("framing_tight")
    if plan.short:
        notes.append("framing_short")
    if plan.scale > UPSCALE_NOTE:
        notes.append("upscaled")
    inverse = cv2.invertAffineTransform(plan.matrix)
    corners = np.array([[0, 0], [out_w, 0], [0, out_h], [out_w, out_h]], dtype=np.float64)
    frame = tuple((float(x), float(y)) for x, y in corners @ inverse[:, :2].T + inverse[:, 2])
    return Finished(image=Image.fromarray(out, "RGB"), matte=alpha, face_box=box,
                    notes=tuple(notes), scale=plan.scale, frame=frame)


def _rgb(image: Image.Image) -> np.ndarray:
    """The photo's RGB pixels (``convert`` would copy an RGB photo once more first)."""
    return np.asarray(image if image.mode == "RGB" else image.convert("RGB"))


def _mapped_box(face: Face, matrix: np.ndarray) -> tuple[float, float, float, float]:
    corners = np.array([[face.left, face.top], [face.right, face.top],
                        [face.left, face.bottom], [face.right, face.bottom]])
    mapped = corners @ matrix[:, :2].T + matrix[:, 2]
    return (float(mapped[:, 0].min()), float(mapped[:, 1].min()),
            float(mapped[:, 0].max()), float(mapped[:, 1].max()))


def _keep_subject(alpha: np.ndarray, face_box: tuple[float, float, float, float]) -> np.ndarray:
    """Drop other people and stray blobs: keep the matte's parts that touch the face."""
    h, w = alpha.shape
    step = 4
    small = cv2.resize(alpha, (max(1, w // step), max(1, h // step)),
                       interpolation=cv2.INTER_AREA)
    count, labels = cv2.connectedComponents((small > 0.5).astype(np.uint8), connectivity=8)
    if count <= 2:
        return alpha
    left, top, right, bottom = (v / step for v in face_box)
    cx, cy = (left + right) / 2, (top + bottom) / 2
    rx, ry = max(1.0, (right - left) / 4), max(1.0, (bottom - top) / 4)
    y0, y1 = int(max(0, cy - ry)), int(min(small.shape[0], cy + ry + 1))
    x0, x1 = int(max(0, cx - rx)), int(min(small.shape[1], cx + rx + 1))
    keep = set(np.unique(labels[y0:y1, x0:x1])) - {0}
    if not keep:
        return alpha
    others = ((labels > 0) & ~np.isin(labels, list(keep))).astype(np.uint8)
    if not others.any():
        return alpha
    # Grow the dropped parts a little so their soft edges go too, then soften.
    others = cv2.dilate(others, np.ones((5, 5), np.uint8))
    drop = cv2.resize(others.astype(np.float32), (w, h), interpolation=cv2.INTER_LINEAR)
    drop = cv2.GaussianBlur(drop, (0, 0), sigmaX=2.0)
    return (alpha * (1.0 - np.clip(drop, 0.0, 1.0))).astype(np.float32)


def _light_wrap(composite: np.ndarray, alpha: np.ndarray, backdrop: np.ndarray) -> np.ndarray:
    """A little of the backdrop's light over the person's outer edge, as a lit studio
    backdrop does: the cut-out look goes, the person sits in the new backdrop's light."""
    h, w = alpha.shape
    half = (max(1, w // 2), max(1, h // 2))
    sigma = max(1.0, 0.002 * max(h, w))
    outside = cv2.GaussianBlur(cv2.resize(1.0 - alpha, half, interpolation=cv2.INTER_AREA),
                               (0, 0), sigmaX=sigma)
    outside = cv2.resize(outside, (w, h), interpolation=cv2.INTER_LINEAR)
    weight = channels3(LIGHT_WRAP * alpha * outside)
    composite *= 1.0 - weight  # the caller's own array
    composite += backdrop * weight
    return composite


def _sharpen(encoded: np.ndarray, alpha: np.ndarray, amount: float) -> np.ndarray:
    """Unsharp mask on lightness only, on the person (the backdrop stays smooth)."""
    luma = encoded @ LUMA
    detail = luma - cv2.GaussianBlur(luma, (0, 0), sigmaX=SHARPEN_SIGMA)
    # Small differences are noise and JPEG grain: leave them.
    detail = np.sign(detail) * np.maximum(np.abs(detail) - 1.0, 0.0)
    encoded += channels3(amount * alpha * detail)  # the caller's own array
    return encoded


def _backdrop(look: LookSpec, out_w: int, out_h: int, *,
              centre: tuple[float, float]) -> np.ndarray:
    """The look's colour, lit from behind the head: darker towards the corners (linear RGB)."""
    base = np.array(look.backdrop_rgb, dtype=np.float64)
    lightness = float(srgb_to_lab(base)[0])
    corner_de = VIGNETTE_CORNER_DE_LIGHT if lightness > 85 else VIGNETTE_CORNER_DE
    # dE2000 of a pure lightness change is dL*/S_L.
    l50 = (lightness - 50) ** 2
    drop = corner_de * (1 + 0.015 * l50 / math.sqrt(20 + l50))
    cx = centre[0]
    cy = min(centre[1], out_h * 0.45)
    far = max(math.hypot(cx, cy), math.hypot(out_w - cx, cy), math.hypot(cx, out_h - cy),
              math.hypot(out_w - cx, out_h - cy))
    # Smooth: computed at an eighth of the size and enlarged.
    q = 8
    ys, xs = np.mgrid[0:out_h // q + 2, 0:out_w // q + 2].astype(np.float32) * q
    r2 = ((xs - cx) ** 2 + (ys - cy) ** 2) / (far * far)
    # L* -> relative luminance factor: Y ∝ ((L* + 16) / 116)^3 (exact above L* 8).
    factor = ((np.maximum(lightness - drop * r2, 8.0) + 16) / (lightness + 16)) ** 3
    factor = cv2.resize(factor, ((out_w // q + 2) * q, (out_h // q + 2) * q),
                        interpolation=cv2.INTER_LINEAR)[:out_h, :out_w]
    return cv2.merge([factor * c for c in srgb_to_linear(base).astype(np.float32)])
