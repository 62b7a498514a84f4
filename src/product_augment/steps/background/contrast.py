"""Random colours under the contrast rule: at least `min_delta_e` (CIEDE2000) from every palette
colour with a share >= `min_share`, drawn as batches of candidates in CIE LCh (always the same amount
of randomness), the first that passes winning, else the farthest."""
from __future__ import annotations

import cv2
import numpy as np

from ...ops.color import lab_to_srgb, lch_to_lab, linear_to_srgb, min_delta_e, srgb_to_lab, srgb_to_linear
from ...sample import Sample


def palette_lab(sample: Sample, min_share: float) -> np.ndarray:
    """Lab (K×3) of the palette colours that the contrast rule protects; empty without a palette."""
    if not sample.palette:
        return np.zeros((0, 3))
    return np.array([c.lab for c in sample.palette if c.share >= min_share]).reshape(-1, 3)


def contrasting_color(rng: np.random.Generator, pal: np.ndarray, min_de: float,
                      lightness: tuple[float, float], chroma: tuple[float, float],
                      n: int = 64) -> tuple[tuple[int, int, int], float]:
    """An sRGB colour at least `min_de` from every palette colour, and its distance.

    Always consumes the same amount of randomness (two batches of n candidates), so later draws do
    not depend on which candidate passed. Fallback: the farthest of the wide batch, black and white."""
    lab = lch_to_lab(rng.uniform(*lightness, n), rng.uniform(*chroma, n), rng.uniform(0, 360, n))
    # a second batch over the whole lightness range, used only when the first has no passing
    # colour (e.g. a light grey product and a light-only range): drawn always, for determinism
    wide = lch_to_lab(rng.uniform(8, 98, n), rng.uniform(0, max(chroma[1], 45), n), rng.uniform(0, 360, n))
    rgb, de, passed = _first_passing(lab_to_srgb(lab), pal, min_de)
    if passed:
        return rgb, de
    # from the wide batch, the passing colour whose lightness is nearest the configured range
    wide_rgb = lab_to_srgb(wide)
    wide_l = srgb_to_lab(wide_rgb)[:, 0]
    off_range = np.maximum(lightness[0] - wide_l, 0) + np.maximum(wide_l - lightness[1], 0)
    rgb, de, _ = _first_passing(wide_rgb[np.argsort(off_range, kind="stable")], pal, min_de)
    return rgb, de


def _first_passing(rgb: np.ndarray, pal: np.ndarray, min_de: float
                   ) -> tuple[tuple[int, int, int], float, bool]:
    """The first candidate that passes the rule, else the farthest of candidates, white and black;
    with its distance and whether a candidate passed."""
    rgb = np.concatenate([rgb.reshape(-1, 3), [[255, 255, 255], [0, 0, 0]]]).astype(np.uint8)
    d = min_delta_e(srgb_to_lab(rgb), pal)
    ok = np.flatnonzero(d[:-2] >= min_de)
    i = int(ok[0]) if ok.size else int(np.argmax(d))
    return tuple(int(v) for v in rgb[i]), float(min(d[i], 1e6)), bool(ok.size)


def _mean_rgb(img: np.ndarray) -> np.ndarray:
    """Mean colour in linear light, back to sRGB 0..255 (what the eye averages)."""
    small = cv2.resize(img, (64, 64), interpolation=cv2.INTER_AREA)
    return linear_to_srgb(srgb_to_linear(small).reshape(-1, 3).mean(axis=0)) * 255.0
