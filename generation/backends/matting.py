"""From the segmentation model's coarse confidence to a hair-level matte, on the CPU.

No matting library does this offline and fast enough: pymatting's closed-form and KNN
mattes take seconds per megapixel, its foreground estimator needs numba (a JIT compile
per worker), and learned mattes (MODNet, BackgroundMattingV2) are weights we cannot
ship. The pieces here are each a published method built from OpenCV primitives:

1. GrabCut (Rother et al., 2004; ``cv2.grabCut``) at about 320 px, seeded by the model's
   confidence, decides the ambiguous parts by colour: a sign or a poster leaning on the
   hair, that the model took for person, goes back to the background;
2. a fast colour guided filter (He et al., 2010; He & Sun, 2015) snaps that decision to
   the photo's own edges at full resolution;
3. in the band between sure person and sure background, alpha is re-estimated from
   colour: each pixel is projected between the nearest person colour and the nearest
   background colour, trusted as far as the two differ by more than each varies locally;
4. a small guided filter removes the speckle step 3 leaves.
"""

from __future__ import annotations

from collections.abc import Sequence

import cv2
import numpy as np

WORK_SIDE = 256  # long side at which GrabCut and the trimap are decided
PRIOR_CENTRE = 0.6  # model confidence taken as the edge (the model runs a little wide)
PRIOR_SOFTNESS = 0.3  # width of the model-confidence ramp kept as soft edge
GRABCUT_ITERATIONS = 3
GRABCUT_SURE_DEPTH = 0.07  # of the work size: model-sure person this deep is fixed for GrabCut
COLOUR_BINS = 12  # per channel, for the colour check of the person's outer ring
FOREIGN_RING = 0.08  # of the work size: the outer ring of the person that is checked
FOREIGN_INSIDE_MAX = 2e-3  # share of the interior (smoothed bins) below which a colour is foreign
BACKGROUND_COLOUR_RATIO = 20.0  # ...and the background shows it this many times more
GRABCUT_MIN_PRIOR = 0.3  # GrabCut may add person only where the model gave at least this
SURE_PERSON_DEPTH = 0.025  # sure person: this far (of the long side) inside the edge
SURE_BACKGROUND_DEPTH = 0.008  # ...and sure background this far outside
COLOUR_SEPARATION = 0.01  # squared RGB distance at which colour and model count equally
VARIANCE_WEIGHT = 0.5
FINAL_EPS = 1e-4  # the last, small guided filter: lower keeps finer hair detail
FINAL_SUBSAMPLE = 2
MID_SIDE = 320  # long side at which local colours are estimated (they are smooth)


