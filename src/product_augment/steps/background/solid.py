"""Kind `solid`: one colour, fixed or random under the contrast rule."""
from __future__ import annotations

from ... import compose
from .base import _Background
from .contrast import contrasting_color, palette_lab


class SolidBackground(_Background):
    def draw_plate(self, sample, draws, canvas):
        cfg = self.config
        color = draws.value(cfg.color, "color")
        if color == "random":
            color, de = contrasting_color(draws.rng("color"), palette_lab(sample, cfg.min_share), cfg.min_delta_e,
                                          cfg.lightness, cfg.chroma)
            return {"color": list(color), "min_delta_e": round(de, 3)}
        return {"color": list(color)}

    def render_plate(self, p, size):
        return compose.solid(size, p["color"])
