"""Put the product on a new background: a plate (solid, gradient, texture, photo, studio scene or
nothing) and one affine placement applied identically to the image, matte, masks and layers.

Preset (one of the kinds; every kind also takes canvas / scale / position / jitter / refine):
    - background: {kind: solid, color: white}
    - background: {kind: solid, color: random, min_delta_e: 25}
    - background: {kind: gradient, shape: {choice: [linear, radial]}, colors: 2}
    - background: {kind: texture, path: ../textures, mode: tile, tint: {range: [0, 0.3]}}
    - background: {kind: image, path: ../backgrounds, scale: {range: [0.35, 0.55]}}
    - background: {kind: studio, horizon: {range: [0.55, 0.7]}, sheen: 0.3}
    - background: {kind: transparent}

Contrast rule: a random colour must differ by at least `min_delta_e` (CIEDE2000) from every
palette colour with a share >= `min_share`, so the product never melts into its background. Colours
are drawn as a batch of candidates in CIE LCh; the first that passes wins, else the candidate (or
black / white) farthest from the palette is used, so the result is deterministic either way. For
textures the rule applies to the texture's mean colour after tint.
"""
from __future__ import annotations

from typing import Any

from ...folders import ImageFolder
from .base import _Background
from .config import (
    HARMONIZE_IMAGE,
    LIMITS,
    SMALL_PRODUCT_CM,
    Canvas,
    ColorOrRandom,
    Config,
    GradientConfig,
    ImageConfig,
    Refine,
    SolidConfig,
    StudioConfig,
    TextureConfig,
    TransparentConfig,
)
from .contrast import contrasting_color, palette_lab
from .gradient import GradientBackground
from .image import ImageBackground
from .solid import SolidBackground
from .studio import StudioBackground
from .texture import TextureBackground
from .transparent import TransparentBackground

KINDS: dict[type, type[_Background]] = {
    SolidConfig: SolidBackground, GradientConfig: GradientBackground, TextureConfig: TextureBackground,
    ImageConfig: ImageBackground, StudioConfig: StudioBackground, TransparentConfig: TransparentBackground,
}


def step_class(config: Any) -> type[_Background]:
    """The step class of a validated config (its requires/provides/uses, without building it)."""
    return KINDS[type(config)]


def build(config: Any, ctx: Any = None) -> _Background:
    """The background step for one validated config; asset folders are listed here (and decoded
    on first use)."""
    if isinstance(config, TextureConfig):
        from ...resources import asset_dir
        folder = config.path if config.path is not None else asset_dir("textures")
        return TextureBackground(config, ImageFolder(folder, max_side=1024, what="textures"))
    if isinstance(config, ImageConfig):
        return ImageBackground(config, ImageFolder(config.path, max_side=2048, cache=config.cache,
                                                   what="background photos"))
    return step_class(config)(config)


__all__ = [
    "HARMONIZE_IMAGE", "LIMITS", "SMALL_PRODUCT_CM", "Canvas", "ColorOrRandom", "Config", "GradientBackground",
    "GradientConfig", "ImageBackground", "ImageConfig", "Refine", "SolidBackground", "SolidConfig",
    "StudioBackground", "StudioConfig", "TextureBackground", "TextureConfig", "TransparentBackground",
    "TransparentConfig", "_Background", "build", "contrasting_color", "palette_lab", "step_class",
]
