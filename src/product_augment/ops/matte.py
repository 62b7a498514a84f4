"""Matte refinement and colour decontamination: pure OpenCV/numpy kernels, no randomness."""
from __future__ import annotations

import cv2
import numpy as np

OPAQUE = 0.98  # alpha at or above this counts as "fully product" when estimating edge colours


def _disc(radius: int) -> np.ndarray:
    return cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * radius + 1, 2 * radius + 1))


def erode_matte(alpha: np.ndarray, px: int) -> np.ndarray:
    """Shrink a float matte by `px` pixels (a disc-shaped grey-level erosion)."""
    if px <= 0:
        return alpha
    # replicate: a product cut by the frame edge is not eroded from that edge
    return cv2.erode(alpha, _disc(int(px)), borderType=cv2.BORDER_REPLICATE)


def feather_matte(alpha: np.ndarray, px: float) -> np.ndarray:
    """Soften a matte edge over roughly `px` pixels (Gaussian, sigma = px / 2)."""
    if px <= 0:
        return alpha
    sigma = float(px) / 2.0
    k = 2 * int(np.ceil(2.5 * sigma)) + 1
    return cv2.GaussianBlur(alpha, (k, k), sigma, borderType=cv2.BORDER_REPLICATE)


def refine_matte(alpha: np.ndarray, erode: int = 0, feather: float = 0.0) -> np.ndarray:
    """Erode then feather; values stay in [0, 1] and dtype float32."""
    out = np.ascontiguousarray(alpha, dtype=np.float32)
    out = erode_matte(out, erode)
    out = feather_matte(out, feather)
    return np.clip(out, 0.0, 1.0, out=out)


def _box_sums(integral: np.ndarray, ys: np.ndarray, xs: np.ndarray, r: int) -> np.ndarray:
    """Sums over the (2r+1)² windows centred at (ys, xs), clipped to the image, from an integral image."""
    h, w = integral.shape[0] - 1, integral.shape[1] - 1
    y0, y1 = np.clip(ys - r, 0, h), np.clip(ys + r + 1, 0, h)
    x0, x1 = np.clip(xs - r, 0, w), np.clip(xs + r + 1, 0, w)
    return integral[y1, x1] - integral[y0, x1] - integral[y1, x0] + integral[y0, x0]


def decontaminate(image: np.ndarray, alpha: np.ndarray, radius: int = 6) -> np.ndarray:
    """Foreground colour estimate F with the old background removed from the matte's edge.

    At pixels with 0 < alpha < OPAQUE the observed colour mixes product and old background, so it
    would fringe on a new background. There F becomes the mean colour of the opaque pixels within
    `radius` (a box window; 2× and 4× the radius where none is that near; unchanged if none at
    all). Opaque and fully transparent pixels are returned unchanged. Window sums come from integral
    images evaluated only at the edge pixels, so the cost is a few ms for a 1024² matte.
    """
    out = image.copy()
    edge = (alpha > 0.0) & (alpha < OPAQUE)
    ys, xs = np.nonzero(edge)
    if ys.size == 0:
        return out
    opaque = (alpha >= OPAQUE).view(np.uint8)
    masked = cv2.bitwise_and(image, image, mask=opaque)
    sums = [cv2.integral(c, sdepth=cv2.CV_32S) for c in cv2.split(masked)]
    counts = cv2.integral(opaque, sdepth=cv2.CV_32S)
    todo = np.arange(ys.size)
    for r in (int(radius), 2 * int(radius), 4 * int(radius)):
        n = _box_sums(counts, ys[todo], xs[todo], r)
        hit = n > 0
        if hit.any():
            idx = todo[hit]
            est = np.stack([_box_sums(s, ys[idx], xs[idx], r) for s in sums], axis=-1)
            out[ys[idx], xs[idx]] = np.rint(est / n[hit, None]).astype(np.uint8)
            todo = todo[~hit]
        if todo.size == 0:
            break
    return out


def _box_mean(x: np.ndarray, r: int) -> np.ndarray:
    return cv2.boxFilter(x, -1, (2 * r + 1, 2 * r + 1), normalize=True, borderType=cv2.BORDER_REFLECT)


class GuidedFilter:
    """Edge-aware smoothing of mattes guided by an image (He, Sun & Tang's guided filter, grey guide).

    Each output is locally an affine function of the guide's intensity, q = a·I + b, fitted to the
    input matte p over (2r+1)² windows with ridge `eps`; where the guide has an edge, a soft or
    misplaced matte edge snaps to it, and where the guide is flat the matte is just smoothed. The
    guide statistics are computed once, so refining several mattes of one image costs four box
    filters each. ``subsample`` > 1 fits a, b on a grid that much coarser and upsamples them (the
    "fast guided filter"), which keeps the cost of large photos near that of a ~512 px image.
    """

    def __init__(self, guide: np.ndarray, radius: int, eps: float = 1e-3, subsample: int = 1) -> None:
        if guide.ndim == 3:
            guide = cv2.cvtColor(np.ascontiguousarray(guide), cv2.COLOR_RGB2GRAY)
        full = guide.astype(np.float32) / (255.0 if guide.dtype == np.uint8 else 1.0)
        self.shape = full.shape
        self.full = full
        self.s = max(1, int(subsample))
        self.r = max(1, round(radius / self.s))
        self.eps = float(eps)
        self.small_shape = (max(1, self.shape[1] // self.s), max(1, self.shape[0] // self.s))  # cv2 (w, h)
        small = self._down(full)
        self.I = small
        self.mean_I = _box_mean(small, self.r)
        self.var_I = _box_mean(small * small, self.r) - self.mean_I * self.mean_I

    def _down(self, x: np.ndarray) -> np.ndarray:
        if self.s == 1:
            return x
        return cv2.resize(x, self.small_shape, interpolation=cv2.INTER_AREA)

    def __call__(self, p: np.ndarray) -> np.ndarray:
        """Filter one float matte (H×W, the guide's size); returns float32 clipped to [0, 1]."""
        if p.shape != self.shape:
            raise ValueError(f"matte shape {p.shape} differs from the guide's {self.shape}")
        ps = self._down(np.ascontiguousarray(p, dtype=np.float32))
        mean_p = _box_mean(ps, self.r)
        cov = _box_mean(self.I * ps, self.r) - self.mean_I * mean_p
        a = cov / (self.var_I + self.eps)
        b = mean_p - a * self.mean_I
        mean_a, mean_b = _box_mean(a, self.r), _box_mean(b, self.r)
        if self.s > 1:
            size = (self.shape[1], self.shape[0])
            mean_a = cv2.resize(mean_a, size, interpolation=cv2.INTER_LINEAR)
            mean_b = cv2.resize(mean_b, size, interpolation=cv2.INTER_LINEAR)
        q = mean_a * self.full + mean_b
        return np.clip(q, 0.0, 1.0, out=q)
