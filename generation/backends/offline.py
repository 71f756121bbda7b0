"""The embedded default backend: a studio retouch of the selfie itself, offline, on the CPU.

No generative model is involved. From one normalised selfie it makes a studio-style
headshot:

1. the face is found with dlib (``generation.intake.faces``);
2. the photo is levelled, scaled and cropped in one affine warp so the face lands where
   the look's framing wants it (size, eye line, centred), checked by detecting the face
   again in the framed result and corrected once or twice if it missed;
3. the person is cut out with MediaPipe's selfie segmentation model (shipped in the
   mediapipe wheel, see ``segmentation``) refined with a guided filter;
4. white balance (shades-of-grey, damped and clipped) and exposure (the face's mean
   lightness brought into a band, at most half a stop) are normalised;
5. the backdrop is replaced by the look's colour with a faint studio vignette, using a
   local estimate of the old background to remove its colour from the soft edge (no halo).

Pixels the crop needs from outside the photo are backdrop, except below the photo's
bottom edge, where the body is continued. Same image, look and seed: identical bytes.
The seed varies zoom (±3 %) and horizontal placement (±2 %) between candidates.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import cv2
import numpy as np
from PIL import Image

from generation.backends.segmentation import person_mask_array
from generation.colour import linear_to_srgb, srgb_to_lab, srgb_to_linear
from generation.intake.faces import Face, faces_detect
from generation.looks import LookSpec

BACKEND_LABEL = "Studio retouch, offline"

_SRGB_TO_LINEAR = srgb_to_linear(np.arange(256)).astype(np.float32)


class NoFaceForRetouch(ValueError):
    """The photo has no face the retouch can frame."""


@dataclass(frozen=True)
class Framing:
    # dlib's face box height as a fraction of the output height, and the band it may fall in.
    face_height: float
    face_band: tuple[float, float]
    # Eye line, from the top, as a fraction of the output height, and its band.
    eye_line: float
    eye_band: tuple[float, float]


FRAMINGS = {
    "head_and_shoulders": Framing(0.33, (0.30, 0.36), 0.425, (0.40, 0.45)),
    "chest_up": Framing(0.24, (0.22, 0.26), 0.38, (0.36, 0.40)),
}

# dlib's HOG detector reports box sizes in steps of 6/5 (its pyramid), so the box it draws
# around a face is between ~0.83x and 1x the face's "true" size. A face rendered at
# FACE_SIZE_OVERSHOOT x the wanted box height sits mid-step and is reported at that height.
FACE_SIZE_OVERSHOOT = 1.09
# Interocular distance (5-point eye centres) over dlib's box height, for a frontal face at
# a step boundary; used to estimate the face's size more finely than the quantised box.
EYE_DISTANCE_PER_BOX = 0.385
BODY_SHADOW = 0.45  # how much darker the continued body gets towards the bottom
BODY_FADE = 0.25  # of the height: over this the continued body fades into the backdrop
MAX_ROLL_CORRECTION = 10.0  # degrees
MAX_FRAMING_PASSES = 3
SEED_ZOOM = 0.03
SEED_SHIFT = 0.02
WB_MAX_GAIN = 0.08  # per channel, relative
FACE_LIGHTNESS_BAND = (45.0, 72.0)  # CIE L* of the face's mean colour
EXPOSURE_MAX_STOPS = 0.5
VIGNETTE_CORNER_DE = 3.2  # CIEDE2000 at the far corners; ~0 behind the head
VIGNETTE_CORNER_DE_LIGHT = 1.6  # for light backdrops (L* > 85), which should stay clean


def studio_retouch(image: Image.Image, *, look: LookSpec, seed: int) -> Image.Image:
    """A studio-style headshot of the person in ``image``, framed and coloured per ``look``."""
    return studio_retouch_with_mask(image, look=look, seed=seed)[0]


def studio_retouch_with_mask(image: Image.Image, *, look: LookSpec,
                             seed: int) -> tuple[Image.Image, np.ndarray]:
    """As ``studio_retouch``, plus the person matte used (float32 HxW, 1 on the person)."""
    source = np.asarray(image.convert("RGB"))
    # A selfie that passed QA has a large face: the quick pass finds it; look closer if not.
    faces = faces_detect(image, upsample=0) or faces_detect(image)
    if not faces:
        raise NoFaceForRetouch(
            "No face was found in the photo, so it cannot be framed as a headshot. "
            "Use a photo where the face is clearly visible and faces the camera."
        )
    face = faces[0]
    framing = FRAMINGS.get(look.framing, FRAMINGS["head_and_shoulders"])
    out_w, out_h = look.output_dimensions
    rng = np.random.default_rng(np.random.SeedSequence([seed & 0xFFFFFFFF, 0x5EED]))
    zoom = 1.0 + SEED_ZOOM * (2 * rng.random() - 1)
    shift = SEED_SHIFT * (2 * rng.random() - 1)

    warp = _frame(source, face, framing, out_w, out_h, zoom=zoom, shift=shift)
    framed = warp.pixels
    alpha = person_mask_array(framed, focus=warp.face_box)
    alpha = _extend_matte(alpha * warp.valid, warp.below)
    alpha = _keep_subject(alpha, warp.face_box)

    linear = _SRGB_TO_LINEAR[framed]
    linear = _white_balance(linear, alpha)
    linear = _expose(linear, warp.face_box)
    backdrop = _backdrop(look, out_w, out_h, centre=warp.face_centre)
    composite = _composite(linear, alpha, backdrop, continued=warp.below > 0)
    encoded = linear_to_srgb(composite.astype(np.float32)).astype(np.float32)
    # Triangular dither of one level: no banding in the smooth backdrop, still deterministic.
    encoded += rng.random(encoded.shape[:2])[..., None] - rng.random(encoded.shape[:2])[..., None]
    out = np.clip(np.rint(encoded), 0, 255).astype(np.uint8)
    return Image.fromarray(out, "RGB"), alpha


# --- framing -----------------------------------------------------------------------------


@dataclass
class _Warp:
    pixels: np.ndarray  # uint8 HxWx3, the framed photo
    valid: np.ndarray  # float32 HxW: 0 where the crop left the photo (except below it)
    below: np.ndarray  # float32 HxW: output pixels under the photo's bottom edge, else 0
    face_box: tuple[float, float, float, float]  # left, top, right, bottom in the output
    face_centre: tuple[float, float]


def _face_size(face: Face) -> float:
    """The face's size on dlib's box scale, refined with the eye distance."""
    eye_distance = math.dist(face.right_eye, face.left_eye)
    estimate = eye_distance / EYE_DISTANCE_PER_BOX
    # The quantised box says the true size is between 1x and 1.2x its height.
    return float(np.clip(estimate, 0.97 * face.height, 1.22 * face.height))


def _face_anchor(face: Face) -> tuple[float, float]:
    """The point placed on the vertical centre line: between box centre and eye midpoint."""
    eye_x = (face.right_eye[0] + face.left_eye[0]) / 2
    return ((face.left + face.right) / 2 + eye_x) / 2, (face.right_eye[1] + face.left_eye[1]) / 2


def _frame(source: np.ndarray, face: Face, framing: Framing, out_w: int, out_h: int, *,
           zoom: float, shift: float) -> _Warp:
    """Warp ``source`` so the face sits per ``framing``; verify by detecting it again."""
    (rx, ry), (lx, ly) = face.right_eye, face.left_eye
    roll = math.degrees(math.atan2(ly - ry, lx - rx))
    roll = float(np.clip(roll, -MAX_ROLL_CORRECTION, MAX_ROLL_CORRECTION))
    anchor = _face_anchor(face)  # its y is the eye line
    scale = framing.face_height * FACE_SIZE_OVERSHOOT * out_h * zoom / _face_size(face)
    target_x = out_w * (0.5 + shift)
    target_eye = out_h * framing.eye_line
    # The anchor's x and the eyes' y go to (target_x, target_eye).
    place = [target_x, target_eye]

    prescale = 1.0
    if scale < 0.9:
        # Downscale with area averaging first; the warp then resamples near 1:1.
        prescale = scale / 0.95
        source = cv2.resize(source, None, fx=prescale, fy=prescale,
                            interpolation=cv2.INTER_AREA)

    best = None
    for attempt in range(MAX_FRAMING_PASSES):
        matrix = _matrix(pivot=(anchor[0] * prescale, anchor[1] * prescale), roll=roll,
                         scale=scale / prescale, place=place)
        interpolation = cv2.INTER_CUBIC if scale / prescale > 1.05 else cv2.INTER_LINEAR
        pixels = cv2.warpAffine(source, matrix, (out_w, out_h), flags=interpolation,
                                borderMode=cv2.BORDER_REPLICATE)
        expected = _map_box(face, matrix, prescale)
        # The framed face is a third of the height: the quick pass always sees it.
        found = _closest_face(faces_detect(Image.fromarray(pixels), upsample=0), expected)
        box = (found.left, found.top, found.right, found.bottom) if found else expected
        best = (matrix, pixels, box)
        if found is None or attempt == MAX_FRAMING_PASSES - 1:
            break
        height = found.height / out_h
        eye = (found.right_eye[1] + found.left_eye[1]) / 2
        centre = _face_anchor(found)[0]
        lo, hi = framing.face_band
        resize = 1.1 if height < lo else (1 / 1.1 if height > hi else 1.0)
        dy = target_eye - eye
        dx = target_x - centre
        if resize == 1.0 and abs(dy) < 0.008 * out_h and abs(dx) < 0.015 * out_w:
            break
        scale *= resize
        # Move the placement so the measured eye line and centre land on target (a resize
        # keeps the eyes' point fixed, so the correction still holds after it).
        place = [place[0] + dx, place[1] + dy]
    matrix, pixels, box = best
    valid, below = _coverage(matrix, source.shape[:2], out_w, out_h)
    if below.max() > 0:
        pixels = _continue_body(pixels, below)
    centre = ((box[0] + box[2]) / 2, (box[1] + box[3]) / 2)
    return _Warp(pixels=pixels, valid=valid, below=below, face_box=box, face_centre=centre)


def _coverage(matrix: np.ndarray, source_shape: tuple[int, int], out_w: int,
              out_h: int) -> tuple[np.ndarray, np.ndarray]:
    """Where the output shows the photo, and how far below the photo's bottom edge.

    ``valid`` is 1 inside the photo and below it (the body goes on past the bottom edge),
    0 beyond its top and sides, with a one-pixel soft edge. ``below`` is the distance under
    the bottom edge, in output pixels (0 elsewhere).
    """
    src_h, src_w = source_shape
    inverse = cv2.invertAffineTransform(matrix)
    ys, xs = np.mgrid[0:out_h, 0:out_w].astype(np.float32)
    sx = inverse[0, 0] * xs + inverse[0, 1] * ys + inverse[0, 2]
    sy = inverse[1, 0] * xs + inverse[1, 1] * ys + inverse[1, 2]
    scale = math.hypot(matrix[0, 0], matrix[0, 1])  # output pixels per source pixel
    inside = np.minimum(np.minimum(sx + 0.5, src_w - 0.5 - sx), sy + 0.5) * scale
    below = np.maximum(sy - (src_h - 1), 0.0).astype(np.float32) * scale
    valid = np.clip(inside + 0.5, 0.0, 1.0)
    return valid.astype(np.float32), below


def _continue_body(pixels: np.ndarray, below: np.ndarray) -> np.ndarray:
    """Below the photo the warp repeats its last row. Smooth those streaks into soft
    fabric-coloured bands that sink into shadow downwards, as a body does under a key
    light: the frame stays filled, with nothing that reads as a copied stripe."""
    h, w = below.shape
    sigma = max(2.0, 0.04 * w)
    smooth = cv2.GaussianBlur(pixels.astype(np.float32), (0, 0), sigmaX=sigma, sigmaY=0.5)
    grey = smooth.mean(axis=-1, keepdims=True)
    smooth = grey + 0.6 * (smooth - grey)
    ramp = np.clip(below / max(4.0, 0.03 * h), 0.0, 1.0)[..., None]
    shadow = 1.0 - BODY_SHADOW * np.clip(below / max(8.0, 0.25 * h), 0.0, 1.0)[..., None]
    blended = (pixels * (1.0 - ramp) + smooth * ramp) * shadow
    return np.clip(np.rint(blended), 0, 255).astype(np.uint8)


def _extend_matte(alpha: np.ndarray, below: np.ndarray) -> np.ndarray:
    """Below the photo, the body's outline goes straight down from the photo's last row,
    fading into the backdrop over BODY_FADE of the height (a vignetted bust)."""
    under = below > 0
    if not under.any():
        return alpha
    h, _ = alpha.shape
    first = np.where(under.any(axis=0), under.argmax(axis=0), h)  # first row below, per column
    edge_row = np.clip(first - 1, 0, h - 1)
    edge = alpha[edge_row, np.arange(alpha.shape[1])]
    fade = np.clip(1.0 - below / max(8.0, BODY_FADE * h), 0.0, 1.0)
    fade = fade * fade * (3.0 - 2.0 * fade)
    extended = np.where(under, edge[None, :] * fade, alpha)
    return cv2.GaussianBlur(extended, (0, 0), sigmaX=1.0).astype(np.float32) * under + \
        alpha * ~under


def _matrix(*, pivot: tuple[float, float], roll: float, scale: float,
            place: list[float]) -> np.ndarray:
    """Source to output: level the eyes about ``pivot``, scale, and move it to ``place``."""
    angle = math.radians(roll)
    cos, sin = math.cos(angle) * scale, math.sin(angle) * scale
    # Rotation that levels the eyes (image y points down).
    linear = np.array([[cos, sin], [-sin, cos]])
    offset = np.array(place) - linear @ np.array(pivot)
    return np.hstack([linear, offset[:, None]]).astype(np.float64)


def _map_box(face: Face, matrix: np.ndarray, prescale: float) -> tuple[float, float, float,
                                                                       float]:
    corners = np.array([[face.left, face.top], [face.right, face.top],
                        [face.left, face.bottom], [face.right, face.bottom]]) * prescale
    mapped = corners @ matrix[:, :2].T + matrix[:, 2]
    return (mapped[:, 0].min(), mapped[:, 1].min(), mapped[:, 0].max(), mapped[:, 1].max())


def _closest_face(faces: list[Face], expected: tuple[float, float, float, float]) -> Face | None:
    ex, ey = (expected[0] + expected[2]) / 2, (expected[1] + expected[3]) / 2
    size = expected[2] - expected[0]
    near = [f for f in faces
            if math.dist(((f.left + f.right) / 2, (f.top + f.bottom) / 2), (ex, ey)) < size]
    return min(near, key=lambda f: math.dist(((f.left + f.right) / 2, (f.top + f.bottom) / 2),
                                             (ex, ey))) if near else None


# --- matte ---------------------------------------------------------------------------------


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


# --- colour --------------------------------------------------------------------------------


def _white_balance(linear: np.ndarray, alpha: np.ndarray) -> np.ndarray:
    """Shades-of-grey (p=6) illuminant estimate over the frame, half strength, clipped."""
    small = cv2.resize(linear, (128, 128), interpolation=cv2.INTER_AREA).reshape(-1, 3)
    usable = (small.max(axis=1) < 0.95) & (small.mean(axis=1) > 0.01)
    if usable.sum() < 100:
        return linear
    norms = np.mean(small[usable].astype(np.float64) ** 6, axis=0) ** (1 / 6)
    gains = norms.mean() / np.maximum(norms, 1e-6)
    gains = np.clip(np.sqrt(gains), 1 - WB_MAX_GAIN, 1 + WB_MAX_GAIN)
    gains /= np.dot(gains, [0.2126, 0.7152, 0.0722])  # keep luminance
    del alpha
    return linear * gains.astype(np.float32)


def _expose(linear: np.ndarray, face_box: tuple[float, float, float, float]) -> np.ndarray:
    """Scale the light so the face's mean L* falls in FACE_LIGHTNESS_BAND (±0.5 stop max)."""
    left, top, right, bottom = face_box
    h, w = linear.shape[:2]
    fw, fh = right - left, bottom - top
    # The cheeks, nose and forehead: the box's centre, away from hair and background.
    x0, x1 = int(max(0, left + 0.25 * fw)), int(min(w, right - 0.25 * fw))
    y0, y1 = int(max(0, top + 0.2 * fh)), int(min(h, bottom - 0.25 * fh))
    if x1 - x0 < 4 or y1 - y0 < 4:
        return linear
    patch = linear[y0:y1, x0:x1].reshape(-1, 3)
    luminance = float(np.mean(patch @ np.array([0.2126, 0.7152, 0.0722], dtype=np.float32)))
    lightness = 116 * np.cbrt(max(luminance, 1e-6)) - 16
    lo, hi = FACE_LIGHTNESS_BAND
    if lo <= lightness <= hi:
        return linear
    target = lo if lightness < lo else hi
    wanted = ((target + 16) / 116) ** 3
    gain = float(np.clip(wanted / max(luminance, 1e-6), 2**-EXPOSURE_MAX_STOPS,
                         2**EXPOSURE_MAX_STOPS))
    out = linear * gain
    if gain > 1:
        # Roll highlights off rather than clip them.
        knee = 0.8
        over = out > knee
        out[over] = knee + (1 - knee) * np.tanh((out[over] - knee) / (1 - knee))
    return out


