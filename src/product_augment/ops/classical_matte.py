"""Classical product matting for packshots on plain or near-plain backgrounds.

Model the background from the image border (a few colour clusters in CIELAB, so gradients and
vignetting are covered), mark pixels far from every border colour as product, clean the mask,
refine it with GrabCut, and soften the edge band from the colour distance. No randomness.
"""
from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np


@dataclass(frozen=True)
class MatteResult:
    alpha: np.ndarray | None       # H×W float32 in [0, 1]; None when no product was found
    reason: str                    # why no product was found ("" on success)
    border_spread: float           # how uniform the border is (ΔE units, lower = plainer)


def _lab(img_rgb: np.ndarray) -> np.ndarray:
    return cv2.cvtColor(img_rgb.astype(np.float32) / 255.0, cv2.COLOR_RGB2LAB)


def border_distance(lab: np.ndarray, band: int, n_colors: int = 3
                    ) -> tuple[np.ndarray, float, np.ndarray]:
    """Per-pixel CIELAB distance to the nearest border colour cluster, the border's spread, and
    the nearest cluster centre per pixel (H×W×3)."""
    h, w = lab.shape[:2]
    border = np.concatenate([lab[:band].reshape(-1, 3), lab[-band:].reshape(-1, 3),
                             lab[:, :band].reshape(-1, 3), lab[:, -band:].reshape(-1, 3)])
    border = border[:: max(1, len(border) // 4000)].astype(np.float32)
    k = min(n_colors, len(border))
    criteria = (cv2.TERM_CRITERIA_EPS + cv2.TERM_CRITERIA_MAX_ITER, 20, 0.5)
    cv2.setRNGSeed(0)  # cv2.kmeans with KMEANS_PP_CENTERS is deterministic once seeded
    _, labels, centers = cv2.kmeans(border, k, None, criteria, 2, cv2.KMEANS_PP_CENTERS)
    d_border = np.linalg.norm(border - centers[labels.ravel()], axis=1)
    spread = float(np.percentile(d_border, 90))
    flat = lab.reshape(-1, 1, 3)
    d_all = np.linalg.norm(flat - centers[None], axis=2)
    nearest = np.argmin(d_all, axis=1)
    dist = d_all[np.arange(len(nearest)), nearest].reshape(h, w)
    return dist.astype(np.float32), spread, centers[nearest].reshape(h, w, 3)


def cast_shadow_mask(lab: np.ndarray, bg_lab: np.ndarray, chroma_tol: float = 4.0) -> np.ndarray:
    """Pixels that look like the background in shadow: darker, same chromaticity (a*, b*)."""
    d_ab = np.linalg.norm(lab[..., 1:] - bg_lab[..., 1:], axis=-1)
    L, bgL = lab[..., 0], bg_lab[..., 0]
    return (L < bgL - 1.0) & (L > 0.4 * bgL) & (d_ab < chroma_tol + 0.05 * (bgL - L))


def classical_matte(image: np.ndarray, *, work_side: int = 512, threshold: float = 12.0,
                    min_area: float = 0.005, max_area: float = 0.95,
                    grabcut_iters: int = 4, remove_shadows: bool = False) -> MatteResult:
    """Soft product matte of a packshot, or a reason why there is no clear product.

    `remove_shadows` drops pixels that look like the backdrop in shadow (darker, same a*/b*).
    It cleans coloured products well but also removes the shaded parts of white or grey
    products, which cannot be told from a shadow by colour alone; hence off by default.
    """
    h, w = image.shape[:2]
    scale = min(1.0, work_side / max(h, w))
    small = cv2.resize(image, (max(1, round(w * scale)), max(1, round(h * scale))),
                       interpolation=cv2.INTER_AREA) if scale < 1 else image
    sh, sw = small.shape[:2]
    band = max(2, round(0.03 * min(sh, sw)))
    lab = _lab(small)
    dist, spread, bg_lab = border_distance(lab, band)
    if spread > 3 * threshold:
        return MatteResult(None, f"background is not plain (border colour spread ΔE {spread:.0f})", spread)
    thr = max(threshold, 2.5 * spread)
    shadow = cast_shadow_mask(lab, bg_lab) if remove_shadows else np.zeros(dist.shape, bool)
    fg = ((dist > thr) & ~shadow).astype(np.uint8)
    k = max(3, (min(sh, sw) // 100) | 1)
    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (k, k))
    fg = cv2.morphologyEx(fg, cv2.MORPH_CLOSE, kernel)
    fg = cv2.morphologyEx(fg, cv2.MORPH_OPEN, kernel)
    fg = _keep_main_components(fg)
    area = fg.mean()
    if area < min_area:
        return MatteResult(None, f"no product found (foreground covers {area:.1%} of the image)", spread)
    if area > max_area:
        return MatteResult(None, f"no product found (foreground covers {area:.1%}: background not "
                                 f"separable)", spread)

    gc = np.full((sh, sw), cv2.GC_PR_BGD, np.uint8)
    gc[fg > 0] = cv2.GC_PR_FGD
    gc[cv2.erode(fg, kernel, iterations=2) > 0] = cv2.GC_FGD
    gc[dist < 0.5 * thr] = cv2.GC_BGD
    gc[:band] = gc[-band:] = cv2.GC_BGD
    gc[:, :band] = gc[:, -band:] = cv2.GC_BGD
    bgd, fgd = np.zeros((1, 65), np.float64), np.zeros((1, 65), np.float64)
    cv2.setRNGSeed(0)
    try:
        cv2.grabCut(small, gc, None, bgd, fgd, grabcut_iters, cv2.GC_INIT_WITH_MASK)
        hard = np.isin(gc, (cv2.GC_FGD, cv2.GC_PR_FGD)).astype(np.uint8)
    except cv2.error:
        hard = fg
    hard = _keep_main_components(cv2.morphologyEx(hard, cv2.MORPH_CLOSE, kernel))
    if hard.mean() < min_area:
        return MatteResult(None, "no product found after refinement", spread)

    # Full-resolution soft edge: upsample the hard mask, then within a thin band let the colour
    # distance from the background decide partial coverage.
    full_hard = cv2.resize(hard.astype(np.float32), (w, h), interpolation=cv2.INTER_LINEAR)
    full_dist = cv2.resize(dist, (w, h), interpolation=cv2.INTER_LINEAR)
    soft = np.clip((full_dist - 0.5 * thr) / thr, 0.0, 1.0)
    edge_px = max(1, round(1.5 / scale)) if scale < 1 else 1
    inner = cv2.erode((full_hard > 0.5).astype(np.uint8), None, iterations=edge_px)
    outer = cv2.dilate((full_hard > 0.5).astype(np.uint8), None, iterations=edge_px)
    alpha = np.where(inner > 0, 1.0, np.where(outer > 0, np.maximum(soft, full_hard * 0.0), 0.0))
    alpha = np.where((outer > 0) & (inner == 0), np.clip(0.5 * soft + 0.5 * full_hard, 0, 1), alpha)
    return MatteResult(alpha.astype(np.float32), "", spread)


def _keep_main_components(mask: np.ndarray, min_fraction: float = 0.02) -> np.ndarray:
    """Keep connected components holding at least `min_fraction` of the foreground, fill holes."""
    n, labels, stats, _ = cv2.connectedComponentsWithStats(mask.astype(np.uint8), connectivity=8)
    if n <= 1:
        return mask.astype(np.uint8)
    areas = stats[1:, cv2.CC_STAT_AREA]
    keep = np.flatnonzero(areas >= max(areas.max() * min_fraction, 1)) + 1
    out = np.isin(labels, keep).astype(np.uint8)
    # Fill small interior holes (a highlight close to the background colour), but keep large
    # ones: a bag handle or a cup handle really does show the background through it.
    contours, _ = cv2.findContours(out, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
    filled = np.zeros_like(out)
    cv2.drawContours(filled, contours, -1, 1, thickness=cv2.FILLED)
    holes = (filled > 0) & (out == 0)
    if holes.any():
        _hn, hl, hs, _ = cv2.connectedComponentsWithStats(holes.astype(np.uint8), connectivity=4)
        small = np.flatnonzero(hs[1:, cv2.CC_STAT_AREA] < 0.02 * out.sum()) + 1
        out = out | np.isin(hl, small).astype(np.uint8)
    return out
