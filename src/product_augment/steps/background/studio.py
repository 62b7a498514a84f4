"""Kind `studio`: a procedural studio scene."""
from __future__ import annotations

import numpy as np

from ...ops import plates
from ...ops.color import lab_to_srgb, srgb_to_lab
from ...sample import SceneLight
from .base import _Background
from .contrast import contrasting_color, palette_lab


class StudioBackground(_Background):
    """A procedural studio: wall, soft horizon, floor, light spot, vignette, glossy sheen."""

    provides = frozenset({"plate", "floor_y"})
    position = "floor"

    def floor_bottom(self, plate, h, u):
        hy = plate["horizon"] * h
        lo, hi = self.config.floor
        return hy + (lo + (hi - lo) * u) * (0.97 * h - hy)

    def draw_plate(self, sample, draws, canvas):
        cfg = self.config
        pal = palette_lab(sample, cfg.min_share)
        wall = draws.value(cfg.wall, "wall")
        wall_de = None
        if wall == "random":
            wall, wall_de = contrasting_color(draws.rng("wall"), pal, cfg.min_delta_e, cfg.lightness, cfg.chroma)
        lab = srgb_to_lab(np.array(wall, np.uint8))
        lab[0] = np.clip(lab[0] + draws.value(cfg.floor_delta, "floor_delta"), 3, 99)
        floor = lab_to_srgb(lab)
        spot = draws.rng("light_xy")
        p = {"wall": list(wall), "floor": [int(v) for v in floor],
             "horizon": round(float(draws.value(cfg.horizon, "horizon")), 6),
             "softness": round(float(draws.value(cfg.softness, "softness")), 6),
             "light_xy": [round(float(spot.uniform(0.3, 0.7)), 6), round(float(spot.uniform(0.15, 0.45)), 6)],
             "light_radius": round(float(draws.value(cfg.light_radius, "light_radius")), 6),
             "light_strength": round(float(draws.value(cfg.light_strength, "light_strength")), 6),
             "vignette": round(float(draws.value(cfg.vignette, "vignette")), 6),
             "sheen": round(float(draws.value(cfg.sheen, "sheen")), 6)}
        if wall_de is not None:
            p["min_delta_e"] = round(wall_de, 3)
        return p

    def render_plate(self, p, size):
        return plates.studio_plate(size, p["wall"], p["floor"], p["horizon"], p["softness"],
                                   tuple(p["light_xy"]), p["light_radius"], p["light_strength"],
                                   p["vignette"], p["sheen"])

    def light(self, p, size):
        # the light spot on the wall says where the key light is: left of centre, lit from the left
        lx, ly = p["light_xy"]
        az = float(np.clip((0.5 - lx) / 0.2, -1.0, 1.0)) * 60.0
        return SceneLight(round(az, 3), round(70.0 - 60.0 * ly, 3), "studio"), float(p["sheen"])

    def floor_y(self, placed, p):
        return float(p["horizon"] * placed.height)
