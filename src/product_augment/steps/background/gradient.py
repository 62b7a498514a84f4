"""Kind `gradient`: linear or radial, its colours fixed or drawn as neighbours under the contrast rule."""
from __future__ import annotations

import numpy as np

from ... import scene
from ...ops import plates
from ...ops.color import lab_to_srgb, lch_to_lab, srgb_to_lab
from ...sample import SceneLight
from .base import _Background
from .contrast import _first_passing, contrasting_color, palette_lab


class GradientBackground(_Background):
    def draw_plate(self, sample, draws, canvas):
        cfg = self.config
        pal = palette_lab(sample, cfg.min_share)
        shape = draws.value(cfg.shape, "shape")
        angle = float(draws.value(cfg.angle, "angle"))
        center = draws.rng("center").uniform(0.3, 0.7, size=2).tolist()
        radius = float(draws.value(cfg.radius, "radius"))
        rng = draws.rng("colors")
        if isinstance(cfg.colors, list):
            colors = [list(c) for c in cfg.colors]
        else:
            base, _ = contrasting_color(rng, pal, cfg.min_delta_e, cfg.lightness, cfg.chroma)
            colors = [list(base)]
            l0, a0, b0 = srgb_to_lab(np.array(base, np.uint8))
            c0, h0 = np.hypot(a0, b0), np.degrees(np.arctan2(b0, a0))
            for _ in range(max(2, min(cfg.colors, 4)) - 1):
                n = 32
                sign = rng.choice([-1.0, 1.0], size=n)
                spread = np.array([draws.value(cfg.spread, "spread") for _ in range(n)])
                lab = lch_to_lab(np.clip(l0 + sign * spread, 5, 99),
                                 c0 * rng.uniform(0.6, 1.4, n) + rng.uniform(0, 6, n),
                                 h0 + rng.uniform(-cfg.hue_shift, cfg.hue_shift, n))
                col, _, passed = _first_passing(lab_to_srgb(lab), pal, cfg.min_delta_e)
                if not passed:  # nothing near the base passes: an unrelated colour
                    col, _ = contrasting_color(rng, pal, cfg.min_delta_e, cfg.lightness, cfg.chroma)
                colors.append(list(col))
                l0, a0, b0 = srgb_to_lab(np.array(col, np.uint8))
                c0, h0 = np.hypot(a0, b0), np.degrees(np.arctan2(b0, a0))
        return {"shape": shape, "colors": colors, "angle": round(angle, 6),
                "center": [round(c, 6) for c in center], "radius": round(radius, 6)}

    def light(self, p, size):
        lum = [float(srgb_to_lab(np.array(c, np.uint8))[0]) for c in p["colors"]]
        az, el = scene.light_from_gradient(lum, p["shape"], p["angle"], tuple(p["center"]))
        return SceneLight(az, el, "gradient"), None

    def render_plate(self, p, size):
        return plates.gradient_plate(size, p["colors"], p["shape"], p["angle"], tuple(p["center"]), p["radius"])