def guided_filter(guide: Sequence[np.ndarray], src: np.ndarray, *, radius: int, eps: float,
                  subsample: int = 1) -> np.ndarray:
    """Colour guided filter of ``src`` (HxW float32) steered by ``guide`` (its three colour
    planes, HxW float32, 0..1).

    With ``subsample`` > 1 it is the fast guided filter (He & Sun, 2015): coefficients
    are computed at a lower resolution and upsampled, which keeps the edges. Everything is
    per plane: numpy's passes over one channel of interleaved pixels, and OpenCV's
    merging and splitting of them, cost several times the arithmetic itself.
    """
    h, w = src.shape
    if subsample > 1:
        size = (max(1, w // subsample), max(1, h // subsample))
        i0, i1, i2 = (cv2.resize(g, size, interpolation=cv2.INTER_AREA) for g in guide)
        src_s = cv2.resize(src, size, interpolation=cv2.INTER_AREA)
        radius_s = max(1, radius // subsample)
    else:
        (i0, i1, i2), src_s, radius_s = guide, src, radius
    k = (2 * radius_s + 1, 2 * radius_s + 1)

    def box(x: np.ndarray) -> np.ndarray:
        return cv2.boxFilter(x, -1, k, borderType=cv2.BORDER_REFLECT)

    # The means the filter needs: the guide (3), the source (1), guide x source (3) and
    # the guide's six distinct products (its 3x3 covariance).
    m0, m1, m2, mean_p = box(i0), box(i1), box(i2), box(src_s)
    # Solve (sigma + eps I) a = cov_ip per pixel, by the 3x3 inverse's cofactors.
    v0, v1, v2 = (box(i0 * src_s) - m0 * mean_p, box(i1 * src_s) - m1 * mean_p,
                  box(i2 * src_s) - m2 * mean_p)
    s00, s01, s02 = box(i0 * i0) - m0 * m0 + eps, box(i0 * i1) - m0 * m1, box(i0 * i2) - m0 * m2
    s11, s12 = box(i1 * i1) - m1 * m1 + eps, box(i1 * i2) - m1 * m2
    s22 = box(i2 * i2) - m2 * m2 + eps
    c00 = s11 * s22 - s12 * s12
    c01 = s02 * s12 - s01 * s22
    c02 = s01 * s12 - s02 * s11
    c11 = s00 * s22 - s02 * s02
    c12 = s01 * s02 - s00 * s12
    c22 = s00 * s11 - s01 * s01
    det = s00 * c00 + s01 * c01 + s02 * c02
    inv_det = 1.0 / np.where(np.abs(det) < 1e-12, 1e-12, det)
    a0 = (c00 * v0 + c01 * v1 + c02 * v2) * inv_det
    a1 = (c01 * v0 + c11 * v1 + c12 * v2) * inv_det
    a2 = (c02 * v0 + c12 * v1 + c22 * v2) * inv_det
    b = mean_p - a0 * m0 - a1 * m1 - a2 * m2
    coefficients = [box(x) for x in (a0, a1, a2, b)]
    if subsample > 1:
        coefficients = [cv2.resize(x, (w, h), interpolation=cv2.INTER_LINEAR)
                        for x in coefficients]
    c0, c1, c2, c3 = coefficients
    g0, g1, g2 = guide
    return c0 * g0 + c1 * g1 + c2 * g2 + c3


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
    norm = _thrice(np.maximum(blurred_weight, 1e-6))
    weighted = pixels * _thrice(weight)
    mean = cv2.GaussianBlur(weighted, (0, 0), sigmaX=sigma) / norm
    spread = None
    if variance:
        square = cv2.GaussianBlur(weighted * pixels, (0, 0), sigmaX=sigma) / norm
        square -= mean * mean
        spread = np.maximum(_channel_sum(square), 0.0)
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
        share3 = _thrice(share)
        mean = share3 * m + (1.0 - share3) * mean
        if variance:
            spread = share * v + (1.0 - share) * spread
    return mean, spread



def _thrice(plane: np.ndarray) -> np.ndarray:
    """HxW as HxWx3: numpy's broadcast of ``plane[..., None]`` over three channels costs
    about four times an elementwise pass; the products are the same."""
    return cv2.merge([plane, plane, plane])


def _channel_sum(pixels: np.ndarray) -> np.ndarray:
    """``pixels.sum(axis=-1)`` for three channels (the same sums; numpy's reduction over a
    last axis of 3 costs about ten times these two additions)."""
    return pixels[..., 0] + pixels[..., 1] + pixels[..., 2]


def _eroded(mask: np.ndarray, depth: int) -> np.ndarray:
    if depth <= 0:
        return mask
    k = 2 * depth + 1
    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (k, k))
    return cv2.erode(mask.astype(np.uint8), kernel) > 0


def grabcut_person(small: np.ndarray, prior: np.ndarray) -> np.ndarray | None:
    """GrabCut's person/background split of ``small`` (uint8 RGB), seeded by ``prior``.

    Only the model's deep interior is fixed as person and its clear outside as background;
    GrabCut decides the rest from colour and edges. None where there is too little of
    either to learn colours from.
    """
    depth = max(1, round(GRABCUT_SURE_DEPTH * max(prior.shape)))
    mask = np.where(prior >= 0.5, cv2.GC_PR_FGD, cv2.GC_PR_BGD).astype(np.uint8)
    sure_fg = _eroded(prior > 0.9, depth)
    sure_bg = _eroded(prior < 0.1, 2)
    if sure_fg.sum() < 50 or sure_bg.sum() < 50:
        return None
    mask[sure_fg] = cv2.GC_FGD
    mask[sure_bg] = cv2.GC_BGD
    background = np.zeros((1, 65), np.float64)
    foreground = np.zeros((1, 65), np.float64)
    cv2.setRNGSeed(0)  # GrabCut's GMM initialisation draws from OpenCV's RNG
    cv2.grabCut(np.ascontiguousarray(small[..., ::-1]), mask, None, background, foreground,
                GRABCUT_ITERATIONS, cv2.GC_INIT_WITH_MASK)
    person = (mask == cv2.GC_FGD) | (mask == cv2.GC_PR_FGD)
    return _drop_background_colours(small, person, sure_bg)


def _drop_background_colours(small: np.ndarray, person: np.ndarray,
                             background: np.ndarray) -> np.ndarray:
    """Take off the person's outer ring what has the background's colours and none of the
    person's: a sign's letter that GrabCut's smoothness kept attached to the head."""
    depth = max(2, round(FOREIGN_RING * max(person.shape)))
    interior = _eroded(person, depth)
    ring = person & ~interior
    if interior.sum() < 50 or not ring.any():
        return person
    bins = (small.astype(np.int32) * COLOUR_BINS) // 256
    index = (bins[..., 0] * COLOUR_BINS + bins[..., 1]) * COLOUR_BINS + bins[..., 2]
    size = COLOUR_BINS ** 3
    inside = np.bincount(index[interior], minlength=size) / interior.sum()
    outside = np.bincount(index[background], minlength=size) / max(1, background.sum())
    # Spread each histogram a little (neighbouring bins) so that shading does not count.
    inside = _smooth_bins(inside)
    outside = _smooth_bins(outside)
    # Only colours the person's interior never shows, not even nearly, and that the
    # background shows plenty of: skin in an ear's shadow stays.
    foreign = ((inside[index] < FOREIGN_INSIDE_MAX)
               & (outside[index] > BACKGROUND_COLOUR_RATIO * inside[index] + 1e-4) & ring)
    return person & ~foreign


def _smooth_bins(histogram: np.ndarray) -> np.ndarray:
    cube = histogram.reshape((COLOUR_BINS,) * 3).astype(np.float32)
    for axis in range(3):
        cube = cube + np.roll(cube, 1, axis=axis) + np.roll(cube, -1, axis=axis)
    return cube.reshape(-1)


def refine_mask(rgb: np.ndarray, prior: np.ndarray) -> np.ndarray:
    """A matte at ``rgb``'s size from the model's ``prior`` (float32, any size, 0..1)."""
    h, w = rgb.shape[:2]
    long_side = max(h, w)
    ratio = min(1.0, WORK_SIDE / long_side)
    work = (max(1, round(w * ratio)), max(1, round(h * ratio)))
    prior = cv2.resize(prior, work, interpolation=cv2.INTER_AREA if prior.shape[1] > work[0]
                       else cv2.INTER_LINEAR)
    prior = cv2.GaussianBlur(prior, (0, 0), sigmaX=0.7)
    decided = np.clip((prior - PRIOR_CENTRE) / PRIOR_SOFTNESS + 0.5, 0.0, 1.0)
    decided = decided * decided * (3.0 - 2.0 * decided)

    small = cv2.resize(rgb, work, interpolation=cv2.INTER_AREA)
    person = grabcut_person(small, prior)
    if person is not None:
        # GrabCut's edge, softened by a work pixel, is the decision; it may add person only
        # where the model half agreed (GrabCut alone can take a matching wall for a coat).
        person &= prior > GRABCUT_MIN_PRIOR
        decided = cv2.GaussianBlur(person.astype(np.float32), (0, 0), sigmaX=0.8)
    sure_fg_small = _eroded(decided > 0.95, max(1, round(SURE_PERSON_DEPTH * max(work))))
    sure_bg_small = _eroded(decided < 0.05, max(1, round(SURE_BACKGROUND_DEPTH * max(work))))

    # The photo's colour planes, 0..1, made once for both guided filters and step 3.
    guide = [rgb[..., c] * np.float32(1 / 255) for c in range(3)]
    alpha = cv2.resize(decided, (w, h), interpolation=cv2.INTER_LINEAR)
    alpha = guided_filter(guide, alpha, radius=max(2, long_side // 256), eps=1e-3,
                          subsample=max(1, long_side // 256))
    sure_fg = cv2.resize(sure_fg_small.astype(np.uint8), (w, h),
                         interpolation=cv2.INTER_NEAREST) > 0
    sure_bg = cv2.resize(sure_bg_small.astype(np.uint8), (w, h),
                         interpolation=cv2.INTER_NEAREST) > 0
    alpha = np.clip(alpha, 0.0, 1.0, out=alpha)
    alpha[sure_bg] = 0.0
    alpha[sure_fg] = 1.0  # sure person wins where both are set, as before
    alpha = _colour_alpha(guide, alpha, sure_fg)
    alpha = guided_filter(guide, alpha, radius=max(1, round(2 * long_side / 1024)),
                          eps=FINAL_EPS, subsample=FINAL_SUBSAMPLE)
    return np.clip(alpha, 0.0, 1.0).astype(np.float32)


def _colour_alpha(guide: Sequence[np.ndarray], alpha: np.ndarray,
                  sure_fg: np.ndarray) -> np.ndarray:
    """Step 3: alpha from colour in the band, with local colours estimated at MID_SIDE.
    ``guide``: the photo's colour planes (0..1)."""
    h, w = alpha.shape
    band = cv2.dilate((~sure_fg & (alpha > 0.02)).astype(np.uint8), np.ones((5, 5), np.uint8))
    ys, xs = np.nonzero(band)
    if len(ys) == 0:
        return alpha
    ratio = min(1.0, MID_SIDE / max(h, w))
    mid = (max(1, round(w * ratio)), max(1, round(h * ratio)))
    guide_m = cv2.merge([cv2.resize(g, mid, interpolation=cv2.INTER_AREA) for g in guide])
    fg_m = cv2.resize(sure_fg.astype(np.float32), mid, interpolation=cv2.INTER_AREA)
    bg_m = cv2.resize((alpha < 0.05).astype(np.float32), mid, interpolation=cv2.INTER_AREA)
    scale = max(mid) / 1024
    person, person_var = local_colour(guide_m, (fg_m > 0.99).astype(np.float32),
                                      tuple(s * scale for s in (6.0, 16.0, 40.0)))
    background, background_var = local_colour(guide_m, (bg_m > 0.99).astype(np.float32),
                                              tuple(s * scale for s in (2.5, 8.0, 24.0)))
    # Sample the smooth estimates at the band's pixels only (bilinear, full-res coords).
    # (cv2.remap takes maps under 32767 pixels a side: the band's list is folded.)
    count = len(ys)
    rows = -(-count // 1024)

    def folded(values: np.ndarray) -> np.ndarray:
        return np.pad(values.astype(np.float32), (0, rows * 1024 - count)).reshape(rows, 1024)

    map_x = folded((xs + 0.5) * (mid[0] / w) - 0.5)
    map_y = folded((ys + 0.5) * (mid[1] / h) - 0.5)

    def at_band(image: np.ndarray) -> np.ndarray:
        sampled = cv2.remap(image, map_x, map_y, cv2.INTER_LINEAR,
                            borderMode=cv2.BORDER_REPLICATE)
        return sampled.reshape(rows * 1024, *image.shape[2:])[:count]

    fg_c, bg_c = at_band(person), at_band(background)
    spread = COLOUR_SEPARATION + VARIANCE_WEIGHT * (at_band(person_var) + at_band(background_var))
    pixel = np.stack([g[ys, xs] for g in guide], axis=-1)
    difference = fg_c - bg_c
    separation = _channel_sum(difference * difference)
    projected = _channel_sum((pixel - bg_c) * difference) / (separation + 1e-4)
    trust = separation / (separation + spread)
    current = alpha[ys, xs]
    out = alpha.copy()
    out[ys, xs] = trust * np.clip(projected, 0.0, 1.0) + (1.0 - trust) * current
    return out