def _backdrop(look: LookSpec, out_w: int, out_h: int, *,
              centre: tuple[float, float]) -> np.ndarray:
    """The look's colour, lit from behind the head: darker towards the corners (linear RGB)."""
    base = np.array(look.backdrop_rgb, dtype=np.float64)
    lab = srgb_to_lab(base)
    lightness = float(lab[0])
    corner_de = VIGNETTE_CORNER_DE_LIGHT if lightness > 85 else VIGNETTE_CORNER_DE
    # dE2000 of a pure lightness change is dL*/S_L.
    l50 = (lightness - 50) ** 2
    s_l = 1 + 0.015 * l50 / math.sqrt(20 + l50)
    drop = corner_de * s_l
    cx = centre[0]
    cy = min(centre[1], out_h * 0.45)
    ys, xs = np.mgrid[0:out_h, 0:out_w].astype(np.float32)
    far = max(math.hypot(cx, cy), math.hypot(out_w - cx, cy), math.hypot(cx, out_h - cy),
              math.hypot(out_w - cx, out_h - cy))
    r2 = ((xs - cx) ** 2 + (ys - cy) ** 2) / (far * far)
    # L* -> relative luminance factor: Y ∝ ((L* + 16) / 116)^3 (exact above L* 8).
    factor = ((np.maximum(lightness - drop * r2, 8.0) + 16) / (lightness + 16)) ** 3
    return srgb_to_linear(base).astype(np.float32) * factor[..., None]


