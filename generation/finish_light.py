"""Light and colour for the offline retouch: the person's own photo, relit toward the look.

This is a retouch, not a new photograph: the light already in the selfie stays, and is
shaped toward what the look's lighting asks for with a smooth gain (key side brighter,
fill side darker, following a rounded proxy of the head and body), a tone curve (low or
high key, contrast) and a small colour balance. ``light_for`` reads the look's lighting
text; the words it does not understand are reported (``Light.unknown``) so the look form
can say that the offline backend does not honour them, instead of ignoring them silently.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace

import cv2
import numpy as np

LUMA = np.array([0.2126, 0.7152, 0.0722], dtype=np.float32)
WB_MAX_GAIN = 0.08  # per channel, relative
EXPOSURE_MAX_STOPS = 0.5
BACKDROP_BOUNCE = 0.04  # share of the backdrop's tint the person picks up (fill bounce)


@dataclass(frozen=True)
class Light:
    """What the offline retouch does to the light. ``key``: -1 from the image's left,
    +1 from its right; ``ratio``: how far the key side is lifted and the fill side
    lowered (0: flat); ``contrast``: tone curve slope change; ``face_lightness``: the L*
    band the face's mean is brought into; ``warmth``: red up and blue down (relative)."""

    key: float = -1.0
    ratio: float = 0.15
    contrast: float = 0.0
    face_lightness: tuple[float, float] = (45.0, 72.0)
    warmth: float = 0.0
    understood: tuple[str, ...] = field(default=())
    unknown: tuple[str, ...] = field(default=())


# (pattern, changes) in order: later matches refine earlier ones.
_RULES: list[tuple[str, dict]] = [
    (r"\bsoft\b", {"ratio": 0.12}),
    (r"\bkey light\b|\bkey\b", {}),
    (r"45 ?(degrees?|°)", {"ratio": 0.18}),
    (r"gentle fill|\bfill\b", {}),
    (r"\bwindow\b|\bdirectional\b", {"ratio": 0.22}),
    (r"\bshadows?\b", {}),
    (r"rembrandt", {"ratio": 0.35, "contrast": 0.08}),
    (r"low[ -]key", {"face_lightness": (38.0, 56.0), "contrast": 0.12}),
    (r"high[ -]key", {"face_lightness": (60.0, 76.0), "contrast": -0.1, "ratio": 0.04}),
    (r"\bbright\b|\bairy\b|\bopen\b", {"face_lightness": (56.0, 74.0), "contrast": -0.04}),
    (r"\bflat\b|\bshadowless\b", {"ratio": 0.0, "contrast": -0.06}),
    (r"\beven\b", {"contrast": -0.03}),
    (r"\bdaylight\b|\bnatural\b", {"warmth": 0.0}),
    (r"\bwarm\b", {"warmth": 0.035}),
    (r"\bcool\b|\bcold\b", {"warmth": -0.03}),
]
# Words that say nothing by themselves about the light ("neon rim light" is not understood
# because of "light").
_FILLER = re.compile(r"\b(at|with|and|a|an|the|of|light|lights|lighting|very|slightly|"
                     r"studio|classic)\b")


def light_for(lighting: str) -> Light:
    """The retouch's light for a look's lighting text; unknown phrases are listed."""
    light = Light()
    understood, unknown = [], []
    for phrase in [p.strip() for p in re.split(r"[,;]", lighting or "") if p.strip()]:
        lowered = phrase.lower()
        matched = False
        for pattern, changes in _RULES:
            if re.search(pattern, lowered):
                matched = True
                light = replace(light, **changes)
        rest = lowered
        for pattern, _ in reversed(_RULES):  # "low key" before "key"
            rest = re.sub(pattern, " ", rest)
        rest = _FILLER.sub(" ", rest)
        if matched and not re.sub(r"[\W\d]+", "", rest):
            understood.append(phrase)
        elif matched:
            understood.append(phrase)
            unknown.append(" ".join(rest.split()))
        else:
            unknown.append(phrase)
    return replace(light, understood=tuple(understood), unknown=tuple(unknown))


def channels3(plane: np.ndarray) -> np.ndarray:
    """An HxW plane as HxWx3, its values in every channel. ``image * plane[..., None]`` makes
    numpy broadcast over a last axis of 3, which costs about four times an elementwise pass
    over the whole image; the merged copy costs a fraction of one, and the products are
    the same."""
    return cv2.merge([plane, plane, plane])


def channel_gains(image: np.ndarray, gains: np.ndarray) -> np.ndarray:
    """``image * gains`` (float32 HxWx3, gains per channel): the same float32 products,
    by OpenCV at less than half the cost of numpy's broadcast over the last axis."""
    g = np.asarray(gains, dtype=np.float32)
    return cv2.multiply(image, (float(g[0]), float(g[1]), float(g[2]), 0.0))


def white_balance(linear: np.ndarray, alpha: np.ndarray) -> np.ndarray:
    """Shades-of-grey (p=6) estimate over the person, at half strength, clipped."""
    small = cv2.resize(linear, (96, 96), interpolation=cv2.INTER_AREA).reshape(-1, 3)
    weight = cv2.resize(alpha, (96, 96), interpolation=cv2.INTER_AREA).reshape(-1)
    usable = (weight > 0.9) & (small.max(axis=1) < 0.95) & (small.mean(axis=1) > 0.01)
    if usable.sum() < 100:
        return linear
    norms = np.mean(small[usable].astype(np.float64) ** 6, axis=0) ** (1 / 6)
    gains = norms.mean() / np.maximum(norms, 1e-6)
    gains = np.clip(np.sqrt(gains), 1 - WB_MAX_GAIN, 1 + WB_MAX_GAIN)
    gains /= np.dot(gains, LUMA)  # keep luminance
    return channel_gains(linear, gains)


