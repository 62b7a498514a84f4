"""Geometry: placing the product on a canvas (one affine for every aligned array) and finding free
space for a logo (largest empty rectangle on an occupancy grid). Pure functions, no randomness."""
from __future__ import annotations

import cv2
import numpy as np

from ..sample import Instance, mask_box

Affine = np.ndarray  # 2×3 float64, maps source (x, y) to canvas (x, y)


def scale_translate(scale: float, tx: float, ty: float) -> Affine:
    return np.array([[scale, 0.0, tx], [0.0, scale, ty]], dtype=np.float64)


def transformed_box(m: Affine, box: tuple[float, float, float, float]) -> tuple[float, float, float, float]:
    """xyxy box of the transformed corners of `box` (exact for scale + translation)."""
    x0, y0, x1, y1 = box
    pts = np.array([[x0, y0, 1.0], [x1, y0, 1.0], [x0, y1, 1.0], [x1, y1, 1.0]]) @ m.T
    return float(pts[:, 0].min()), float(pts[:, 1].min()), float(pts[:, 0].max()), float(pts[:, 1].max())


def roi_of(m: Affine, box: tuple[float, float, float, float], size: tuple[int, int],
           pad: int = 2) -> tuple[int, int, int, int] | None:
    """Integer canvas ROI (x0, y0, x1, y1) covering the image of `box`, padded and clipped;
    None if it falls off the canvas."""
    w, h = size
    bx0, by0, bx1, by1 = transformed_box(m, box)
    x0, y0 = max(int(np.floor(bx0)) - pad, 0), max(int(np.floor(by0)) - pad, 0)
    x1, y1 = min(int(np.ceil(bx1)) + pad, w), min(int(np.ceil(by1)) + pad, h)
    if x1 <= x0 or y1 <= y0:
        return None
    return x0, y0, x1, y1


def opencv_matrix(m: Affine) -> Affine:
    """`m` acts on continuous coordinates where pixel i spans [i, i+1) (the convention of xyxy
    boxes); OpenCV puts pixel i's centre at i. Conjugating by a half-pixel shift makes both agree,
    so a box [x0, x1) lands exactly on [m(x0), m(x1))."""
    out = np.asarray(m, dtype=np.float64).copy()
    out[:, 2] += 0.5 * out[:, :2].sum(axis=1) - 0.5
    return out


def warp_roi(src: np.ndarray, m: Affine, roi: tuple[int, int, int, int], border: int,
             interpolation: int = cv2.INTER_LINEAR) -> np.ndarray:
    """The canvas pixels inside `roi` of `src` warped by `m` (cost ∝ ROI area, not canvas area)."""
    x0, y0, x1, y1 = roi
    mr = opencv_matrix(m)
    mr[0, 2] -= x0
    mr[1, 2] -= y0
    return cv2.warpAffine(src, mr, (x1 - x0, y1 - y0), flags=interpolation, borderMode=border,
                         borderValue=0)


def warp_full(src: np.ndarray, m: Affine, size: tuple[int, int], roi_box=None,
              border: int = cv2.BORDER_CONSTANT) -> np.ndarray:
    """`src` warped onto a zero canvas of `size` = (w, h); only the ROI of `roi_box` is computed."""
    w, h = size
    out = np.zeros((h, w) + src.shape[2:], dtype=src.dtype)
    box = roi_box if roi_box is not None else (0.0, 0.0, float(src.shape[1]), float(src.shape[0]))
    roi = roi_of(m, box, size)
    if roi is not None:
        x0, y0, x1, y1 = roi
        out[y0:y1, x0:x1] = warp_roi(src, m, roi, border)
    return out


def warp_mask(mask: np.ndarray, m: Affine, size: tuple[int, int]) -> np.ndarray:
    """A boolean mask through `m`: bilinear on 0/255, kept where >= 128 (the half-coverage rule)."""
    box = mask_box(mask)
    if box[2] <= box[0]:
        return np.zeros((size[1], size[0]), dtype=bool)
    warped = warp_full(mask.view(np.uint8) * np.uint8(255), m, size, roi_box=box)
    return warped >= 128