def _composite(linear: np.ndarray, alpha: np.ndarray, backdrop: np.ndarray, *,
               continued: np.ndarray) -> np.ndarray:
    """alpha*F + (1 - alpha)*new (linear light), F the person's own colour at the edge.

    F comes from blur-fusion foreground estimation (Forte & Pitié, "Approximate Fast
    Foreground Colour Estimation", ICIP 2021): the old background's colour leaves the soft
    edge with it (no halo or fringe), and where alpha is 0 the backdrop is exactly the new
    one. Where the body was ``continued`` below the photo, F is the pixel itself.
    """
    h, w = alpha.shape
    long_side = max(h, w)
    foreground, blurred_bg = _blur_fusion(linear, linear, linear, alpha,
                                          max(3, round(0.09 * long_side)))
    foreground, _ = _blur_fusion(linear, foreground, blurred_bg, alpha,
                                 max(3, round(0.006 * long_side)))
    if continued.any():
        foreground = np.where(continued[..., None], linear, foreground)
    a = alpha[..., None]
    return np.clip(a * foreground + (1.0 - a) * backdrop, 0.0, 1.0)


def _blur_fusion(image: np.ndarray, fg: np.ndarray, bg: np.ndarray, alpha: np.ndarray,
                 radius: int) -> tuple[np.ndarray, np.ndarray]:
    """One blur-fusion step: local means of person and background, corrected by the pixel."""
    k = (radius, radius)
    a = alpha[..., None]
    blurred_alpha = cv2.blur(alpha, k)[..., None]
    blurred_fg = cv2.blur(fg * a, k) / (blurred_alpha + 1e-5)
    blurred_bg = cv2.blur(bg * (1.0 - a), k) / ((1.0 - blurred_alpha) + 1e-5)
    estimate = blurred_fg + a * (image - a * blurred_fg - (1.0 - a) * blurred_bg)
    return np.clip(estimate, 0.0, 1.0), blurred_bg
