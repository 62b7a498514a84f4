"""The drop shadow a light casts on the floor, with its contact shadow."""
from __future__ import annotations

import math

import cv2
import numpy as np

from ..variable_blur import variable_blur_rows
from .footprint import Footprint, Layer


def light_shear(azimuth: float, elevation: float, floor_tilt: float) -> tuple[float, float]:
    """How a point `h` px above the floor moves when cast onto it: (dx, dy) per px of height.

    azimuth: where the light comes from, degrees in the floor plane: 0 front (camera side, shadow
    falls behind the product), 90 left (shadow to the right), 180 behind (shadow towards the camera),
    -90 right. elevation: degrees above the floor (90 = overhead). floor_tilt: how much the camera
    foreshortens depth on the floor (0 = edge-on, 1 = top-down). dy < 0 means up in the image.
    """
    e = math.radians(min(max(elevation, 5.0), 89.5))
    a = math.radians(azimuth)
    length = math.cos(e) / math.sin(e)
    dx = length * math.sin(a)
    dy = -length * math.cos(a) * floor_tilt
    # Even under side light a real object's shadow has some depth on the floor.
    min_dy = 0.04
    if abs(dy) < min_dy:
        dy = -min_dy if dy <= 0 else min_dy
    return dx, dy


def _blur_1d(row: np.ndarray, sigma: float) -> np.ndarray:
    """Horizontal Gaussian blur of a 1×W row, zero outside."""
    k = 2 * math.ceil(3 * sigma) + 1
    return cv2.GaussianBlur(row, (k, 1), sigmaX=sigma, sigmaY=0, borderType=cv2.BORDER_CONSTANT)


def contact_matte(alpha: np.ndarray, fp: Footprint, line_y: int, x0: int, x1: int, y0: int, y1: int,
                  spread: float) -> np.ndarray:
    """The tight, dark ambient-occlusion shadow where the product meets the floor, in rows y0..y1.

    The product's bottom rows (2% of its height) give the footprint across the picture; it is
    widened a little, darker where the footprint is wide (more occluded), and falls off over
    `spread` px from the line (faster behind the product than in front of it).
    """
    band = max(2, round(0.02 * fp.height))
    rows = alpha[max(0, fp.base_y - band):fp.base_y, x0:x1]   # the product's own bottom rows
    if rows.size == 0:
        return np.zeros((y1 - y0, x1 - x0), dtype=np.float32)
    # Rows nearer the line count more, so a base that curves away (a bottle) thins out at the sides.
    weight = np.linspace(0.5, 1.0, rows.shape[0], dtype=np.float32)[:, None]
    foot = (rows * weight).max(axis=0).astype(np.float32)[None, :]
    near = _blur_1d(foot, max(0.8, 0.6 * spread))
    wide = _blur_1d(foot, max(2.0, 4.0 * spread))
    across = near * (0.6 + 0.4 * np.clip(wide * 1.4, 0.0, 1.0))
    d = np.arange(y0, y1, dtype=np.float32) + 0.5 - line_y
    down = np.exp(-np.maximum(d, 0.0) / max(spread, 0.5))
    up = np.exp(-np.maximum(-d, 0.0) / max(0.5 * spread, 0.5))
    return (down * up)[:, None] * across


def reach_back(matte: np.ndarray, rows: int) -> None:
    """In place: each row becomes the max of itself and the `rows` rows below it (the shadow of a
    solid reaches back as far as the solid is deep). Doubling steps: log2(rows) passes."""
    done = 1
    while done <= rows:
        step = min(done, rows + 1 - done)
        np.maximum(matte[:-step], matte[step:], out=matte[:-step])
        done += step


def footprint_width(fp: Footprint, line_y: int) -> int:
    """Width in px of the columns that reach down to the contact line (within 2% of the height)."""
    band = max(2, round(0.02 * fp.height))
    cols = np.flatnonzero(fp.bottoms >= min(line_y, fp.base_y) - band)
    return int(cols[-1] - cols[0] + 1) if cols.size else fp.box[2] - fp.box[0]


