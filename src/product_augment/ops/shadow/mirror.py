"""Mirror reflections: about a level line or about the contact outline under a base, fading and
blurring with distance."""
from __future__ import annotations

import itertools
import math

import cv2
import numpy as np

from ..variable_blur import variable_blur_rows
from .footprint import MAX_FLOOR_SLOPE, OPAQUE, Footprint, Layer, premultiplied


def reflect_rows(img: np.ndarray, axis_y: int, squash: float = 1.0, rows: int | None = None) -> np.ndarray:
    """The part of `img` above line `axis_y` flipped below it: row axis_y+i shows row axis_y-1-i.

    Returns the `rows` rows (default: as many as the canvas has below the line) starting at
    axis_y. `squash` < 1 shortens the reflection vertically (perspective); squash 1 is an exact
    flip. Rows with nothing to reflect are zero.
    """
    h = img.shape[0]
    n = h - axis_y if rows is None else rows
    out = np.zeros((max(n, 0),) + img.shape[1:], dtype=img.dtype)
    if n <= 0 or axis_y <= 0:
        return out
    if squash >= 1.0:
        m = min(n, axis_y)
        out[:m] = img[axis_y - m:axis_y][::-1]
        return out
    need = min(axis_y, math.ceil(n / squash) + 2)
    flipped = np.ascontiguousarray(img[axis_y - need:axis_y][::-1])
    m = min(n, round(need * squash))
    if m > 0:
        # INTER_AREA averages the rows it shrinks, so the squashed reflection does not alias.
        shrunk = cv2.resize(flipped, (img.shape[1], max(1, round(need * squash))),
                            interpolation=cv2.INTER_AREA)
        out[:m] = shrunk[:m].reshape(out[:m].shape)
    return out


def reflect_matte(alpha: np.ndarray, axis_y: int, squash: float = 1.0) -> np.ndarray:
    """Full-canvas matte of the product mirrored about line `axis_y` (before any fading or blur)."""
    out = np.zeros_like(alpha, dtype=np.float32)
    if 0 < axis_y < alpha.shape[0]:
        out[axis_y:] = reflect_rows(alpha.astype(np.float32, copy=False), axis_y, squash)
    return out


def fade_weights(n: int, opacity: float, fade_px: float) -> np.ndarray:
    """Opacity of each reflected row 0..n-1 below the line: `opacity` at the line, 0 at fade_px.

    The curve (1-t)^1.5 drops faster near the product than a linear ramp and tails off softly,
    like a glossy acrylic sheet seen at a low angle.
    """
    d = np.arange(n, dtype=np.float32) + 0.5
    t = np.clip(d / max(fade_px, 1e-3), 0.0, 1.0)
    return (opacity * (1.0 - t) ** 1.5).astype(np.float32)


def _reflection_reach(n: int, blur: float, fp: Footprint, width: int) -> tuple[np.ndarray, np.ndarray, int, int]:
    """For a reflection n rows deep: each row's distance from the floor line, its blur radius, and
    the columns the blurred reflection can reach (the product's box grown by 3 radii)."""
    dist = np.arange(n, dtype=np.float32) + 0.5
    sigma = (blur * dist).astype(np.float32)
    reach = math.ceil(3 * float(sigma[-1])) + 2
    return dist, sigma, max(0, fp.box[0] - reach), min(width, fp.box[2] + reach)


def _premultiplied_rgba(image: np.ndarray, alpha: np.ndarray, plate: np.ndarray | None,
                        region: tuple[slice, slice]) -> np.ndarray:
    """The product's premultiplied colour and its matte over `region`, h×w×4 float32, to reflect."""
    rows, cols = region
    rgba = np.empty((rows.stop - rows.start, cols.stop - cols.start, 4), dtype=np.float32)
    rgba[..., :3] = premultiplied(image[region], alpha[region], None if plate is None else plate[region])
    rgba[..., 3] = alpha[region]
    return rgba


def mirror_reflection(image: np.ndarray, alpha: np.ndarray, fp: Footprint, axis_y: int, *,
                      opacity: float, fade: float, blur: float, squash: float,
                      plate: np.ndarray | None = None) -> Layer | None:
    """A glossy-floor reflection of the product below line `axis_y`.

    The product's colour (see `premultiplied`; `plate` is the background behind it, if known) and
    matte are mirrored, fade from `opacity` at the line to 0 at `fade` × product height below it,
    and are blurred by `blur` × distance px, as a slightly rough floor blurs what is far from
    the contact more. None when nothing would show.
    """
    h, w = alpha.shape
    fade_px = max(1.0, fade * fp.height)
    n = min(h - axis_y, math.ceil(fade_px))
    if n <= 0 or axis_y <= 0 or opacity <= 0:
        return None
    _dist, sigma, x0, x1 = _reflection_reach(n, blur, fp, w)
    top = max(0, axis_y - math.ceil(n / max(squash, 1e-3)) - 2)
    rgba = _premultiplied_rgba(image, alpha, plate, (slice(top, axis_y), slice(x0, x1)))
    refl = reflect_rows(rgba, axis_y - top, squash, rows=n)
    if blur > 0:
        refl = variable_blur_rows(refl, sigma)
    refl *= fade_weights(n, opacity, fade_px)[:, None, None]
    np.clip(refl[..., 3], 0.0, 1.0, out=refl[..., 3])
    return Layer(np.ascontiguousarray(refl[..., 3]), np.ascontiguousarray(refl[..., :3]), axis_y,
                 x0).trimmed()


