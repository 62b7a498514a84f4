"""The shadow network's frame: where the product sits in the square canvas the network sees.

Shared by the training data (`data/shadow_pairs.py`), training, evaluation and the pipeline step,
so all of them crop the same way. Plain numpy/OpenCV (no torch).

The canvas is a square of `SCALE` × the product's size (the larger of its width and its height
above the contact line), centred on the product horizontally, with the contact line at `BASE` of
its height: shadows thrown back (up in the picture) and sideways fit; the far end of a very long
one is cut off at the canvas border.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import cv2
import numpy as np

RES = 128       # the network's input and output size
SCALE = 2.5     # canvas side / product size
BASE = 0.62     # contact line at this fraction of the canvas height
CUT = 1.5 / 255  # the step subtracts this from the combined matte (rescaled): no faint haze


@dataclass(frozen=True)
class Canvas:
    """A square region of the picture: top-left corner (x0, y0) and side, in picture pixels."""

    x0: float
    y0: float
    side: float

    def to_canvas(self, xy: np.ndarray, res: int = RES) -> np.ndarray:
        """Picture pixel coordinates (…×2, pixel-centre convention) → canvas pixel coordinates."""
        return (np.asarray(xy, np.float64) + 0.5 - (self.x0, self.y0)) * (res / self.side) - 0.5

    def matrix(self, res: int = RES) -> np.ndarray:
        """2×3 affine matrix picture → canvas (pixel centres)."""
        s = res / self.side
        return np.array([[s, 0.0, (0.5 - self.x0) * s - 0.5], [0.0, s, (0.5 - self.y0) * s - 0.5]])


def canvas_for(box: tuple[float, float, float, float], base_y: float) -> Canvas:
    """The canvas of a product with alpha box (x0, y0, x1, y1) standing on row `base_y`."""
    x0, y0, x1, _ = box
    size = max(x1 - x0, base_y - y0, 4.0)
    side = SCALE * size
    return Canvas((x0 + x1) / 2 - side / 2, base_y - BASE * side, side)


def crop(image: np.ndarray, canvas: Canvas, res: int = RES, interpolation: int = cv2.INTER_LINEAR) -> np.ndarray:
    """The canvas cut out of `image` (H×W or H×W×C, any dtype OpenCV warps) at res×res; zero outside.

    Large reductions first shrink the picture by an integer factor with area averaging, so thin
    parts are averaged rather than aliased.
    """
    m = canvas.matrix(res)
    factor = int(canvas.side / res)
    if factor >= 2:
        h, w = image.shape[:2]
        small = cv2.resize(image, (max(1, w // factor), max(1, h // factor)), interpolation=cv2.INTER_AREA)
        # picture → small: x_s = (x + 0.5) * (w_s / w) - 0.5
        sx, sy = small.shape[1] / w, small.shape[0] / h
        pre = np.array([[sx, 0.0, 0.5 * sx - 0.5], [0.0, sy, 0.5 * sy - 0.5], [0.0, 0.0, 1.0]])
        m = m @ np.linalg.inv(pre)
        image = small
    return cv2.warpAffine(image, m, (res, res), flags=interpolation, borderMode=cv2.BORDER_CONSTANT,
                          borderValue=0)


def uncrop(matte: np.ndarray, canvas: Canvas, shape: tuple[int, int], fade: float = 0.08) -> tuple[np.ndarray, int, int]:
    """A canvas-sized matte back in the picture: (region matte, y0, x0) covering the canvas ∩ picture.

    The matte fades to 0 over `fade` of the canvas at its borders, so a shadow the canvas cuts off
    ends softly instead of along a straight edge. Bilinear upsampling.
    """
    res = matte.shape[0]
    n = max(1, round(fade * res))
    ramp = np.minimum(np.arange(res, dtype=np.float32) + 0.5, n) / n
    ramp = np.minimum(ramp, ramp[::-1])
    matte = matte * ramp[:, None] * ramp[None, :]
    h, w = shape
    x0, y0 = max(0, math.floor(canvas.x0)), max(0, math.floor(canvas.y0))
    x1, y1 = min(w, math.ceil(canvas.x0 + canvas.side)), min(h, math.ceil(canvas.y0 + canvas.side))
    if x1 <= x0 or y1 <= y0:
        return np.zeros((0, 0), np.float32), 0, 0
    m = canvas.matrix(res)
    m[:, 2] += m[:, :2] @ np.array([x0, y0], np.float64)   # region pixel → canvas pixel
    out = cv2.warpAffine(matte.astype(np.float32), m, (x1 - x0, y1 - y0),
                         flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP, borderMode=cv2.BORDER_CONSTANT,
                         borderValue=0)
    return out, y0, x0


def light_vector(azimuth: float, elevation: float, size: float, floor_tilt: float) -> np.ndarray:
    """The network's conditioning: the light as it looks from the camera, and the camera's tilt.

    azimuth/elevation/size/floor_tilt mean what they mean for the `drop` shadow kind.
    """
    a = math.radians(azimuth)
    return np.array([math.sin(a), math.cos(a), elevation / 90.0, min(size, 1.0) * 3.0, floor_tilt],
                    np.float32)


def network_input(rgb: np.ndarray, alpha: np.ndarray) -> np.ndarray:
    """4×res×res float32 from a canvas crop with straight colour (uint8) and matte (0..1 or 0..255)."""
    a = alpha.astype(np.float32)
    if a.max() > 1.5:
        a = a / 255.0
    return network_input_premultiplied(rgb.astype(np.float32) * a[..., None], a)


def network_input_premultiplied(prem: np.ndarray, alpha: np.ndarray) -> np.ndarray:
    """4×res×res float32: premultiplied colour (0..255) mapped to [−α, α] and the matte (0..1)."""
    a = np.clip(alpha.astype(np.float32), 0.0, 1.0)
    col = np.clip(prem.astype(np.float32) / 255.0, 0.0, a[..., None])
    return np.concatenate([(col * 2.0 - a[..., None]).transpose(2, 0, 1), a[None]], 0).astype(np.float32)

def combine(cast: np.ndarray, ao: np.ndarray, opacity: float, contact: float) -> np.ndarray:
    """The shadow matte from the key light's cast shadow and the ambient occlusion, as the `drop`
    kind combines its cast and contact shadows: 1 − (1 − opacity·cast)(1 − contact·ao)."""
    return 1.0 - (1.0 - opacity * cast) * (1.0 - contact * ao)
