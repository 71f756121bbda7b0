"""Person segmentation with MediaPipe's selfie segmentation model, read from the wheel's files.

The model (``selfie_segmentation.tflite``, 256×256, Apache-2.0) ships inside the
``mediapipe==0.10.21`` wheel; later releases ship no model files. It is loaded from a
local path (the ``SEGMENTATION_MODEL_PATH`` setting when set, else the installed wheel)
and never from the network. The model's coarse confidence map is upsampled and then
refined with a colour guided filter (He et al., 2010) so that the matte follows the
photo's own edges: hair and shoulders keep a soft, natural boundary instead of a
cut-out look.
"""

from __future__ import annotations

import importlib.util
import os
import threading
import warnings
from pathlib import Path

import cv2
import numpy as np
from django.conf import settings
from PIL import Image

MODEL_SIDE = 256  # the general selfie model's square input
# The head passes: square side in face-box heights, and whether the view is mirrored.
HEAD_VIEWS = ((2.4, False), (2.4, True), (3.0, False))
PRIOR_CENTRE = 0.6  # model confidence taken as the edge (the model runs a little wide)
PRIOR_SOFTNESS = 0.3  # width of the model-confidence ramp kept as soft edge
SURE_PERSON_DEPTH = 0.025  # sure person: this far (of the long side) inside the model's
SURE_BACKGROUND_DEPTH = 0.008  # ...and sure background this far outside
COLOUR_SEPARATION = 0.01  # squared RGB distance at which colour and model count equally
VARIANCE_WEIGHT = 2.0
COLOUR_ONLY_REMOVES = False
FINAL_EPS = 1e-4  # the last, small guided filter: lower keeps finer hair detail
_MODEL_IN_WHEEL = Path("modules") / "selfie_segmentation" / "selfie_segmentation.tflite"

_lock = threading.Lock()
_segmenters: dict[tuple[int, str], object] = {}


def segmentation_model_path() -> Path:
    """The .tflite file: ``settings.SEGMENTATION_MODEL_PATH`` if set, else mediapipe's own."""
    configured = getattr(settings, "SEGMENTATION_MODEL_PATH", "")
    if configured:
        path = Path(configured)
    else:
        # Found without importing mediapipe (its import takes a second or more).
        spec = importlib.util.find_spec("mediapipe")
        if spec is None or not spec.submodule_search_locations:
            raise RuntimeError(
                "Segmentation model not found: install mediapipe==0.10.21 "
                "(pip install --no-deps mediapipe==0.10.21) or set SEGMENTATION_MODEL_PATH."
            )
        path = Path(next(iter(spec.submodule_search_locations))) / _MODEL_IN_WHEEL
    if not path.is_file():
        raise RuntimeError(f"Segmentation model file {path} does not exist.")
    return path


def _segmenter():
    """One ImageSegmenter per process and model path (never shared across a fork)."""
    path = str(segmentation_model_path())
    key = (os.getpid(), path)
    segmenter = _segmenters.get(key)
    if segmenter is None:
        with warnings.catch_warnings():
            # protobuf 4 warns about an API mediapipe uses internally.
            warnings.simplefilter("ignore", UserWarning)
            from mediapipe.tasks.python import BaseOptions
            from mediapipe.tasks.python.vision import ImageSegmenter, ImageSegmenterOptions

            options = ImageSegmenterOptions(
                base_options=BaseOptions(model_asset_path=path),
                output_confidence_masks=True, output_category_mask=False,
            )
            segmenter = ImageSegmenter.create_from_options(options)
        _segmenters[key] = segmenter
    return segmenter


def model_confidence(rgb: np.ndarray, *, resize: bool = True) -> np.ndarray:
    """The model's raw person confidence for an RGB uint8 array, at MODEL_SIDE² (float32).

    The image is stretched to the model's square input (``resize=False``: it already is).
    """
    import mediapipe as mp

    small = cv2.resize(rgb, (MODEL_SIDE, MODEL_SIDE), interpolation=cv2.INTER_AREA) if resize \
        else rgb
    frame = mp.Image(image_format=mp.ImageFormat.SRGB, data=np.ascontiguousarray(small))
    with _lock:
        result = _segmenter().segment(frame)
        confidence = np.array(result.confidence_masks[0].numpy_view(), dtype=np.float32)
    return np.clip(confidence.reshape(MODEL_SIDE, MODEL_SIDE), 0.0, 1.0)


