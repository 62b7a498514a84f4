"""Several products in one picture: each one's own part of the matte, and their layers merged."""
from __future__ import annotations

import cv2
import numpy as np

from .footprint import Layer


def split_products(alpha: np.ndarray, masks: list[np.ndarray], grow: int = 3) -> list[np.ndarray]:
    """One matte per free-standing product, so each gets its own contact line.

    Each mask is grown by `grow` px (to keep the soft edge of `alpha`); masks that then touch are
    one product (a cup on its saucer, a chair split into seat and legs) and share a matte.
    Empty masks are dropped.
    """
    h, w = alpha.shape
    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * grow + 1, 2 * grow + 1))
    grown: list[tuple[tuple[int, int, int, int], np.ndarray]] = []   # (x0, y0, x1, y1), region
    for mask in masks:
        mask = np.ascontiguousarray(mask > 0)
        x, y, bw, bh = cv2.boundingRect(mask.view(np.uint8))
        if bw == 0 or bh == 0:
            continue
        x0, y0, x1, y1 = max(0, x - grow), max(0, y - grow), min(w, x + bw + grow), min(h, y + bh + grow)
        region = cv2.dilate(np.ascontiguousarray(mask[y0:y1, x0:x1]).view(np.uint8), kernel)
        grown.append(((x0, y0, x1, y1), region.view(bool)))
    group = list(range(len(grown)))

    def root(i: int) -> int:
        while group[i] != i:
            i = group[i]
        return i

    for i, ((ax0, ay0, ax1, ay1), ra) in enumerate(grown):
        for j in range(i + 1, len(grown)):
            (bx0, by0, bx1, by1), rb = grown[j]
            ix0, iy0, ix1, iy1 = max(ax0, bx0), max(ay0, by0), min(ax1, bx1), min(ay1, by1)
            if ix0 >= ix1 or iy0 >= iy1:
                continue
            a_part = ra[iy0 - ay0:iy1 - ay0, ix0 - ax0:ix1 - ax0]
            b_part = rb[iy0 - by0:iy1 - by0, ix0 - bx0:ix1 - bx0]
            if (a_part & b_part).any():
                group[root(j)] = root(i)
    parts: dict[int, np.ndarray] = {}
    for i, ((x0, y0, x1, y1), region) in enumerate(grown):
        part = parts.setdefault(root(i), np.zeros((h, w), dtype=np.float32))
        np.maximum(part[y0:y1, x0:x1], alpha[y0:y1, x0:x1] * region, out=part[y0:y1, x0:x1])
    return list(parts.values())


def merge_layers(layers: list[Layer]) -> Layer:
    """Several products' layers as one: strengths combine like stacked shadows (1 - Π(1 - s)) and
    reflection colours stack front to back."""
    layers = [lay for lay in layers if lay.matte.size]
    if len(layers) <= 1:
        return layers[0] if layers else Layer(np.zeros((0, 0), np.float32), None, 0, 0)
    y0 = min(lay.y0 for lay in layers)
    x0 = min(lay.x0 for lay in layers)
    y1 = max(lay.y0 + lay.matte.shape[0] for lay in layers)
    x1 = max(lay.x0 + lay.matte.shape[1] for lay in layers)
    matte = np.zeros((y1 - y0, x1 - x0), np.float32)
    color = None if layers[0].color is None else np.zeros((y1 - y0, x1 - x0, 3), np.float32)
    for lay in layers:
        h, w = lay.matte.shape
        sl = (slice(lay.y0 - y0, lay.y0 - y0 + h), slice(lay.x0 - x0, lay.x0 - x0 + w))
        below = 1.0 - matte[sl]
        if color is not None and lay.color is not None:
            color[sl] += below[..., None] * lay.color
        matte[sl] += below * lay.matte
    return Layer(matte, color, y0, x0)