def warp_instance(inst: Instance, m: Affine, size: tuple[int, int]) -> Instance:
    """The instance with its mask warped and its box recomputed exactly from the warped mask."""
    mask = warp_mask(inst.mask, m, size)
    return Instance(inst.class_id, mask, mask_box(mask), inst.score)


# ----------------------------------------------------------------------------------------------
# Free space for a logo


def occupancy_grid(occupied: np.ndarray, cell: int) -> np.ndarray:
    """Cells of `cell`×`cell` pixels that contain any occupied pixel; partial border cells count
    as occupied so that a free cell is entirely inside the image."""
    h, w = occupied.shape
    gh, gw = h // cell, w // cell
    occ = np.ones((gh + (h % cell > 0), gw + (w % cell > 0)), dtype=bool)
    core = occupied[: gh * cell, : gw * cell].reshape(gh, cell, gw, cell)
    occ[:gh, :gw] = core.any(axis=(1, 3))
    return occ


def dilate_grid(occ: np.ndarray, margin: float, cell: int) -> np.ndarray:
    """Grow occupied cells so every free cell is at least `margin` pixels (Euclidean) from every
    occupied pixel: cells (a, b) apart are at least (max(a-1, 0), max(b-1, 0))·cell apart."""
    if margin <= 0:
        return occ
    r = int(np.ceil(margin / cell)) + 1
    a = np.maximum(np.abs(np.arange(-r, r + 1)) - 1, 0) * cell
    kernel = ((a[:, None] ** 2 + a[None, :] ** 2) < margin ** 2).astype(np.uint8)
    return cv2.dilate(occ.view(np.uint8), kernel, borderType=cv2.BORDER_CONSTANT, borderValue=0).astype(bool)


def maximal_free_rects(occ: np.ndarray) -> np.ndarray:
    """All maximal empty rectangles of a boolean grid, as rows (x0, y0, x1, y1) in cells.

    The histogram-and-stack method: for each row as the bottom edge, the column heights of free
    cells above form a histogram; each bar popped from an increasing stack closes the widest
    rectangle of that height. O(rows × cols) with small constant; the grid is ~64 cells a side.
    """
    gh, gw = occ.shape
    heights = np.zeros(gw + 1, dtype=np.int64)  # sentinel 0 at the end flushes the stack
    out: list[tuple[int, int, int, int]] = []
    for y in range(gh):
        free = ~occ[y]
        heights[:gw] = np.where(free, heights[:gw] + 1, 0)
        hs = heights.tolist()
        stack: list[int] = []  # column indices, increasing heights
        for x in range(gw + 1):
            while stack and hs[stack[-1]] >= hs[x]:
                ht = hs[stack.pop()]
                left = stack[-1] + 1 if stack else 0
                if ht > 0 and hs[x] < ht:  # equal heights: the wider one closes later
                    out.append((left, y + 1 - ht, x, y + 1))
            stack.append(x)
    if not out:
        return np.zeros((0, 4), dtype=np.int64)
    rects = np.unique(np.asarray(out, dtype=np.int64), axis=0)
    # the stack closes rectangles that are maximal left, right and up; drop those that could
    # still grow downwards (the row below is free across their whole width)
    below = np.zeros((gh + 1, gw + 1), dtype=np.int64)
    below[:gh, 1:] = np.cumsum(occ, axis=1)
    y1 = rects[:, 3]
    row = np.minimum(y1, gh)
    blocked = (y1 >= gh) | (below[row, rects[:, 2]] - below[row, rects[:, 0]] > 0)
    return rects[blocked]


def fit_in_rects(rects: np.ndarray, aspect: float) -> np.ndarray:
    """For each rectangle (x0, y0, x1, y1), the largest width of a box of `aspect` (w/h) that fits."""
    w = rects[:, 2] - rects[:, 0]
    h = rects[:, 3] - rects[:, 1]
    return np.minimum(w.astype(np.float64), h * aspect)


