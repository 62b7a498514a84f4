"""Kind `texture`: a texture from a folder, tiled or scaled, tinted until it contrasts."""
from __future__ import annotations

from typing import Any

import cv2
import numpy as np

from ...folders import ImageFolder
from ...ops import plates
from ...ops.color import min_delta_e, srgb_to_lab
from .base import _Background
from .contrast import _mean_rgb, contrasting_color, palette_lab


class TextureBackground(_Background):
    """A texture from a folder (default the shipped textures/), tiled or scaled, tinted."""

    def __init__(self, config: Any, textures: ImageFolder):
        super().__init__(config)
        self.textures = textures
        self._means: dict[int, np.ndarray] = {}

    def _mean(self, i: int) -> np.ndarray:
        if i not in self._means:
            self._means[i] = _mean_rgb(self.textures[i])
        return self._means[i]

    def draw_plate(self, sample, draws, canvas):
        cfg = self.config
        i = int(draws.rng("texture").integers(len(self.textures)))
        mode = draws.value(cfg.mode, "mode")
        rot = int(draws.rng("rotate").integers(4)) if cfg.rotate else 0
        tile_size = float(draws.value(cfg.tile_size, "tile_size"))
        zoom = float(draws.value(cfg.zoom, "zoom"))
        offset = draws.rng("offset").uniform(0, 1, size=2).tolist()
        strength = float(draws.value(cfg.tint, "tint"))
        gain = float(draws.value(cfg.brightness, "brightness"))
        pal = palette_lab(sample, cfg.min_share)
        tint_rgb, _ = contrasting_color(draws.rng("tint_color"), pal, cfg.min_delta_e, cfg.lightness, cfg.chroma)
        mean = self._mean(i) * gain
        # raise the tint until the texture's mean colour passes the contrast rule (if it can)
        for s in [strength] + [x for x in np.arange(0.15, 0.86, 0.1) if x > strength]:
            m = np.clip((1 - s) * mean + s * np.asarray(tint_rgb), 0, 255).astype(np.uint8)
            if min_delta_e(srgb_to_lab(m), pal)[0] >= cfg.min_delta_e:
                strength = float(s)
                break
        return {"file": self.textures.names[i], "index": i, "mode": mode, "rotate": rot,
                "tile_size": round(tile_size, 6), "zoom": round(zoom, 6),
                "offset": [round(o, 6) for o in offset], "tint": list(tint_rgb),
                "tint_strength": round(strength, 6), "brightness": round(gain, 6)}

    def render_plate(self, p, size):
        w, h = size
        tex = np.ascontiguousarray(np.rot90(self.textures[p["index"]], p["rotate"]))
        if p["mode"] == "tile":
            side = max(8, round(p["tile_size"] * min(w, h)))
            th, tw = tex.shape[:2]
            f = side / max(th, tw)
            tex = cv2.resize(tex, (max(1, round(tw * f)), max(1, round(th * f))),
                             interpolation=cv2.INTER_AREA if f < 1 else cv2.INTER_LINEAR)
        # colour work on the (small) texture, before it is repeated or enlarged to the canvas
        tex = plates.tint(tex, p["tint"], p["tint_strength"], p["brightness"])
        if p["mode"] == "tile":
            off = (int(p["offset"][0] * tex.shape[1]), int(p["offset"][1] * tex.shape[0]))
            return plates.tile_plate(tex, size, off)
        return plates.crop_scale_plate(tex, size, p["zoom"], tuple(p["offset"]))
