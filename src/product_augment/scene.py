"""What a composed scene must agree on: the product's true size, how it is held, the backdrop's camera
and light. Pure functions and small records; no randomness, no file writes.

- **Size prior**: each of the 21 classes has a range for its longest visible side, in centimetres.
- **Backdrop sidecar** (`<photo>.json` beside a background photo, format `product_augment.backdrop/1`):
  the camera (horizon row, height above the support plane), where the support plane is visible, the
  key light, the floor's gloss and the objects of the 21 classes the photo shows (masks); optionally
  `kind`: `render` (the default: made by scripts/assets/make_backgrounds.py) or `photo` (a view of a
  real photograph, scripts/assets/make_photo_backdrops.py), read the same way. With a
  pinhole camera looking level from `camera_height_cm` above the floor, a thing standing on the floor
  at image row y (its contact row) measures (y − horizon) / camera_height_cm pixels per centimetre;
  the same holds after the backdrop is cropped and zoomed, rows and horizon both in canvas pixels.
- **Support**: a product is hanging when its matte reaches the input photo's top border through a
  cord (one narrow, nearly vertical run per row over the top tenth of its height) and standing
  otherwise.
"""
from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .classes import CLASS_ID, CLASS_NAMES

FORMAT = "product_augment.backdrop/1"
BACKDROP_KINDS = ("render", "photo")

# Longest visible side of a product of each class, cm (a shoe's length, a chair's height, a sofa's
# width...). Ranges are wide on purpose: they say what is plausible, not what is typical.
SIZE_PRIOR_CM: dict[str, tuple[float, float]] = {
    "shoe": (22.0, 32.0), "handbag": (22.0, 45.0), "backpack": (38.0, 55.0), "suitcase": (50.0, 80.0),
    "bottle": (12.0, 35.0), "cup": (7.0, 16.0), "phone": (12.0, 26.0), "laptop": (30.0, 42.0),
    "headphones": (15.0, 30.0), "watch": (18.0, 35.0), "camera": (10.0, 22.0), "glasses": (13.0, 16.0),
    "chair": (75.0, 110.0), "sofa": (150.0, 240.0), "lamp": (30.0, 170.0), "toy": (8.0, 45.0),
    "clothing": (55.0, 110.0), "hat": (24.0, 36.0), "television": (55.0, 145.0), "appliance": (20.0, 90.0),
    "plant": (20.0, 130.0),
}
assert set(SIZE_PRIOR_CM) == set(CLASS_NAMES)

HANG_TOP_ROWS = 0.01  # the matte must reach the top 1 % of the input photo
HANG_BAND = 0.1  # ... through a cord seen over the top 10 % of the product's height
HANG_NECK = 0.1  # ... at most this fraction of the product's width in every row
HANG_DRIFT = 0.05  # ... and nearly vertical


class BackdropError(ValueError):
    """A backdrop sidecar that cannot be used (the message names the file and the field)."""


@dataclass(frozen=True)
class BackdropObject:
    class_id: int
    rle: dict  # COCO RLE of the visible silhouette, at the sidecar's size


@dataclass(frozen=True)
class Backdrop:
    """A background photo's sidecar."""

    size: tuple[int, int]  # width, height the fractions and masks refer to
    horizon: float  # row of the horizon, fraction of the height
    camera_height_cm: float
    support_kind: str  # floor | counter | table
    support_from: float  # the support plane is visible from this row down, fraction of the height
    light_azimuth: float
    light_elevation: float
    gloss: float
    objects: tuple[BackdropObject, ...]
    kind: str = "render"  # render | photo: how the backdrop was made; both are used alike

    def object_masks(self) -> list[tuple[int, np.ndarray]]:
        from .annotations import rle_to_mask

        return [(o.class_id, rle_to_mask(o.rle).astype(bool)) for o in self.objects]