def drop_shadow(alpha: np.ndarray, fp: Footprint, line_y: int, *, azimuth: float, elevation: float,
                size: float, opacity: float, contact: float, floor_tilt: float) -> Layer:
    """Shadow strength of the product cast onto the floor by one light, plus its contact shadow.

    The silhouette is sheared and scaled about the contact line (every point moves by its height
    times `light_shear`), then blurred by a radius that grows with the height of the point that
    cast it: `size` × height px, so it is sharp at the contact and soft far away. Strength falls
    to 60% at the far end as ambient light fills the penumbra.

    A cutout has no depth, but a solid product does: its cast silhouette is smeared backwards (up)
    over half the footprint's width (at most half its height), foreshortened by `floor_tilt`, so a
    side light casts a shadow as deep as the product rather than a sliver. Open shapes (low
    `Footprint.fill`, e.g. a stool's legs) get little or none of it: their parts sit at unknown
    depths and a smear would fill the gaps between them.
    """
    h, w = alpha.shape
    dx, dy = light_shear(azimuth, elevation, floor_tilt)
    if line_y <= 0:
        return Layer(np.zeros((0, 0), np.float32), None, 0, 0)
    t = float(np.clip((fp.fill - 0.5) / 0.4, 0.0, 1.0))
    solid = t * t * (3.0 - 2.0 * t)            # smoothstep: 0 for open frames, 1 for solids
    depth = round(0.5 * min(footprint_width(fp, line_y), fp.height) * floor_tilt * solid)
    x0, y0, x1, _ = fp.box
    top_h = line_y - y0                       # height of the product's top above the line
    c = line_y - 0.5                          # the line in pixel-centre coordinates
    sigma_max = 0.5 + size * top_h
    reach = math.ceil(3 * sigma_max) + 2
    spread = max(2.0, 0.04 * fp.height)
    # Region: the cast silhouette's corners plus the blur's reach on the shadow's side of the line;
    # on the other side only the contact shadow and the (sharp) blur near the line spill over.
    far = c + dy * top_h
    near_margin = 6 * spread + 3
    xs = [x0 + dx * top_h, x1 + dx * top_h, x0, x1]
    rx0 = max(0, math.floor(min(xs)) - reach)
    rx1 = min(w, math.ceil(max(xs)) + reach + 1)
    # How far the penumbra of the cast rows spills across the line (far for side lights, where
    # rows right above the line were cast by high points and are very soft).
    vertical = max(floor_tilt, 0.25)
    across = max(near_margin, 3 * vertical * sigma_max - abs(dy) * top_h)
    if dy < 0:
        ry0, ry1 = math.floor(far - depth - reach), math.ceil(c + across) + 1
    else:
        ry0, ry1 = math.floor(c - depth - across), math.ceil(far + reach) + 1
    ry0, ry1 = max(0, ry0), min(h, ry1)
    if rx1 <= rx0 or ry1 <= ry0:
        return Layer(np.zeros((0, 0), np.float32), None, 0, 0)
    # A point h px above the line lands at (x + dx*h, c + dy*h); warp with the inverse map.
    # Only rows above the line cast: the source stops at the line.
    inv = np.array([[1.0, -dx / dy, rx0 - dx * (ry0 - c) / dy],
                    [0.0, -1.0 / dy, c - (ry0 - c) / dy]], dtype=np.float64)
    src = alpha if alpha.dtype == np.float32 else alpha.astype(np.float32)
    cast = cv2.warpAffine(src[:line_y], inv, (rx1 - rx0, ry1 - ry0),
                          flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP,
                          borderMode=cv2.BORDER_CONSTANT, borderValue=0)
    if depth >= 2:
        reach_back(cast, depth)
    # Height of the casting point for each destination row. Rows on the far side of the line get
    # no cast, only the spill of the penumbra; mirroring the radius there keeps that spill smooth
    # (with a sharp radius those empty rows would cut it off at the line).
    rows_c = np.arange(ry0, ry1, dtype=np.float32) - c
    height = np.abs(rows_c / dy)
    sigma = np.minimum(0.5 + size * height, sigma_max).astype(np.float32)
    # The penumbra lies on the floor, so the camera foreshortens it vertically like the shadow.
    cast = variable_blur_rows(cast, sigma, vertical=vertical)
    cast *= (opacity * (1.0 - 0.4 * np.clip(height / max(top_h, 1), 0.0, 1.0)))[:, None]
    matte = cast
    if contact > 0:
        ao = contact_matte(alpha, fp, line_y, rx0, rx1, ry0, ry1, spread)
        matte = 1.0 - (1.0 - cast) * (1.0 - contact * ao)
    np.clip(matte, 0.0, 1.0, out=matte)
    return Layer(matte.astype(np.float32, copy=False), None, ry0, rx0).trimmed()