def _face_patch(linear: np.ndarray, box: tuple[float, float, float, float]) -> np.ndarray | None:
    left, top, right, bottom = box
    h, w = linear.shape[:2]
    fw, fh = right - left, bottom - top
    # The cheeks, nose and forehead: the box's centre, away from hair and background.
    x0, x1 = int(max(0, left + 0.25 * fw)), int(min(w, right - 0.25 * fw))
    y0, y1 = int(max(0, top + 0.2 * fh)), int(min(h, bottom - 0.25 * fh))
    if x1 - x0 < 4 or y1 - y0 < 4:
        return None
    return linear[y0:y1, x0:x1].reshape(-1, 3)


def _shade(alpha: np.ndarray, box: tuple[float, float, float, float], light: Light
           ) -> np.ndarray:
    """The key light's relative gain at quarter resolution: a rounded proxy of the person
    (the matte blurred, with an ellipsoid for the head) lit from ``light.key``'s side."""
    h, w = alpha.shape
    q = 4
    small = cv2.resize(alpha, (max(1, w // q), max(1, h // q)), interpolation=cv2.INTER_AREA)
    left, top, right, bottom = (v / q for v in box)
    fw, fh = right - left, bottom - top
    depth = cv2.GaussianBlur(small, (0, 0), sigmaX=max(1.0, 0.35 * fw))
    ys, xs = np.mgrid[0:small.shape[0], 0:small.shape[1]].astype(np.float32)
    cx, cy = (left + right) / 2, (top + bottom) / 2 - 0.1 * fh
    r2 = ((xs - cx) / (0.62 * fw)) ** 2 + ((ys - cy) / (0.8 * fh)) ** 2
    head = np.sqrt(np.clip(1.0 - r2, 0.0, 1.0))
    depth = np.maximum(depth, head)
    gx = cv2.Sobel(depth, cv2.CV_32F, 1, 0, ksize=3) / 8
    gy = cv2.Sobel(depth, cv2.CV_32F, 0, 1, ksize=3) / 8
    steep = 0.9 * fw  # depth units per pixel -> slope: the head's rim leans ~60°
    nx, ny, nz = -gx * steep, -gy * steep, np.ones_like(gx)
    norm = np.sqrt(nx * nx + ny * ny + nz * nz)
    lx, ly, lz = 0.7 * light.key, -0.3, 0.65
    lnorm = float(np.sqrt(lx * lx + ly * ly + lz * lz))
    shade = np.maximum(0.0, (nx * lx + ny * ly + nz * lz) / (norm * lnorm))
    centre = lz / lnorm  # a surface facing the camera
    gain = 1.0 + light.ratio * (shade - centre) / centre
    gain = cv2.GaussianBlur(gain.astype(np.float32), (0, 0), sigmaX=1.0)
    return cv2.resize(gain, (w, h), interpolation=cv2.INTER_LINEAR)


def relight(linear: np.ndarray, alpha: np.ndarray, box: tuple[float, float, float, float], *,
            light: Light, backdrop: np.ndarray) -> np.ndarray:
    """The person's colours (linear light) relit and graded toward ``light``."""
    out = white_balance(linear, alpha)
    if light.ratio > 0:
        out = out * channels3(_shade(alpha, box, light))
    patch = _face_patch(out, box)
    if patch is None:
        return np.clip(out, 0.0, 1.0)
    face_y = float(max(np.mean(patch @ LUMA), 1e-5))
    # Exposure: the face's mean L* into the band, at most EXPOSURE_MAX_STOPS.
    lightness = 116 * np.cbrt(face_y) - 16
    lo, hi = light.face_lightness
    target = float(np.clip(lightness, lo, hi))
    gain = float(np.clip(((target + 16) / 116) ** 3 / face_y, 2 ** -EXPOSURE_MAX_STOPS,
                         2 ** EXPOSURE_MAX_STOPS))
    out = out * gain
    face_y *= gain
    if light.contrast:
        # A power curve on luminance around the face's mean: the face keeps its level.
        y = np.maximum(out @ LUMA, 1e-6)
        ratio = (y / face_y) ** light.contrast
        out = out * channels3(ratio)
    # Fill bounce from the backdrop and the look's warmth, luminance kept.
    tint = backdrop / max(float(backdrop @ LUMA), 1e-4)
    balance = (1 - BACKDROP_BOUNCE) + BACKDROP_BOUNCE * tint
    balance = balance * np.array([1 + light.warmth, 1.0, 1 - light.warmth], dtype=np.float32)
    balance /= float(balance @ LUMA)
    out = channel_gains(out, balance)
    # Roll highlights off rather than clip them.
    knee = 0.8
    out = np.ascontiguousarray(out)  # already is: then reshape below is a view
    flat = out.reshape(-1)
    over = np.flatnonzero(flat > knee)  # one flat index, not a boolean mask twice
    flat[over] = knee + (1 - knee) * np.tanh((flat.take(over) - knee) / (1 - knee))
    return np.clip(out, 0.0, 1.0, out=out)  # out is this function's own array by now
