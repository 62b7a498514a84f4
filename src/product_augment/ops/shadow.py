"""Shadow and reflection kernels: contact line, mirror reflection, cast drop shadow.

Pure numpy/OpenCV, no randomness. Mattes are float32 in [0, 1]. A "line" y is the boundary
between image rows y-1 and y: the product's contact line is the row just below its lowest opaque
pixel, so a reflection about line y maps row y-1-i to row y+i.

Both blur with distance from the contact line (`ops.variable_blur`); putting the result into the
picture is `ops.shadow_composite`.
"""
from __future__ import annotations

import itertools
import math
from dataclasses import dataclass

import cv2
import numpy as np

from .variable_blur import variable_blur_rows

OPAQUE = 0.5          # alpha at or above this is solid product (for the footprint)
VISIBLE = 1.0 / 255   # alpha above this is part of the product's box
MAX_FLOOR_SLOPE = 0.6  # a contact outline steeper than this (rows per column) is not the floor


@dataclass(frozen=True)
class Footprint:
    """Where a product stands: its box and its contact line.

    box:      x0, y0, x1, y1 of pixels with alpha > 1/255 (x1, y1 exclusive).
    base_y:   contact line: the row just below the lowest solid pixel of the footprint.
    bottoms:  per column of the box, the row just below its lowest solid pixel (0 where none).
    fill:     solid pixels / the row spans between each row's outermost solid pixels: about 1 for
              a bottle or a box, low for a stool on thin legs or a wire frame.
    """

    box: tuple[int, int, int, int]
    base_y: int
    bottoms: np.ndarray
    fill: float = 1.0

    @property
    def height(self) -> int:
        """Product height from its top to the contact line, at least 1."""
        return max(1, self.base_y - self.box[1])


def find_footprint(alpha: np.ndarray) -> Footprint | None:
    """The product's box and contact line from its matte; None for an empty matte.

    The contact line is the bottom of the lowest solid run of pixels that is at least 3 pixels in
    total over 3 rows, so a one-pixel speck below the product is ignored while a thin chair leg
    still counts.
    """
    x, y, w, h = cv2.boundingRect((alpha > VISIBLE).view(np.uint8))
    if w == 0 or h == 0:
        return None
    solid = alpha[y:y + h, x:x + w] >= OPAQUE
    rows = np.count_nonzero(solid, axis=1)
    if not rows.any():
        return None
    window = np.convolve(rows, np.ones(3, dtype=np.int64), mode="full")[:h]  # rows r-2..r
    ok = np.flatnonzero((window >= 3) & (rows > 0))
    last = int(ok[-1]) if ok.size else int(np.flatnonzero(rows)[-1])
    has = solid.any(axis=0)
    bottoms = np.where(has, h - np.argmax(solid[::-1], axis=0), 0) + np.where(has, y, 0)
    spans = np.where(rows > 0, w - np.argmax(solid[:, ::-1], axis=1) - np.argmax(solid, axis=1), 0)
    fill = float(rows.sum()) / max(1, int(spans.sum()))
    return Footprint((x, y, x + w, y + h), y + last + 1, bottoms.astype(np.int32), fill)


def contact_line(fp: Footprint, floor_y: float | None, tolerance: float | None = None) -> int:
    """The line shadows sit on: the scene's floor when the product touches it, else its own base.

    "Touches" means the base is within `tolerance` pixels of the floor (default: 3% of the product's
    height, at least 2 px).
    """
    if floor_y is None:
        return fp.base_y
    tol = max(2.0, 0.03 * fp.height) if tolerance is None else tolerance
    return round(floor_y) if abs(fp.base_y - floor_y) <= tol else fp.base_y


# ----------------------------------------------------------------------------------------------
# Mirror reflection
# ----------------------------------------------------------------------------------------------

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


@dataclass(frozen=True)
class Layer:
    """A shadow or reflection inside a region of the canvas.

    matte: h×w float32 strength in [0, 1] (behind the product too; callers mask with 1-alpha).
    color: h×w×3 float32 premultiplied colour (0..255) for reflections, None for shadows.
    y0, x0: where the region starts in the canvas.
    """

    matte: np.ndarray
    color: np.ndarray | None
    y0: int
    x0: int

    @property
    def slices(self) -> tuple[slice, slice]:
        h, w = self.matte.shape[:2]
        return slice(self.y0, self.y0 + h), slice(self.x0, self.x0 + w)

    def trimmed(self, eps: float = 0.5 / 255) -> Layer:
        """The same layer cropped to where its matte exceeds `eps` (weaker changes round away)."""
        if self.matte.size == 0:
            return self
        x, y, w, h = cv2.boundingRect((self.matte > eps).view(np.uint8))
        color = None if self.color is None else self.color[y:y + h, x:x + w]
        return Layer(self.matte[y:y + h, x:x + w], color, self.y0 + y, self.x0 + x)

    def full(self, shape: tuple[int, int]) -> np.ndarray:
        out = np.zeros(shape, dtype=np.float32)
        out[self.slices] = self.matte
        return out


def premultiplied(image: np.ndarray, alpha: np.ndarray, plate: np.ndarray | None) -> np.ndarray:
    """The product's colour times its alpha (float32, 0..255) in a region of the picture.

    With the background plate known this is exact: image - (1-α)·plate. Without it, image·α (edge
    pixels keep a little of the old background).
    """
    img = image.astype(np.float32)
    a = alpha[..., None]
    if plate is None:
        return img * a
    prem = img - (1.0 - a) * plate.astype(np.float32)
    return np.clip(prem, 0.0, 255.0 * a)


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


# ----------------------------------------------------------------------------------------------
# Drop shadow
# ----------------------------------------------------------------------------------------------

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


# ----------------------------------------------------------------------------------------------
# Several products
# ----------------------------------------------------------------------------------------------

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
