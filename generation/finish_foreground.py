"""The person's own colour under the matte, for the finish (``generation.finish``): blur-fusion
foreground estimation, then the old background's tint taken out of the person's outer zone.

Apart from the finish so that each stays readable: this is the part that decides how hair
and edges look on the new backdrop (no halo, no spill), and the finish only composites it.
"""

from __future__ import annotations

import cv2
import numpy as np

from generation.finish_light import LUMA, channels3

DESPILL_DEPTH = 0.04  # of the long side: how far into the person the old tint is removed
DESPILL_MAX = 0.6  # the most of a pixel taken as old background
DESPILL_SEPARATION = 0.01  # squared chromaticity distance at which the hue is trusted


def foreground_estimate(linear: np.ndarray, alpha: np.ndarray) -> np.ndarray:
    """The person's own colour F at every pixel, without the old background's.

    Blur-fusion foreground estimation (Forte & Pitié, "Approximate Fast Foreground Colour
    Estimation", ICIP 2021; pymatting's estimator does the same at several times the cost
    and needs numba): a wide pass at quarter resolution, a narrow one at half, and the
    per-pixel correction at full resolution. Where alpha is 1, F is the pixel itself.
    """
    h, w = alpha.shape
    long_side = max(h, w)
    quarter = (max(1, w // 4), max(1, h // 4))
    half = (max(1, w // 2), max(1, h // 2))
    linear_q = cv2.resize(linear, quarter, interpolation=cv2.INTER_AREA)
    alpha_q = cv2.resize(alpha, quarter, interpolation=cv2.INTER_AREA)
    fg_q, bg_q = _blur_means(linear_q, linear_q, alpha_q, max(3, round(0.09 * long_side / 4)))
    linear_h = cv2.resize(linear, half, interpolation=cv2.INTER_AREA)
    alpha_h = cv2.resize(alpha, half, interpolation=cv2.INTER_AREA)
    wide_fg = cv2.resize(fg_q, half, interpolation=cv2.INTER_LINEAR)
    wide_bg = cv2.resize(bg_q, half, interpolation=cv2.INTER_LINEAR)
    fg_h = _blur_fusion_step(linear_h, channels3(alpha_h), wide_fg, wide_bg)
    fg_h, bg_h = _blur_means(fg_h, wide_bg, alpha_h, max(2, round(0.006 * long_side / 2)))
    blurred_fg = cv2.resize(fg_h, (w, h), interpolation=cv2.INTER_LINEAR)
    blurred_bg = cv2.resize(bg_h, (w, h), interpolation=cv2.INTER_LINEAR)
    foreground = _blur_fusion_step(linear, channels3(alpha), blurred_fg, blurred_bg)
    return _despill(foreground, alpha, person=cv2.resize(fg_q, (w, h), cv2.INTER_LINEAR),
                    background=cv2.resize(bg_q, (w, h), cv2.INTER_LINEAR))


def _blur_fusion_step(image: np.ndarray, a: np.ndarray, fg: np.ndarray,
                      bg: np.ndarray) -> np.ndarray:
    """clip(F + a (I - a F - (1 - a) B), 0, 1): the per-pixel correction of blur fusion,
    in place in two buffers (each fresh full-frame array costs its page faults)."""
    out = a * fg
    np.subtract(image, out, out=out)
    rest = 1.0 - a
    rest *= bg
    out -= rest
    out *= a
    out += fg
    return np.clip(out, 0.0, 1.0, out=out)


def _despill(foreground: np.ndarray, alpha: np.ndarray, *, person: np.ndarray,
             background: np.ndarray) -> np.ndarray:
    """Take the old background's tint out of the person's outer zone (hair most of all).

    Where the matte says person but the old background shows through (fine hair, a
    translucent edge), the pixel is a mix of the person's local colour and the old
    background's. Its chromaticity tells how much: the share along the line from the
    person's local chromaticity to the background's is removed (at most DESPILL_MAX),
    only where those two differ in hue, and only near the person's edge.
    """
    h, w = alpha.shape
    half = (max(1, w // 2), max(1, h // 2))
    inside = (cv2.resize(alpha, half, interpolation=cv2.INTER_AREA) >= 0.5).astype(np.uint8)
    depth = cv2.distanceTransform(inside, cv2.DIST_L2, 3) * 2.0
    zone = np.clip(1.0 - depth / (DESPILL_DEPTH * max(h, w)), 0.0, 1.0)
    zone = cv2.resize(zone * inside, (w, h), interpolation=cv2.INTER_LINEAR)
    near = zone > 0
    # Outside the zone (most of the frame) nothing is taken out: the steps below leave
    # F·T/(T + 1e-4) there, T the channel sum (and darken a luminance under 1e-5, a sixth
    # of the encoder's first step), so that, directly; the full estimate on the zone's
    # pixels only, gathered as channel planes (numpy's reductions over a last axis of 3
    # cost ten times an elementwise pass).
    total = channels3(cv2.transform(foreground, np.ones((1, 3), np.float32)))
    out = foreground / (total + np.float32(1e-4)) * total
    index = np.flatnonzero(near)  # one index for every gather (a boolean mask redoes it)
    if len(index):
        planes = [np.ascontiguousarray(x.reshape(-1, 3).take(index, axis=0).T)
                  for x in (foreground, person, background)]
        cleaned = _despill_pixels(*planes, zone=zone.reshape(-1).take(index))
        out.reshape(-1, 3)[index] = cleaned.T
    return np.clip(out, 0.0, 1.0, out=out)


def _despill_pixels(f: np.ndarray, p: np.ndarray, b: np.ndarray, *,
                    zone: np.ndarray) -> np.ndarray:
    """``_despill`` on gathered pixels: foreground ``f``, person ``p`` and background ``b``
    colours as (3, N) planes, ``zone`` (N,); the cleaned colours as (3, N)."""

    def chroma(rgb: np.ndarray) -> np.ndarray:
        return rgb / (rgb[0] + rgb[1] + rgb[2] + np.float32(1e-4))

    c, cp, cb = chroma(f), chroma(p), chroma(b)
    towards = cb - cp

    def along(x: np.ndarray) -> np.ndarray:
        return x[0] * towards[0] + x[1] * towards[1] + x[2] * towards[2]

    separation = along(towards)
    share = along(c - cp) / (separation + np.float32(1e-6))
    # Trust it as far as the background's hue stands apart from the person's.
    trust = np.clip(separation / DESPILL_SEPARATION, 0.0, 1.0)
    u = np.clip(share, 0.0, 1.0) * trust * zone
    # The chromaticity share u is not the mixing share t in light: a bright background
    # moves the hue more per part mixed in. With sums s: t = u sP / (u sP + (1 - u) sB).
    s_p, s_b = p[0] + p[1] + p[2], b[0] + b[1] + b[2]
    t = u * s_p / (u * s_p + (1.0 - u) * s_b + np.float32(1e-6))
    # Never take out more of a channel than the pixel has (a dark strand would turn to the
    # background's complement), and never more than DESPILL_MAX.
    ratio = f / np.maximum(b, np.float32(1e-4))
    room = np.minimum(np.minimum(ratio[0], ratio[1]), ratio[2])
    t = np.clip(np.minimum(t, 0.8 * room), 0.0, DESPILL_MAX)
    cleaned = (f - t * b) / (1.0 - t)
    # Keep the pixel's lightness: only the tint goes.
    before = _luma(f)
    cleaned = np.maximum(cleaned, 0.0)
    cleaned *= before / np.maximum(_luma(cleaned), np.float32(1e-5))
    # Where the matte is too thin (opaque hair taken as half background), the estimate
    # overshoots into the background's complement (green turns magenta): no hue may lie
    # beyond the person's own, away from the background.
    total = cleaned[0] + cleaned[1] + cleaned[2]
    c = cleaned / (total + np.float32(1e-4))
    beyond = np.minimum(along(c - cp) / (separation + np.float32(1e-6)), 0.0)
    return np.maximum(c - (beyond * trust * zone) * towards, 0.0) * total


def _luma(rgb: np.ndarray) -> np.ndarray:
    """Relative luminance of channel planes (3, ...) (as ``pixels @ LUMA``, in float32)."""
    return rgb[0] * LUMA[0] + rgb[1] * LUMA[1] + rgb[2] * LUMA[2]


def _blur_means(fg: np.ndarray, bg: np.ndarray, alpha: np.ndarray,
                radius: int) -> tuple[np.ndarray, np.ndarray]:
    k = (radius, radius)
    a = channels3(alpha)
    blurred_alpha = channels3(cv2.blur(alpha, k))
    blurred_fg = cv2.blur(fg * a, k) / (blurred_alpha + 1e-5)
    blurred_bg = cv2.blur(bg * (1.0 - a), k) / ((1.0 - blurred_alpha) + 1e-5)
    return blurred_fg, blurred_bg