def contact_outline(alpha: np.ndarray, fp: Footprint, min_part: float = 0.05) -> np.ndarray | None:
    """The floor line under the product, per column of its box (float rows, exclusive like a line):
    a straight line supporting the bottoms of the product's solid parts from below — the edge of
    their lower envelope (convex hull) that spans at least half the product's width, so a sole
    drawn in perspective gets a tilted line and a chair the line through its leg tips; a level line
    at the lowest point for a rounded bottom. Parts smaller than `min_part` of the largest (a stray
    speck of the cut) do not count. None if nothing is solid."""
    x0, y0, x1, y1 = fp.box
    solid = (alpha[y0:y1, x0:x1] >= OPAQUE).astype(np.uint8)
    n, labels, stats, _ = cv2.connectedComponentsWithStats(solid, connectivity=8)
    if n <= 1:
        return None
    areas = stats[1:, cv2.CC_STAT_AREA]
    keep = np.flatnonzero(areas >= min_part * areas.max()) + 1
    solid = np.isin(labels, keep)
    has = solid.any(axis=0)
    if not has.any():
        return None
    h = solid.shape[0]
    bottoms = h - np.argmax(solid[::-1], axis=0) + y0  # row below the lowest solid pixel
    xs = np.flatnonzero(has).astype(np.float64) + x0
    ys = bottoms[has].astype(np.float64)
    # lower envelope in image rows (largest y): monotone chain keeping right turns only
    hull: list[tuple[float, float]] = []
    for pt in zip(xs, ys):
        while len(hull) >= 2:
            (ox, oy), (ax, ay) = hull[-2], hull[-1]
            if (ax - ox) * (pt[1] - oy) - (ay - oy) * (pt[0] - ox) >= 0:
                hull.pop()
            else:
                break
        hull.append(pt)
    # the floor is flat: a straight line. Where the product rests on a long straight edge of that
    # envelope (a sole seen at an angle, two leg tips), the line is that edge; a rounded bottom
    # touches at one point, and the line is level there.
    cols = np.arange(x0, x1, dtype=np.float64)
    span = max(1.0, xs[-1] - xs[0])
    best = None
    for (ax, ay), (bx, by) in itertools.pairwise(hull):
        if bx - ax >= 0.5 * span and abs(by - ay) <= MAX_FLOOR_SLOPE * (bx - ax):
            best = (ax, ay, bx, by)
    if best is None:
        return np.full(cols.shape, float(ys.max()), np.float32)
    ax, ay, bx, by = best
    return (ay + (cols - ax) * (by - ay) / (bx - ax)).astype(np.float32)


def mirror_reflection_outline(image: np.ndarray, alpha: np.ndarray, fp: Footprint, line: np.ndarray, *,
                              opacity: float, fade: float, blur: float, squash: float,
                              plate: np.ndarray | None = None) -> Layer | None:
    """`mirror_reflection` about a floor line that follows the product's contact outline (`line`,
    one row per column of its box, see `contact_outline`): each column is mirrored about its own
    floor row, so the reflection touches the product all along its base. Built in a straightened
    frame (row i = i px below the line), faded and blurred by distance there, then bent back."""
    h, w = alpha.shape
    fade_px = max(1.0, fade * fp.height)
    bx0, bx1 = fp.box[0], fp.box[2]
    lo, hi = float(line.min()), float(line.max())
    n = min(h - math.floor(lo), math.ceil(fade_px))
    if n <= 0 or lo <= 0 or opacity <= 0:
        return None
    dist, sigma, x0, x1 = _reflection_reach(n, blur, fp, w)
    cols = np.arange(x0, x1)
    # the line beyond the box continues flat from its ends (only blur reaches there)
    full_line = np.interp(cols, np.arange(bx0, bx1), line).astype(np.float32)
    top = max(0, math.floor(lo - math.ceil(n / max(squash, 1e-3)) - 2))
    rgba = _premultiplied_rgba(image, alpha, plate, (slice(top, min(h, math.ceil(hi) + 1)), slice(x0, x1)))
    # straighten: row i of column x shows the row (i + 0.5) / squash above that column's line
    map_x = np.broadcast_to((cols - x0).astype(np.float32), (n, x1 - x0))
    map_y = (full_line[None, :] - top) - (dist[:, None] / max(squash, 1e-3)) - 0.5
    straight = cv2.remap(rgba, np.ascontiguousarray(map_x), np.ascontiguousarray(map_y.astype(np.float32)),
                         cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT, borderValue=(0, 0, 0, 0))
    if blur > 0:
        straight = variable_blur_rows(straight, sigma)
    straight *= fade_weights(n, opacity, fade_px)[:, None, None]
    # bend back: canvas row y of column x is row y - line(x) of the straightened frame
    out_top = math.floor(lo)
    rows = math.ceil(hi) + n - out_top
    yy = np.arange(out_top, out_top + rows, dtype=np.float32)[:, None]
    by = yy + 0.5 - full_line[None, :] - 0.5
    bent = cv2.remap(straight, np.ascontiguousarray(np.broadcast_to((cols - x0).astype(np.float32), by.shape)),
                     np.ascontiguousarray(by.astype(np.float32)), cv2.INTER_LINEAR,
                     borderMode=cv2.BORDER_CONSTANT, borderValue=(0, 0, 0, 0))
    bent[by < -0.5] = 0  # above each column's line: nothing
    rows_in = min(rows, h - out_top)
    bent = bent[:rows_in]
    np.clip(bent[..., 3], 0.0, 1.0, out=bent[..., 3])
    return Layer(np.ascontiguousarray(bent[..., 3]), np.ascontiguousarray(bent[..., :3]), out_top, x0).trimmed()
