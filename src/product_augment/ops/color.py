"""sRGB ↔ CIELAB (D65, 2° observer) and the CIEDE2000 colour difference, vectorised.

Conventions: sRGB is either uint8 (0..255) or float (0..1); Lab is float with L in [0, 100].
All functions broadcast over leading axes (the last axis holds the three channels).
"""
from __future__ import annotations

import numpy as np

# sRGB primaries → CIE XYZ for the D65 white point (IEC 61966-2-1).
_RGB_TO_XYZ = np.array([
    [0.4124564, 0.3575761, 0.1804375],
    [0.2126729, 0.7151522, 0.0721750],
    [0.0193339, 0.1191920, 0.9503041],
])
_XYZ_TO_RGB = np.linalg.inv(_RGB_TO_XYZ)
_WHITE_D65 = np.array([0.95047, 1.0, 1.08883])
_EPS = (6.0 / 29.0) ** 3
_KAPPA = 3.0 * (6.0 / 29.0) ** 2


def _srgb_decode(c: np.ndarray) -> np.ndarray:
    return np.where(c <= 0.04045, c / 12.92, ((c + 0.055) / 1.055) ** 2.4)


def _srgb_encode(c: np.ndarray) -> np.ndarray:
    c = np.clip(c, 0.0, 1.0)
    return np.where(c <= 0.0031308, 12.92 * c, 1.055 * c ** (1.0 / 2.4) - 0.055)


# uint8 inputs are linearised with a 256-entry table: exact and ~10x faster than the power law.
_DECODE_LUT = _srgb_decode(np.arange(256) / 255.0)


def srgb_to_linear(rgb: np.ndarray) -> np.ndarray:
    """Linear-light RGB in [0, 1] (float64) from uint8 or float sRGB."""
    rgb = np.asarray(rgb)
    if rgb.dtype == np.uint8:
        return _DECODE_LUT[rgb]
    return _srgb_decode(rgb.astype(np.float64))


def linear_to_srgb(lin: np.ndarray) -> np.ndarray:
    """sRGB in [0, 1] (float64) from linear-light RGB (clipped to [0, 1])."""
    return _srgb_encode(np.asarray(lin, dtype=np.float64))


def srgb_to_lab(rgb: np.ndarray) -> np.ndarray:
    """CIELAB (float64, ...×3) of sRGB colours given as uint8 0..255 or float 0..1."""
    xyz = srgb_to_linear(rgb) @ _RGB_TO_XYZ.T / _WHITE_D65
    f = np.where(xyz > _EPS, np.cbrt(xyz), xyz / _KAPPA + 4.0 / 29.0)
    lab = np.empty_like(f)
    lab[..., 0] = 116.0 * f[..., 1] - 16.0
    lab[..., 1] = 500.0 * (f[..., 0] - f[..., 1])
    lab[..., 2] = 200.0 * (f[..., 1] - f[..., 2])
    return lab


def lab_to_srgb(lab: np.ndarray, as_uint8: bool = True) -> np.ndarray:
    """sRGB of CIELAB colours; out-of-gamut values are clipped. uint8 by default, else float 0..1."""
    lab = np.asarray(lab, dtype=np.float64)
    fy = (lab[..., 0] + 16.0) / 116.0
    f = np.stack([fy + lab[..., 1] / 500.0, fy, fy - lab[..., 2] / 200.0], axis=-1)
    xyz = np.where(f > 6.0 / 29.0, f ** 3, _KAPPA * (f - 4.0 / 29.0)) * _WHITE_D65
    rgb = _srgb_encode(xyz @ _XYZ_TO_RGB.T)
    if as_uint8:
        return np.rint(rgb * 255.0).astype(np.uint8)
    return rgb


