"""What every background kind shares: the canvas, the support, the placement (one affine matrix,
`compose.place`) and the apply that renders the recorded plate and places the product on it. A
kind draws and renders its plate (`draw_plate`, `render_plate`) and may know the scene's floor,
light and gloss."""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

import numpy as np

from ... import compose, scene
from ...ops.placement import scale_translate
from ...pipeline import ParamStep, SampleError
from ...presets.sampling import Draws
from ...sample import Sample, SceneLight


class _Background(ParamStep):
    name = "background"
    requires = frozenset({"alpha"})
    provides = frozenset({"plate"})
    uses = frozenset({"palette"})  # the contrast rule keeps colours away from the product's
    position: ClassVar[str] = "center"  # default `position`
    floor_range: ClassVar[tuple[float, float]] = (0.8, 0.95)  # position floor: product bottom, × H

    def __init__(self, config: Any):
        self.config = config

    # -- draw ---------------------------------------------------------------------------------

    def draw(self, sample: Sample, rng: np.random.Generator) -> dict[str, Any]:
        cfg = self.config
        if sample.alpha is None:
            raise SampleError("background needs a matte")
        canvas = cfg.canvas.wh() if cfg.canvas is not None else (sample.width, sample.height)
        support = cfg.support
        if support == "auto":
            support = "hanging" if scene.is_hanging(sample.alpha) else "standing"
        draws = Draws(rng)
        plate = self.draw_plate(sample, draws, canvas)
        matrix, placed = self._draw_placement(sample, draws, canvas, plate, support)
        return {"kind": cfg.kind, "canvas": list(canvas), "matrix": matrix.round(9).tolist(),
                "refine": cfg.refine.model_dump(), "plate": plate, "support": support, **placed}

    def draw_plate(self, sample: Sample, draws: Draws, canvas: tuple[int, int]) -> dict[str, Any]:
        """The plate's parameters, each drawn from its field's generator (`draws.value(spec, field)`)."""
        return {}

    def floor_bottom(self, plate: Mapping[str, Any], h: int, u: float) -> float:
        """Position `floor`: the row the product's bottom stands on, for a uniform draw u."""
        lo, hi = self.floor_range
        return (lo + (hi - lo) * u) * h

    def true_size(self, sample: Sample, canvas: tuple[int, int], plate: dict,
                  box: tuple[int, int, int, int], bottom: float) -> tuple[float, float, dict] | str | None:
        """(scale, contact row, record) of the product at its physical size, for kinds that know
        their camera; a string says why it is sized by `scale` instead; None: kinds without a camera."""
        return None

    def _draw_placement(self, sample: Sample, draws: Draws, canvas, plate, support: str = "standing"
                        ) -> tuple[np.ndarray, dict[str, Any]]:
        cfg = self.config
        w, h = canvas
        box = compose.product_box(sample.alpha)
        if box is None:
            raise SampleError("the product matte is empty")
        bx0, by0, bx1, by1 = box
        bw, bh = bx1 - bx0, by1 - by0
        scale = draws.value(cfg.scale, "scale") if cfg.scale is not None else None
        position = cfg.position or self.position
        u = draws.rng("position").uniform(0, 1, size=2)
        placed: dict[str, Any] = {}
        if scale is None:
            if cfg.canvas is None:
                return scale_translate(1.0, 0.0, 0.0), placed
            f = min(w / sample.width, h / sample.height)
            return scale_translate(f, (w - f * sample.width) / 2, (h - f * sample.height) / 2), placed
        f = float(scale) * min(w, h) / max(bw, bh)
        f = min(f, 0.98 * w / bw, 0.98 * h / bh)
        bottom = self.floor_bottom(plate, h, u[1]) if position == "floor" else None
        true = None
        if bottom is not None and support == "standing":
            true = self.true_size(sample, canvas, plate, box, bottom)
        if isinstance(true, tuple):
            f, bottom, placed["size"] = true
        else:
            if isinstance(true, str):
                placed["size"] = {"mode": "scale", "why": true}
            if cfg.max_enlarge is not None and f > cfg.max_enlarge:
                placed["enlarge_capped"] = round(f, 4)  # what `scale` asked for
                f = cfg.max_enlarge
            if bottom is not None:
                f = min(f, (bottom - 0.02 * h) / bh)
        placed["enlargement"] = round(f, 6)
        if support == "hanging":  # from the canvas top: its cord goes on out of the frame
            cx = w / 2 + (u[0] * 2 - 1) * cfg.jitter * w
            tx, ty = cx - f * (bx0 + bx1) / 2, -f * by0
        elif bottom is not None:
            cx = w / 2 + (u[0] * 2 - 1) * min(cfg.jitter * 2, 0.5) * (w - f * bw) / 2
            tx, ty = cx - f * (bx0 + bx1) / 2, bottom - f * by1
        elif position == "random":
            tx = u[0] * (w - f * bw) - f * bx0
            ty = u[1] * (h - f * bh) - f * by0
        else:
            cx = w / 2 + (u[0] * 2 - 1) * cfg.jitter * w
            cy = h / 2 + (u[1] * 2 - 1) * cfg.jitter * h
            tx, ty = cx - f * (bx0 + bx1) / 2, cy - f * (by0 + by1) / 2
        # keep the whole product inside the frame
        tx = float(np.clip(tx, -f * bx0, w - f * bx1))
        ty = float(np.clip(ty, -f * by0, h - f * by1))
        return scale_translate(f, tx, ty), placed

    # -- apply --------------------------------------------------------------------------------

    def apply(self, sample: Sample, params: Mapping[str, Any]) -> Sample:
        size = tuple(params["canvas"])
        plate = self.render_plate(params["plate"], size)
        sample = self.harmonized(sample, plate)
        out = compose.place(sample, params["matrix"], size, plate, params["refine"])
        support = params.get("support", "standing")
        floor_y = None if support == "hanging" else self.floor_y(out, params["plate"])
        light, gloss = self.light(params["plate"], size)
        out = out.replace(floor_y=floor_y, support=support, light=light, gloss=gloss)
        return self.add_backdrop_objects(out, params["plate"])

    def harmonized(self, sample: Sample, plate: np.ndarray | None) -> Sample:
        """The input photo as it goes onto the plate (relit by kinds that harmonize)."""
        return sample

    def light(self, p: Mapping[str, Any], size: tuple[int, int]) -> tuple[SceneLight | None, float | None]:
        """The scene's key light and the floor's gloss, for kinds that know them."""
        return None, None

    def add_backdrop_objects(self, out: Sample, p: Mapping[str, Any]) -> Sample:
        return out

    def render_plate(self, p: Mapping[str, Any], size: tuple[int, int]) -> np.ndarray | None:
        raise NotImplementedError

    def floor_y(self, placed: Sample, p: Mapping[str, Any]) -> float | None:
        """The floor line of the new canvas, for kinds whose scene has one."""
        return None
