"""Harmonization: the product relit like its new scene, the way a retoucher matches a pasted product
to a room: the same white balance and exposure as the light that falls on the scene.

Classical and cheap (a von Kries adaptation, no learning): the light of each picture is estimated
from its brightest surfaces (a high percentile of each channel in linear light, "white patch",
which is more robust than the grey-world mean when a background is coloured or dark), on the input
photo's background for the light the product was shot in and on the new plate for the scene's.
The product's linear colour is multiplied by the ratio of the two, per channel: `strength` moves it
part of the way (0 = unchanged, 1 = the full ratio), and the ratio is bounded (`max_stops` of
exposure, `max_cast` of colour shift per channel), since a percentile cannot tell a dark room from
a dark floor.
"""
from __future__ import annotations

import cv2
import numpy as np

from .color import linear_to_srgb, srgb_to_linear

PERCENTILE = 95.0
MIN_PIXELS = 64
SAMPLE = 40000  # pixels a light estimate looks at (a regular grid)


def light_estimate(rgb: np.ndarray, mask: np.ndarray | None = None, percentile: float = PERCENTILE
                   ) -> np.ndarray | None:
    """Per-channel `percentile` of the linear colour where `mask` is true (all pixels if None);
    None when fewer than MIN_PIXELS pixels are there."""
    # a regular subsample of about SAMPLE pixels is as good for a percentile, and fast
    k = max(1, int(np.sqrt(rgb.shape[0] * rgb.shape[1] / SAMPLE)))
    sub = rgb[::k, ::k]
    px = (sub if mask is None else sub[mask[::k, ::k]]).reshape(-1, 3)
    if px.shape[0] < MIN_PIXELS:
        return None
    return np.percentile(srgb_to_linear(px), percentile, axis=0).astype(np.float32)


def gains(source: np.ndarray, target: np.ndarray, strength: float, max_stops: float = 1.0,
          max_cast: float = 0.25) -> np.ndarray:
    """Per-channel multipliers (linear light) that move a product lit by `source` towards `target`."""
    eps = 1e-4
    lum = np.array([0.2126, 0.7152, 0.0722], np.float32)
    s_l, t_l = max(float(source @ lum), eps), max(float(target @ lum), eps)
    exposure = np.clip(np.log2(t_l / s_l), -max_stops, max_stops)
    cast = np.clip((np.maximum(target, eps) / t_l) / (np.maximum(source, eps) / s_l), 1 - max_cast, 1 + max_cast)
    return (2.0 ** (strength * exposure) * cast ** strength).astype(np.float32)


def apply_gains(rgb: np.ndarray, g: np.ndarray) -> np.ndarray:
    """sRGB uint8 colour multiplied by `g` in linear light, back to sRGB uint8 (one 256-entry table
    per channel: the same values as converting every pixel)."""
    levels = srgb_to_linear(np.arange(256, dtype=np.uint8)[:, None].repeat(3, 1))  # 256×3
    table = np.clip(np.round(linear_to_srgb(np.clip(levels * g[None, :], 0.0, 1.0)) * 255.0), 0, 255).astype(np.uint8)
    return cv2.LUT(np.ascontiguousarray(rgb), table[None, :, :])
