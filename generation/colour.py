"""Colour science in plain numpy: sRGB to CIELAB (D65) and the CIEDE2000 colour difference.

``delta_e_2000`` follows Sharma, Wu and Dalal, "The CIEDE2000 Color-Difference Formula:
Implementation Notes, Supplementary Test Data, and Mathematical Observations" (2005),
including their notes on hue angles at the 0/360 boundary and on neutral colours.
Both functions broadcast over leading axes, so whole images or lists of colours work.
"""

from __future__ import annotations

import numpy as np

# D65 reference white (CIE 1931 2°), XYZ scaled so Y = 1.
D65_WHITE = np.array([0.95047, 1.0, 1.08883])

# Linear sRGB to XYZ (IEC 61966-2-1, D65).
_SRGB_TO_XYZ = np.array([
    [0.4124564, 0.3575761, 0.1804375],
    [0.2126729, 0.7151522, 0.0721750],
    [0.0193339, 0.1191920, 0.9503041],
])


def srgb_to_linear(rgb: np.ndarray, *, scale: float = 255.0) -> np.ndarray:
    """Gamma-encoded sRGB (0..``scale``) to linear light (0..1)."""
    rgb = np.asarray(rgb)
    if rgb.dtype == np.uint8 and scale == 255.0:
        # Pixels: a look-up of the same numbers (the power is most of a whole image's cost).
        return _UINT8_TO_LINEAR[rgb]
    return _to_linear(rgb.astype(np.float64, copy=False) / scale)


def _to_linear(c: np.ndarray) -> np.ndarray:
    return np.where(c <= 0.04045, c / 12.92, ((c + 0.055) / 1.055) ** 2.4)


_UINT8_TO_LINEAR = _to_linear(np.arange(256, dtype=np.float64) / 255.0)


def linear_to_srgb(linear: np.ndarray, *, scale: float = 255.0) -> np.ndarray:
    """Linear light (0..1) to gamma-encoded sRGB (0..``scale``), not rounded or clipped.

    float32 in stays float32 (for whole images); anything else is computed in float64."""
    c = np.clip(np.asarray(linear), 0.0, None)
    if c.dtype != np.float32:
        c = c.astype(np.float64)
    return scale * np.where(c <= 0.0031308, c * 12.92, 1.055 * c ** (1 / 2.4) - 0.055)


def srgb_to_lab(rgb: np.ndarray, *, scale: float = 255.0) -> np.ndarray:
    """sRGB colours to CIELAB (D65), shape ``(..., 3)`` in and out.

    Values are read on the 0..``scale`` range whatever the dtype: uint8 pixels and the
    float means of uint8 pixels both work as they are. Pass ``scale=1.0`` for 0..1 floats.
    """
    linear = srgb_to_linear(rgb, scale=scale)
    xyz = linear @ _SRGB_TO_XYZ.T
    t = xyz / D65_WHITE
    delta = 6 / 29
    f = np.where(t > delta**3, np.cbrt(t), t / (3 * delta**2) + 4 / 29)
    lightness = 116 * f[..., 1] - 16
    a = 500 * (f[..., 0] - f[..., 1])
    b = 200 * (f[..., 1] - f[..., 2])
    return np.stack([lightness, a, b], axis=-1)


def hex_to_rgb(value: str) -> tuple[int, int, int]:
    """``"#RRGGBB"`` to an (r, g, b) tuple of ints."""
    value = value.lstrip("#")
    return (int(value[0:2], 16), int(value[2:4], 16), int(value[4:6], 16))


def delta_e_2000(lab1: np.ndarray, lab2: np.ndarray, *, k_l: float = 1.0, k_c: float = 1.0,
                 k_h: float = 1.0) -> np.ndarray:
    """CIEDE2000 difference between CIELAB colours, shape ``(..., 3)``; broadcasts.

    Returns a float array of the broadcast leading shape (a 0-d array for two colours;
    ``float()`` it for a plain number).
    """
    lab1 = np.asarray(lab1, dtype=np.float64)
    lab2 = np.asarray(lab2, dtype=np.float64)
    l1, a1, b1 = lab1[..., 0], lab1[..., 1], lab1[..., 2]
    l2, a2, b2 = lab2[..., 0], lab2[..., 1], lab2[..., 2]

    c1 = np.hypot(a1, b1)
    c2 = np.hypot(a2, b2)
    c_mean = (c1 + c2) / 2
    c_mean7 = c_mean**7
    g = 0.5 * (1 - np.sqrt(c_mean7 / (c_mean7 + 25.0**7)))
    a1p = (1 + g) * a1
    a2p = (1 + g) * a2
    c1p = np.hypot(a1p, b1)
    c2p = np.hypot(a2p, b2)
    # Hue angles in degrees, 0..360; a neutral colour's hue is 0 by convention.
    h1p = np.where((a1p == 0) & (b1 == 0), 0.0, np.degrees(np.arctan2(b1, a1p)) % 360)
    h2p = np.where((a2p == 0) & (b2 == 0), 0.0, np.degrees(np.arctan2(b2, a2p)) % 360)

    d_lp = l2 - l1
    d_cp = c2p - c1p
    chroma_product = c1p * c2p
    dh = h2p - h1p
    dh = np.where(dh > 180, dh - 360, dh)
    dh = np.where(dh < -180, dh + 360, dh)
    dh = np.where(chroma_product == 0, 0.0, dh)
    d_hp = 2 * np.sqrt(chroma_product) * np.sin(np.radians(dh) / 2)

    l_mean = (l1 + l2) / 2
    cp_mean = (c1p + c2p) / 2
    h_sum = h1p + h2p
    h_mean = np.where(
        np.abs(h1p - h2p) <= 180, h_sum / 2,
        np.where(h_sum < 360, (h_sum + 360) / 2, (h_sum - 360) / 2),
    )
    h_mean = np.where(chroma_product == 0, h_sum, h_mean)

    t = (1 - 0.17 * np.cos(np.radians(h_mean - 30)) + 0.24 * np.cos(np.radians(2 * h_mean))
         + 0.32 * np.cos(np.radians(3 * h_mean + 6)) - 0.20 * np.cos(np.radians(4 * h_mean - 63)))
    d_theta = 30 * np.exp(-(((h_mean - 275) / 25) ** 2))
    cp_mean7 = cp_mean**7
    r_c = 2 * np.sqrt(cp_mean7 / (cp_mean7 + 25.0**7))
    l50 = (l_mean - 50) ** 2
    s_l = 1 + 0.015 * l50 / np.sqrt(20 + l50)
    s_c = 1 + 0.045 * cp_mean
    s_h = 1 + 0.015 * cp_mean * t
    r_t = -np.sin(np.radians(2 * d_theta)) * r_c

    term_l = d_lp / (k_l * s_l)
    term_c = d_cp / (k_c * s_c)
    term_h = d_hp / (k_h * s_h)
    return np.sqrt(term_l**2 + term_c**2 + term_h**2 + r_t * term_c * term_h)
