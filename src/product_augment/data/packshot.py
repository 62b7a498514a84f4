"""Catalogue-style product photos from a 3D model: light backdrop, studio light, soft contact shadow.

Used for the quick-start ``examples/`` and as a reference of what base e-commerce data looks like.
The shadow is the renderer's ground-plane shadow under a large overhead area light, so it is
physically placed (contact darkening at the feet, soft penumbra), not a generic blur.
"""
from __future__ import annotations

import cv2
import numpy as np

from . import backdrops as bg
from .render import AreaLight, Light, Renderer, View


def packshot_view(rng: np.random.Generator) -> View:
    """A three-quarter studio view: soft warm-neutral key from above-front, cool fill, bright ambient."""
    az = float(rng.choice([-1, 1]) * rng.uniform(20, 50))
    return View(az, float(rng.uniform(8, 25)), 28.0,
                key=Light(az + float(rng.uniform(-40, 40)), float(rng.uniform(45, 70)), 3.2, 5600.0),
                fill=Light(az + 180.0, 20.0, 1.4, 6500.0), ambient=0.45, frame=0.68)


def render_packshot(renderer: Renderer, model, rng: np.random.Generator, shadow_strength: float = 0.55) -> np.ndarray:
    """H×W×3 uint8 packshot of ``model`` with a ground shadow on a white/light-grey backdrop."""
    view = packshot_view(rng)
    res = renderer.render(model, view)
    light = AreaLight(azimuth_deg=view.key.azimuth_deg, elevation_deg=float(rng.uniform(65, 80)), radius_deg=18.0,
                      samples=16)
    matte = renderer.render_shadow(model, view, light, rng)
    s = renderer.size
    grey = float(rng.uniform(236, 252))
    # neutral backdrop: white to light grey with a gentle radial falloff, no colour cast
    back = bg.gradient(s, s, rng)[0].astype(np.float32).mean(axis=-1, keepdims=True) * 0.3 + grey * 0.7
    back = np.repeat(back, 3, axis=-1)
    # a slight blur merges the discrete light samples into one smooth penumbra
    matte = cv2.GaussianBlur(matte, (0, 0), max(0.5, s * 0.004))
    back *= (1.0 - shadow_strength * matte)[..., None]
    a = res.rgba[..., 3:4].astype(np.float32) / 255.0
    out = res.rgba[..., :3].astype(np.float32) * a + back * (1 - a)
    return np.clip(np.round(out), 0, 255).astype(np.uint8)