def guided_filter(guide: np.ndarray, src: np.ndarray, *, radius: int, eps: float,
                  subsample: int = 1) -> np.ndarray:
    """Colour guided filter of ``src`` (HxW float32) steered by ``guide`` (HxWx3, 0..1).

    With ``subsample`` > 1 it is the fast guided filter (He & Sun, 2015): coefficients
    are computed at a lower resolution and upsampled, which keeps the edges.
    """
    h, w = src.shape
    if subsample > 1:
        size = (max(1, w // subsample), max(1, h // subsample))
        guide_s = cv2.resize(guide, size, interpolation=cv2.INTER_AREA)
        src_s = cv2.resize(src, size, interpolation=cv2.INTER_AREA)
        radius_s = max(1, radius // subsample)
    else:
        guide_s, src_s, radius_s = guide, src, radius
    k = (2 * radius_s + 1, 2 * radius_s + 1)

    def box(x: np.ndarray) -> np.ndarray:
        return cv2.boxFilter(x, -1, k, borderType=cv2.BORDER_REFLECT)

    mean_i = box(guide_s)  # h, w, 3
    mean_p = box(src_s)
    mean_ip = box(guide_s * src_s[..., None])
    cov_ip = mean_ip - mean_i * mean_p[..., None]
    # Covariance of the guide: 3x3 per pixel (symmetric, six distinct terms).
    products = np.stack([guide_s[..., i] * guide_s[..., j]
                         for i, j in ((0, 0), (0, 1), (0, 2), (1, 1), (1, 2), (2, 2))], axis=-1)
    mean_prod = box(products)
    terms = {}
    for n, (i, j) in enumerate(((0, 0), (0, 1), (0, 2), (1, 1), (1, 2), (2, 2))):
        terms[i, j] = terms[j, i] = mean_prod[..., n] - mean_i[..., i] * mean_i[..., j]
    # Solve (sigma + eps I) a = cov_ip per pixel, by the 3x3 inverse's cofactors.
    s00, s01, s02 = terms[0, 0] + eps, terms[0, 1], terms[0, 2]
    s11, s12, s22 = terms[1, 1] + eps, terms[1, 2], terms[2, 2] + eps
    c00 = s11 * s22 - s12 * s12
    c01 = s02 * s12 - s01 * s22
    c02 = s01 * s12 - s02 * s11
    c11 = s00 * s22 - s02 * s02
    c12 = s01 * s02 - s00 * s12
    c22 = s00 * s11 - s01 * s01
    det = s00 * c00 + s01 * c01 + s02 * c02
    inv_det = 1.0 / np.where(np.abs(det) < 1e-12, 1e-12, det)
    v0, v1, v2 = cov_ip[..., 0], cov_ip[..., 1], cov_ip[..., 2]
    a = np.stack([(c00 * v0 + c01 * v1 + c02 * v2) * inv_det,
                  (c01 * v0 + c11 * v1 + c12 * v2) * inv_det,
                  (c02 * v0 + c12 * v1 + c22 * v2) * inv_det], axis=-1)
    b = mean_p - np.einsum("hwc,hwc->hw", a, mean_i)
    mean_a = box(a)
    mean_b = box(b)
    if subsample > 1:
        mean_a = cv2.resize(mean_a, (w, h), interpolation=cv2.INTER_LINEAR)
        mean_b = cv2.resize(mean_b, (w, h), interpolation=cv2.INTER_LINEAR)
    return np.einsum("hwc,hwc->hw", mean_a, guide) + mean_b


def _blurred_mean(pixels: np.ndarray, weight: np.ndarray, sigma: float, *, variance: bool):
    """Gaussian normalised convolution: weighted local mean and variance of ``pixels``
    (HxWx3; variance summed over channels, or None) and the blurred weight. Wider blurs
    run at a half or a quarter of the resolution."""
    h, w = weight.shape
    factor = 4 if sigma > 12 else (2 if sigma > 5 else 1)
    if min(h, w) < 64:
        factor = 1
    if factor > 1:
        size = (max(1, w // factor), max(1, h // factor))
        pixels = cv2.resize(pixels, size, interpolation=cv2.INTER_AREA)
        weight = cv2.resize(weight, size, interpolation=cv2.INTER_AREA)
        sigma /= factor
    blurred_weight = cv2.GaussianBlur(weight, (0, 0), sigmaX=sigma)
    norm = np.maximum(blurred_weight, 1e-6)[..., None]
    weighted = pixels * weight[..., None]
    mean = cv2.GaussianBlur(weighted, (0, 0), sigmaX=sigma) / norm
    spread = None
    if variance:
        square = cv2.GaussianBlur(weighted * pixels, (0, 0), sigmaX=sigma) / norm
        spread = np.maximum(np.sum(square - mean * mean, axis=-1), 0.0)
    if factor > 1:
        mean = cv2.resize(mean, (w, h), interpolation=cv2.INTER_LINEAR)
        if spread is not None:
            spread = cv2.resize(spread, (w, h), interpolation=cv2.INTER_LINEAR)
        blurred_weight = cv2.resize(blurred_weight, (w, h), interpolation=cv2.INTER_LINEAR)
    return mean, spread, blurred_weight


def local_colour(pixels: np.ndarray, weight: np.ndarray, sigmas: tuple[float, ...], *,
                 variance: bool = True) -> tuple[np.ndarray, np.ndarray | None]:
    """The colour of the ``weight``-ed pixels nearest each pixel, and its local variance.

    Normalised convolutions from the widest ``sigma`` to the narrowest, each overriding
    the wider one where it has enough weighted pixels nearby: the estimate is as local as
    the pixels allow and defined everywhere.
    """
    mean = spread = None
    for sigma in sorted(sigmas, reverse=True):
        m, v, reach = _blurred_mean(pixels, weight, sigma, variance=variance)
        if mean is None:
            mean, spread = m, v
            continue
        share = np.clip(reach / 0.15, 0.0, 1.0)
        mean = share[..., None] * m + (1.0 - share[..., None]) * mean
        if variance:
            spread = share * v + (1.0 - share) * spread
    return mean, spread


def _square_confidence(rgb: np.ndarray, square: tuple[float, float, float], *, flip: bool,
                       size: tuple[int, int]) -> np.ndarray:
    """The model's confidence for a square (x0, y0, side) of ``rgb``, drawn at ``size``."""
    h, w = rgb.shape[:2]
    x0, y0, side = square
    prescale = min(1.0, 2 * MODEL_SIDE / side)
    source = rgb if prescale == 1.0 else cv2.resize(
        rgb, None, fx=prescale, fy=prescale, interpolation=cv2.INTER_AREA)
    k = MODEL_SIDE / side
    # Crop by warping (the square may leave the frame; edge pixels fill it).
    to_crop = np.array([[k / prescale, 0, -x0 * k], [0, k / prescale, -y0 * k]])
    if flip:
        to_crop[0] = -to_crop[0]
        to_crop[0, 2] += MODEL_SIDE - 1
    crop = cv2.warpAffine(source, to_crop, (MODEL_SIDE, MODEL_SIDE), flags=cv2.INTER_LINEAR,
                          borderMode=cv2.BORDER_REPLICATE)
    confidence = model_confidence(crop, resize=False)
    if flip:
        confidence = np.ascontiguousarray(confidence[:, ::-1])
    out_w, out_h = size
    sx, sy = out_w / w, out_h / h
    back = np.array([[side / MODEL_SIDE * sx, 0, x0 * sx], [0, side / MODEL_SIDE * sy, y0 * sy]])
    return cv2.warpAffine(confidence, back, (out_w, out_h), flags=cv2.INTER_LINEAR,
                          borderMode=cv2.BORDER_CONSTANT, borderValue=0)


def _head_confidence(rgb: np.ndarray, focus: tuple[float, float, float, float],
                     size: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
    """A closer look at the head alone, at ``size`` (w, h), with its blending weight.

    At 256 px for the whole frame, the hair's outline is a few model pixels wide; a square
    around the head gives the model several times the resolution where it matters most.
    Three views (two sizes, one mirrored) are averaged: the model's stray guesses in a
    busy background rarely agree between views, the person does.
    """
    left, top, right, bottom = focus
    face_h = bottom - top
    cx, cy = (left + right) / 2, (top + bottom) / 2 - 0.2 * face_h
    views = []
    for factor, flip in HEAD_VIEWS:
        side = max(16.0, factor * face_h)
        views.append(_square_confidence(rgb, (cx - side / 2, cy - side / 2, side), flip=flip,
                                        size=size))
    head = np.mean(views, axis=0)
    # Blend weight: 1 inside the smallest square, fading out over its outer 15 %.
    side = max(16.0, min(f for f, _ in HEAD_VIEWS) * face_h)
    edge = 0.15 * side
    h, w = rgb.shape[:2]
    out_w, out_h = size
    xs = (np.arange(out_w, dtype=np.float32) + 0.5) * w / out_w
    ys = (np.arange(out_h, dtype=np.float32) + 0.5) * h / out_h
    ramp_x = np.clip(np.minimum(xs - (cx - side / 2), (cx + side / 2) - xs) / edge, 0.0, 1.0)
    ramp_y = np.clip(np.minimum(ys - (cy - side / 2), (cy + side / 2) - ys) / edge, 0.0, 1.0)
    return head.astype(np.float32), np.minimum.outer(ramp_y, ramp_x).astype(np.float32)


def refine_mask(rgb: np.ndarray, confidence: np.ndarray, *,
                focus: tuple[float, float, float, float] | None = None) -> np.ndarray:
    """Turn the model's coarse confidence into a matte at ``rgb``'s size.

    1. at half resolution, the confidence (and, with ``focus``, the closer passes on the
       head) is split into sure person (well inside), sure background and a band between,
       and its half-sure haze is pushed to one side (``PRIOR_CENTRE``);
    2. a colour guided filter at full resolution snaps that to the photo's edges;
    3. in the band, alpha is re-estimated from colour: each pixel is projected between
       the nearest person colour and the nearest background colour, trusted as far as the
       two differ by more than each varies locally (a busy background leaves it to step 2);
    4. a small guided filter removes the speckle that step 3 leaves.
    """
    h, w = rgb.shape[:2]
    long_side = max(h, w)
    step = 2 if long_side >= 512 else 1
    size = (max(1, w // step), max(1, h // step))
    prior = cv2.resize(confidence, size, interpolation=cv2.INTER_LINEAR)
    if focus is not None:
        head, weight = _head_confidence(rgb, focus, size)
        prior = weight * head + (1.0 - weight) * prior
    prior = cv2.GaussianBlur(prior, (0, 0), sigmaX=1.0)

    def eroded(mask: np.ndarray, fraction: float) -> np.ndarray:
        k = max(3, int(max(size) * fraction)) | 1
        kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (k, k))
        small = cv2.erode(mask.astype(np.uint8), kernel)
        return cv2.resize(small, (w, h), interpolation=cv2.INTER_NEAREST) > 0

    sure_fg = eroded(prior > 0.9, SURE_PERSON_DEPTH)
    sure_bg = eroded(prior < 0.1, SURE_BACKGROUND_DEPTH)
    decided = np.clip((prior - PRIOR_CENTRE) / PRIOR_SOFTNESS + 0.5, 0.0, 1.0)
    decided = decided * decided * (3.0 - 2.0 * decided)

    guide = rgb.astype(np.float32) / 255.0
    subsample = 2 if long_side >= 512 else 1
    alpha = cv2.resize(decided, (w, h), interpolation=cv2.INTER_LINEAR)
    alpha = guided_filter(guide, alpha, radius=max(2, long_side // 256), eps=1e-3,
                          subsample=subsample)
    alpha = np.where(sure_fg, 1.0, np.where(sure_bg, 0.0, np.clip(alpha, 0.0, 1.0)))
    alpha = alpha.astype(np.float32)

    scale = long_side / 1024
    person, person_var = local_colour(guide, sure_fg.astype(np.float32),
                                      tuple(s * scale for s in (6.0, 16.0, 40.0)))
    background, background_var = local_colour(guide, (alpha < 0.05).astype(np.float32),
                                              tuple(s * scale for s in (2.5, 8.0, 24.0)))
    difference = person - background
    separation = np.sum(difference * difference, axis=-1)
    projected = np.sum((guide - background) * difference, axis=-1) / (separation + 1e-4)
    spread = COLOUR_SEPARATION + VARIANCE_WEIGHT * (person_var + background_var)
    trust = separation / (separation + spread)
    colour_alpha = trust * np.clip(projected, 0.0, 1.0) + (1.0 - trust) * alpha
    band = cv2.dilate((~sure_fg & (alpha > 0.02)).astype(np.uint8), np.ones((5, 5), np.uint8))
    if COLOUR_ONLY_REMOVES:
        colour_alpha = np.minimum(colour_alpha, alpha)
    alpha = np.where(band > 0, colour_alpha, alpha).astype(np.float32)
    alpha = guided_filter(guide, alpha, radius=max(1, round(2 * scale)), eps=FINAL_EPS,
                          subsample=1)
    return np.clip(alpha, 0.0, 1.0).astype(np.float32)


def person_mask_array(rgb: np.ndarray, *,
                      focus: tuple[float, float, float, float] | None = None) -> np.ndarray:
    """Person matte for an RGB uint8 array: float32 HxW in [0, 1].

    ``focus``, a face box (left, top, right, bottom) in ``rgb``'s pixels, adds a closer
    second pass on the head for a finer hair line.
    """
    rgb = np.ascontiguousarray(rgb[..., :3], dtype=np.uint8)
    return refine_mask(rgb, model_confidence(rgb), focus=focus)


def person_mask(image: Image.Image, *,
                focus: tuple[float, float, float, float] | None = None) -> np.ndarray:
    """Person matte for ``image``: float32 HxW in [0, 1], 1 on the person."""
    return person_mask_array(np.asarray(image.convert("RGB")), focus=focus)
