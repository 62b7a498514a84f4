"""Variable-radius Gaussian blur: each row of an image blurred by its own radius.

Soft shadows and glossy reflections blur more the further they are from the contact line. One
Gaussian per radius would be far too slow, so `variable_blur_rows` splits the rows between a few
blur levels (1, 2, 4, ... px), blurs each level once (the wide ones on a downscaled copy) and sums
them. Pure numpy/OpenCV, no randomness.
"""
from __future__ import annotations

import math

import cv2
import numpy as np


def _stack_sigmas(max_sigma: float) -> list[float]:
    """Blur levels 0, 1, 2, 4, ... px up to the first one at or above `max_sigma`."""
    sig = [0.0]
    s = 1.0
    while sig[-1] < max_sigma:
        sig.append(s)
        s *= 2.0
    return sig


def _pow2_below(x: float) -> int:
    """The largest power of two at or below x (at least 1)."""
    return 1 << max(0, math.floor(math.log2(x))) if x >= 1 else 1


def _gaussian_blur_fast(img: np.ndarray, sx: float, sy: float) -> np.ndarray:
    """Zero-padded Gaussian blur by (sx, sy) px, done at a reduced size when the radius is large.

    The image is area-averaged by power-of-two factors that leave a 2-4 px blur to do at the small
    size, then bilinearly upsampled; the variance the averaging and the upsampling add is
    subtracted, so the result is close to a true Gaussian of that size.
    """
    h, w = img.shape[:2]
    fx, fy = _pow2_below(sx / 2.0), _pow2_below(sy / 2.0)
    if fx == 1 and fy == 1:
        return cv2.GaussianBlur(img, (0, 0), sigmaX=max(sx, 1e-3), sigmaY=max(sy, 1e-3),
                                borderType=cv2.BORDER_CONSTANT)
    # Pad to whole blocks so block i covers pixels [i*f, (i+1)*f) exactly.
    hp, wp = -(-h // fy) * fy, -(-w // fx) * fx
    if (hp, wp) != (h, w):
        pad = np.zeros((hp, wp) + img.shape[2:], dtype=img.dtype)
        pad[:h, :w] = img
        img = pad
    small = cv2.resize(img, (wp // fx, hp // fy), interpolation=cv2.INTER_AREA)

    def rest(s: float, f: int) -> float:
        added = (f * f - 1) / 12.0 + (f * f / 6.0 if f > 1 else 0.0)
        return math.sqrt(max(s * s - added, 0.25 * f * f)) / f

    small = cv2.GaussianBlur(small, (0, 0), sigmaX=rest(sx, fx), sigmaY=rest(sy, fy),
                             borderType=cv2.BORDER_CONSTANT)
    # Full-size pixel x sits at block coordinate (x + 0.5) / f - 0.5, which is exactly how resize
    # maps an integer upscale (and much faster than the equivalent warpAffine).
    return cv2.resize(small, (wp, hp), interpolation=cv2.INTER_LINEAR)[:h, :w]


def variable_blur_rows(img: np.ndarray, sigma_rows: np.ndarray, vertical: float = 1.0) -> np.ndarray:
    """Blur the content of each row of `img` (H×W or H×W×C float32) by its own radius `sigma_rows[y]`.

    Each row's content is split between the two stack levels that bracket its radius (linearly in
    sigma), every level is blurred once as a whole and the levels are summed, divided by the
    weight each row receives so a flat area stays flat. Content is spread by the radius of the row
    it comes from, so a strongly blurred row bleeds into sharper neighbours instead of being cut
    off at them; an empty row's own weight still dilutes what it receives, so give rows without
    content the radius of the content they border (as `drop_shadow` does beyond the contact line).
    `vertical` scales the vertical radius (a floor seen at a low angle foreshortens its blur).
    Outside the image counts as zero; a row with radius 0 beyond the reach of blurred rows comes
    back unchanged.
    """
    sigma_rows = np.asarray(sigma_rows, dtype=np.float32)
    h = img.shape[0]
    if h == 0 or float(sigma_rows.max(initial=0.0)) <= 0:
        return img.copy()
    sig = _stack_sigmas(float(sigma_rows.max()))
    levels = np.asarray(sig, dtype=np.float32)
    idx = np.clip(np.searchsorted(levels, sigma_rows, side="right") - 1, 0, len(sig) - 2)
    t = np.clip((sigma_rows - levels[idx]) / (levels[idx + 1] - levels[idx]), 0.0, 1.0)
    shape = (-1,) + (1,) * (img.ndim - 1)
    out = np.zeros_like(img)
    # How much weight each row receives in total; dividing by it keeps a flat area flat where
    # blurred rows spill into sharp ones (a plain scatter would pile up there).
    total = np.zeros(h, dtype=np.float32)
    for k, s in enumerate(sig):
        weight = (np.where(idx == k, 1.0 - t, 0.0) + np.where(idx == k - 1, t, 0.0)).astype(np.float32)
        rows = np.flatnonzero(weight > 0)
        if rows.size == 0:
            continue
        r0, r1 = int(rows[0]), int(rows[-1]) + 1
        band = img[r0:r1] * weight[r0:r1].reshape(shape)
        if s <= 0:
            out[r0:r1] += band
            total[r0:r1] += weight[r0:r1]
            continue
        sy = max(s * vertical, 0.3)
        reach = math.ceil(3 * sy) + 1
        o0, o1 = max(0, r0 - reach), min(h, r1 + reach)
        padded = np.zeros((o1 - o0,) + img.shape[1:], dtype=np.float32)
        padded[r0 - o0:r1 - o0] = band
        out[o0:o1] += _gaussian_blur_fast(padded, s, sy)
        col = np.zeros((o1 - o0, 1), dtype=np.float32)
        col[r0 - o0:r1 - o0, 0] = weight[r0:r1]
        total[o0:o1] += cv2.GaussianBlur(col, (1, 2 * reach + 1), sigmaX=0, sigmaY=sy,
                                         borderType=cv2.BORDER_CONSTANT)[:, 0]
    out /= np.maximum(total, 1e-6).reshape(shape)
    return out