CORNERS = {"top-left": (0.0, 0.0), "top-right": (1.0, 0.0), "bottom-left": (0.0, 1.0),
           "bottom-right": (1.0, 1.0), "top": (0.5, 0.0), "bottom": (0.5, 1.0), "left": (0.0, 0.5),
           "right": (1.0, 0.5), "any": (0.5, 0.5)}


def place_box(occupied: np.ndarray, aspect: float, want_w: float, min_w: float, margin: int,
              corner: str = "any", cell: int | None = None, border: int = 0,
              corner_weight: float = 0.6) -> tuple[tuple[int, int, int, int] | None, str]:
    """The box (x0, y0, x1, y1 pixels) for an overlay of `aspect` = w/h that avoids `occupied`.

    `occupied` (H×W bool) is dilated by `margin` pixels (on the grid, conservatively, so every box
    pixel is at least `margin` px from every occupied pixel); the box also stays `border` pixels
    (rounded up to cells) inside the frame.
    Each maximal free rectangle offers a width min(`want_w`, what fits) and a position pushed into
    its part nearest the preferred `corner` ("any": the nearest canvas corner); the score
    width/want_w − corner_weight × distance(box centre, corner) (in canvas fractions) trades size
    for position, so a slightly smaller overlay in the corner beats a full-size one next to the
    product. No overlay narrower than `min_w` is placed: then (None, reason) comes back. The box lies
    in free cells only, so it never touches an occupied pixel.
    """
    h, w = occupied.shape
    if cell is None:
        cell = max(4, int(np.ceil(max(h, w) / 64)))
    occ = dilate_grid(occupancy_grid(occupied, cell), margin, cell)
    b = int(np.ceil(border / cell)) if border > 0 else 0
    if b:
        occ[:b], occ[-b:], occ[:, :b], occ[:, -b:] = True, True, True, True
    rects = maximal_free_rects(occ)
    if rects.shape[0] == 0:
        return None, "no free space"
    fits = fit_in_rects(rects, aspect) * cell
    best = float(fits.max())
    if min(float(want_w), best) < min_w:
        return None, f"largest free box is {best:.0f} px wide, below the minimum {min_w:.0f} px"
    ok = fits >= min_w
    rects, widths = rects[ok], np.minimum(fits[ok], float(want_w))
    bw = np.floor(widths)
    bh = np.floor(widths / aspect)
    px0, px1 = rects[:, 0] * cell, rects[:, 2] * cell
    py0, py1 = rects[:, 1] * cell, rects[:, 3] * cell
    if corner == "any":
        targets = [(0.0, 0.0), (1.0, 0.0), (0.0, 1.0), (1.0, 1.0)]
    else:
        targets = [CORNERS[corner]]
    best_score, best_i, best_xy = -np.inf, -1, (0.0, 0.0)
    for fx, fy in targets:
        bx = px0 + fx * (px1 - px0 - bw)  # the box inside each rectangle, pushed towards the corner
        by = py0 + fy * (py1 - py0 - bh)
        dist = np.hypot((bx + bw / 2) / w - fx, (by + bh / 2) / h - fy)
        score = widths / float(want_w) - corner_weight * dist
        i = int(np.argmax(score))
        if score[i] > best_score:
            best_score, best_i, best_xy = float(score[i]), i, (bx[i], by[i])
    i = best_i
    bwi, bhi = int(bw[i]), int(bh[i])
    if bwi < 1 or bhi < 1:
        return None, "overlay would be smaller than a pixel"
    x0 = min(max(int(np.floor(best_xy[0])), int(px0[i])), int(px1[i]) - bwi)
    y0 = min(max(int(np.floor(best_xy[1])), int(py0[i])), int(py1[i]) - bhi)
    return (x0, y0, x0 + bwi, y0 + bhi), ""