def delta_e_2000(lab1: np.ndarray, lab2: np.ndarray) -> np.ndarray:
    """CIEDE2000 colour difference (kL = kC = kH = 1) between broadcastable Lab arrays.

    Follows Sharma, Wu & Dalal (2005), "The CIEDE2000 color-difference formula: implementation
    notes, supplementary test data, and mathematical observations", including their notes on hue
    angles of achromatic colours and the mean hue across the 0/360 boundary.
    """
    lab1 = np.asarray(lab1, dtype=np.float64)
    lab2 = np.asarray(lab2, dtype=np.float64)
    L1, a1, b1 = lab1[..., 0], lab1[..., 1], lab1[..., 2]
    L2, a2, b2 = lab2[..., 0], lab2[..., 1], lab2[..., 2]

    c_mean7 = ((np.hypot(a1, b1) + np.hypot(a2, b2)) / 2.0) ** 7
    g = 0.5 * (1.0 - np.sqrt(c_mean7 / (c_mean7 + 25.0 ** 7)))
    a1p, a2p = (1.0 + g) * a1, (1.0 + g) * a2
    c1p, c2p = np.hypot(a1p, b1), np.hypot(a2p, b2)
    # atan2(0, 0) is 0 in numpy, which is the convention the paper asks for.
    h1p = np.degrees(np.arctan2(b1, a1p)) % 360.0
    h2p = np.degrees(np.arctan2(b2, a2p)) % 360.0

    chroma_zero = (c1p * c2p) == 0.0
    dh = h2p - h1p
    dh = np.where(dh > 180.0, dh - 360.0, np.where(dh < -180.0, dh + 360.0, dh))
    dh = np.where(chroma_zero, 0.0, dh)
    d_lp = L2 - L1
    d_cp = c2p - c1p
    d_hp = 2.0 * np.sqrt(c1p * c2p) * np.sin(np.radians(dh) / 2.0)

    l_mean = (L1 + L2) / 2.0
    c_mean = (c1p + c2p) / 2.0
    h_sum = h1p + h2p
    h_mean = np.where(np.abs(h1p - h2p) <= 180.0, h_sum / 2.0,
                      np.where(h_sum < 360.0, (h_sum + 360.0) / 2.0, (h_sum - 360.0) / 2.0))
    h_mean = np.where(chroma_zero, h_sum, h_mean)

    hr = np.radians(h_mean)
    t = (1.0 - 0.17 * np.cos(hr - np.radians(30.0)) + 0.24 * np.cos(2.0 * hr)
         + 0.32 * np.cos(3.0 * hr + np.radians(6.0)) - 0.20 * np.cos(4.0 * hr - np.radians(63.0)))
    d_theta = 30.0 * np.exp(-(((h_mean - 275.0) / 25.0) ** 2))
    c_mean7p = c_mean ** 7
    r_c = 2.0 * np.sqrt(c_mean7p / (c_mean7p + 25.0 ** 7))
    l50 = (l_mean - 50.0) ** 2
    s_l = 1.0 + 0.015 * l50 / np.sqrt(20.0 + l50)
    s_c = 1.0 + 0.045 * c_mean
    s_h = 1.0 + 0.015 * c_mean * t
    r_t = -np.sin(np.radians(2.0 * d_theta)) * r_c

    tl, tc, th = d_lp / s_l, d_cp / s_c, d_hp / s_h
    return np.sqrt(np.maximum(tl * tl + tc * tc + th * th + r_t * tc * th, 0.0))


def min_delta_e(candidates_lab: np.ndarray, palette_lab: np.ndarray) -> np.ndarray:
    """For each candidate colour (N×3), its smallest CIEDE2000 distance to any palette colour (K×3).

    An empty palette gives +inf (no constraint)."""
    candidates_lab = np.asarray(candidates_lab, dtype=np.float64).reshape(-1, 3)
    palette_lab = np.asarray(palette_lab, dtype=np.float64).reshape(-1, 3)
    if palette_lab.shape[0] == 0:
        return np.full(candidates_lab.shape[0], np.inf)
    return delta_e_2000(candidates_lab[:, None, :], palette_lab[None, :, :]).min(axis=1)


def lch_to_lab(lightness: np.ndarray, chroma: np.ndarray, hue_deg: np.ndarray) -> np.ndarray:
    """CIELAB from lightness, chroma and hue angle in degrees."""
    h = np.radians(hue_deg)
    parts = np.broadcast_arrays(lightness, chroma * np.cos(h), chroma * np.sin(h))
    return np.stack(parts, axis=-1).astype(np.float64)
