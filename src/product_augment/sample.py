"""The one record that flows through the pipeline."""
from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np


@dataclass(frozen=True, slots=True)
class Instance:
    """One product in the image: class id (1..21), boolean mask, xyxy box, score.

    `backdrop` marks an object of the 21 classes that is part of the background photo (a sofa in a
    room backdrop): annotated like a product, never cut, shadowed or placed."""

    class_id: int
    mask: np.ndarray  # H×W bool
    box: tuple[float, float, float, float]  # x0, y0, x1, y1 in pixels, x1/y1 exclusive
    score: float = 1.0
    backdrop: bool = False

    @staticmethod
    def from_mask(class_id: int, mask: np.ndarray, score: float = 1.0) -> Instance:
        mask = np.asarray(mask, dtype=bool)
        return Instance(class_id, mask, mask_box(mask), float(score))


def mask_box(mask: np.ndarray) -> tuple[float, float, float, float]:
    """Tight xyxy box of a boolean mask (x1, y1 exclusive); all zeros for an empty mask."""
    ys = np.flatnonzero(mask.any(axis=1))
    if ys.size == 0:
        return (0.0, 0.0, 0.0, 0.0)
    xs = np.flatnonzero(mask.any(axis=0))
    return (float(xs[0]), float(ys[0]), float(xs[-1] + 1), float(ys[-1] + 1))


@dataclass(frozen=True, slots=True)
class PaletteColor:
    """A k-means cluster of product pixels: colour in sRGB (0..255) and CIELAB, share in [0, 1]."""

    rgb: tuple[int, int, int]
    lab: tuple[float, float, float]
    share: float


@dataclass(frozen=True, slots=True)
class SceneLight:
    """The scene's key light, in the shadow kinds' convention: azimuth is where the light comes from,
    degrees in the floor plane (0 front, 90 left, -90 right, 180 behind); elevation above the floor."""

    azimuth: float
    elevation: float
    source: str  # what set it: "backdrop <file>", "studio", "gradient"


@dataclass(frozen=True, slots=True)
class Sample:
    """An image and everything known about it.

    image:        H×W×3 uint8 RGB, the current composite.
    alpha:        H×W float32 in [0, 1], the product matte (union of instances), or None before segmentation.
    instances:    the products, their masks aligned with `image`.
    layers:       extra H×W float32 mattes in [0, 1] for annotations ("shadow", "logo").
    meta:         source path, applied parameters per step (meta["applied"][step_name]).
    palette:      dominant colours of the product, largest share first (set by the palette step).
    plate:        H×W×3 uint8 background plate behind the product (set by the background step), so
                  later steps can re-composite exactly: image == alpha*F + (1-alpha)*plate.
    floor_y:      row of the floor line in the current canvas, when a scene defines one.
    output_alpha: H×W float32 coverage of the final picture when the background is transparent
                  (RGBA output); None means an opaque picture.
    light:        the scene's key light when the background knows it (backdrop sidecar, studio,
                  gradient); shadows follow it (`light: scene`).
    gloss:        how glossy the floor is (0 matte .. 1 mirror), when the background knows it.
    support:      how the product is held: "standing" (on the floor: contact shadow, reflection)
                  or "hanging" (from above: no floor shadow, no reflection).
    """

    image: np.ndarray
    alpha: np.ndarray | None = None
    instances: tuple[Instance, ...] = ()
    layers: Mapping[str, np.ndarray] = field(default_factory=dict)
    meta: Mapping[str, Any] = field(default_factory=dict)
    palette: tuple[PaletteColor, ...] | None = None
    plate: np.ndarray | None = None
    floor_y: float | None = None
    output_alpha: np.ndarray | None = None
    light: SceneLight | None = None
    gloss: float | None = None
    support: str = "standing"

    @property
    def height(self) -> int:
        return int(self.image.shape[0])

    @property
    def width(self) -> int:
        return int(self.image.shape[1])

    def replace(self, **changes: Any) -> Sample:
        return dataclasses.replace(self, **changes)

    def with_layer(self, name: str, matte: np.ndarray) -> Sample:
        return dataclasses.replace(self, layers={**self.layers, name: matte})

    def has(self, what: str) -> bool:
        """Whether a requirement name ("alpha", "palette", "plate", "layer:shadow", ...) is met."""
        if what.startswith("layer:"):
            return what[6:] in self.layers
        value = getattr(self, what)
        return value is not None and (not isinstance(value, tuple) or len(value) > 0)
