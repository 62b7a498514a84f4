"""What every shadow kernel shares: the product's footprint and contact line, a Layer (a matte in
a region, with the premultiplied colour of a reflection) and the product's premultiplied colour."""
from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

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