def read_backdrop(path: Path) -> Backdrop:
    """Parse and check a sidecar; BackdropError names the file and the field at fault."""
    try:
        d = json.loads(Path(path).read_text())
    except (OSError, ValueError) as e:
        raise BackdropError(f"{path}: not readable as JSON ({e})") from None

    def need(obj: dict, key: str, where: str = ""):
        if not isinstance(obj, dict) or key not in obj:
            raise BackdropError(f"{path}: missing field '{where}{key}'")
        return obj[key]

    def num(obj: dict, key: str, lo: float, hi: float, where: str = "") -> float:
        v = need(obj, key, where)
        if not isinstance(v, (int, float)) or isinstance(v, bool) or not lo <= v <= hi:
            raise BackdropError(f"{path}: field '{where}{key}' must be a number in [{lo:g}, {hi:g}], got {v!r}")
        return float(v)

    if need(d, "format") != FORMAT:
        raise BackdropError(f"{path}: field 'format' must be {FORMAT!r}, got {d['format']!r}")
    size = need(d, "size")
    if not (isinstance(size, list) and len(size) == 2 and all(isinstance(v, int) and v > 0 for v in size)):
        raise BackdropError(f"{path}: field 'size' must be [width, height] in pixels, got {size!r}")
    support, light = need(d, "support"), need(d, "light")
    kind = need(support, "kind", "support.")
    if kind not in ("floor", "counter", "table"):
        raise BackdropError(f"{path}: field 'support.kind' must be floor, counter or table, got {kind!r}")
    made = d.get("kind", "render")
    if made not in BACKDROP_KINDS:
        raise BackdropError(f"{path}: field 'kind' must be one of {', '.join(BACKDROP_KINDS)}, got {made!r}")
    objects = []
    for i, o in enumerate(d.get("objects", [])):
        name = need(o, "class", f"objects[{i}].")
        if name not in CLASS_ID:
            raise BackdropError(f"{path}: field 'objects[{i}].class' must be one of the 21 classes, got {name!r}")
        rle = need(o, "mask", f"objects[{i}].")
        if not (isinstance(rle, dict) and rle.get("size") == [size[1], size[0]] and isinstance(rle.get("counts"), str)):
            raise BackdropError(f"{path}: field 'objects[{i}].mask' must be a COCO RLE of size [{size[1]}, {size[0]}]")
        objects.append(BackdropObject(CLASS_ID[name], rle))
    return Backdrop((size[0], size[1]), num(d, "horizon", -1.0, 1.0), num(d, "camera_height_cm", 1.0, 1000.0),
                    kind, num(support, "from", 0.0, 1.0, "support."),
                    num(light, "azimuth", -360.0, 360.0, "light."), num(light, "elevation", 5.0, 89.0, "light."),
                    num(d, "gloss", 0.0, 1.0), tuple(objects), made)


def sidecar_path(photo: Path) -> Path:
    return Path(photo).with_suffix(".json")


# ----------------------------------------------------------------------------------------------
# Support


def is_hanging(alpha: np.ndarray) -> bool:
    """Whether the matte hangs from the photo's top border by a cord: it reaches the top rows, and
    down from there, over the top HANG_BAND of the product's height, every row holds one narrow
    run (at most HANG_NECK of the product's width) that stays nearly vertical (its centre drifts by
    at most HANG_DRIFT of the width). A product cropped by the top border (a ball's crown), a loop
    handle (two runs) or a strap leaving at an angle is not hanging."""
    h = alpha.shape[0]
    solid = alpha > 0.5
    top = max(1, math.ceil(HANG_TOP_ROWS * h))
    if not solid[:top].any():
        return False
    rows = np.flatnonzero(solid.any(axis=1))
    cols = np.flatnonzero(solid.any(axis=0))
    width, height = cols[-1] - cols[0] + 1, rows[-1] - rows[0] + 1
    band = max(3, math.ceil(HANG_BAND * height))
    centres = []
    for y in range(min(band, h)):
        xs = np.flatnonzero(solid[y])
        if xs.size == 0:
            return False
        if np.any(np.diff(xs) > 1) or xs.size > HANG_NECK * width:
            return False
        centres.append((xs[0] + xs[-1]) / 2)
    return float(np.ptp(centres)) <= HANG_DRIFT * width


# ----------------------------------------------------------------------------------------------
# True size


def class_name(class_id: int) -> str | None:
    return CLASS_NAMES[class_id - 1] if 1 <= class_id <= len(CLASS_NAMES) else None


def px_per_cm(row: float, horizon_row: float, camera_height_cm: float) -> float:
    """Pixels per centimetre of a thing standing on the support plane at `row` (canvas pixels)."""
    return max(0.0, row - horizon_row) / camera_height_cm


def contact_row_for(size_px: float, size_cm: float, horizon_row: float, camera_height_cm: float) -> float:
    """The contact row at which a thing of `size_cm` measures `size_px` (inverse of px_per_cm)."""
    return horizon_row + size_px * camera_height_cm / size_cm


def light_from_gradient(colors_lab_l: list[float], shape: str, angle_deg: float,
                        center: tuple[float, float]) -> tuple[float, float]:
    """(azimuth, elevation) of the light a gradient backdrop suggests: from its lighter side (linear),
    or from its centre when the centre is the lighter end (radial)."""
    lighter_first = colors_lab_l[0] >= colors_lab_l[-1]
    if shape == "linear":
        a = math.radians(angle_deg)
        dx, dy = math.cos(a), math.sin(a)  # from the first colour towards the last, image axes
        if lighter_first:
            dx, dy = -dx, -dy  # towards the lighter side
        return round(-60.0 * dx, 3), round(50.0 - 15.0 * dy, 3)
    sign = 1.0 if lighter_first else -1.0
    cx, cy = center
    return (round(float(np.clip(sign * (0.5 - cx) / 0.2, -1, 1)) * 60.0, 3),
            round(50.0 + float(np.clip(sign * (0.5 - cy) / 0.2, -1, 1)) * 15.0, 3))
