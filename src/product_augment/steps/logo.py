"""Put a logo, sticker or caption where it does not cover the product.

Preset:
    - logo: {kind: logo, path: ../logos, size: {range: [0.12, 0.22]}, corner: {choice: [top-left, top-right]}}
    - logo: {kind: caption, text: {choice: ["SALE −20%", "NEW"]}, badge: rounded}

Placement: the product matte (alpha > `threshold`) and the "shadow" layer, when present, dilated by
`margin`, are marked occupied on a grid of ~64 cells a side; the largest free axis-aligned rectangle
that fits the overlay's aspect is found with the histogram-stack method (ops.placement). The
overlay's size is sqrt(area) = `size` × the canvas's shortest side (so a long caption and a square
sticker look equally heavy), shrunk to fit, and skipped (with the reason recorded in params) if it
would be smaller than `min_size`. Among free rectangles that fit, the one nearest the preferred
`corner` wins. It never covers the product.
"""
from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any, ClassVar, Literal

import cv2
import numpy as np
from pydantic import Field, field_validator

from .. import compose
from ..folders import ImageFolder, check_images
from ..ops.color import delta_e_2000, srgb_to_lab
from ..ops.overlay import caption_size, load_font, render_caption, resize_rgba
from ..ops.placement import CORNERS, place_box
from ..pipeline import ParamStep
from ..presets.fields import one_of
from ..presets.sampling import Bounded, Bounds, ByShape, ChoiceSpec, Draws, RangeSpec, SampledFloat, sampled
from ..presets.types import Color, PresetPath
from ..sample import Sample

DEFAULT_FONT = "DejaVuSans-Bold.ttf"  # in the package's fonts
Corner = one_of("top-left", "top-right", "bottom-left", "bottom-right", "top", "bottom", "left",
                 "right", "any")


def _corners() -> ChoiceSpec:
    return ChoiceSpec[Corner](choice=["top-left", "top-right", "bottom-left", "bottom-right"])


class _Common(Bounded):
    limits: ClassVar[dict[str, Bounds]] = {"size": Bounds(0.0, 1.0, open_low=True), "opacity": Bounds(0.0, 1.0)}
    size: SampledFloat = Field(default_factory=lambda: RangeSpec(range=(0.12, 0.2)),
                               description="sqrt(overlay area) / canvas's shortest side")
    min_size: float = Field(0.06, gt=0, le=1, description="skip if less than this fits (same measure)")
    margin: float = Field(0.02, ge=0, le=0.5, description="gap to product/shadow, fraction of canvas")
    border: float = Field(0.03, ge=0, le=0.5, description="gap to the canvas edge, fraction of canvas")
    corner: sampled(Corner) = Field(default_factory=_corners, description="preferred position")
    opacity: SampledFloat = 1.0
    threshold: float = Field(0.02, ge=0, lt=1, description="matte above this counts as product")
    avoid_layers: list[str] = Field(["shadow"], description="layers the overlay must not cover")


class LogoConfig(_Common):
    kind: Literal["logo"]
    path: PresetPath | None = Field(None, description="folder of RGBA PNGs; default the repo's logos/")

    @field_validator("path")
    @classmethod
    def _folder_has_pngs(cls, v: Path | None) -> Path | None:
        if v is None:
            return v
        if not Path(v).is_dir():
            raise ValueError(f"{v} is a file; expected a folder of RGBA .png files")
        problems = check_images(v, (".png",))
        if problems:
            raise ValueError(problems[0] if problems[0].startswith("no images") else
                             f"{v}: " + "; ".join(problems[:5]) + (" …" if len(problems) > 5 else ""))
        return v


class CaptionConfig(_Common):
    kind: Literal["caption"]
    text: sampled(str) = Field(default_factory=lambda: ChoiceSpec[str](
        choice=["SALE −20%", "NEW", "−30%", "BESTSELLER", "LIMITED", "ECO", "TOP"]))
    badge: sampled(one_of("none", "rounded", "pill", "circle")) = Field(
        default_factory=lambda: ChoiceSpec[str](choice=["rounded", "pill", "circle"]))
    badge_color: sampled(Color) = Field(default_factory=lambda: ChoiceSpec[Color](
        choice=["#d62828", "#111111", "#f4c430", "#ffffff", "#1d4ed8", "#0f766e"]))
    text_color: Annotated[one_of("auto") | Color, ByShape()] = Field("auto", description="auto: black or white, "
                                                                "whichever reads better")
    min_contrast: float = Field(20.0, ge=0, le=100, description="badge vs what is under it (ΔE00); "
                                                                 "below, the farthest listed colour is used")
    font: PresetPath | None = Field(None, description="TTF/OTF file; default DejaVu Sans Bold")


Config = Annotated[LogoConfig | CaptionConfig, Field(discriminator="kind")]


class LogoStep(ParamStep):
    """What both kinds share: the overlay's size, corner and opacity, its place off the product and
    the layers it avoids, and the painting. A kind says what the overlay is (`draw_overlay`: its
    parameters and aspect) and renders it (`overlay`)."""

    name = "logo"
    requires = frozenset({"alpha"})
    provides = frozenset({"layer:logo"})

    def __init__(self, config: Any):
        self.config = config
        self.uses = self.contract_uses(config)  # type: ignore[misc]

    @staticmethod
    def contract_uses(config: Any) -> frozenset[str]:
        """Painted into the background plate, placed off the layers it avoids: those steps come first."""
        return frozenset({"plate", *(f"layer:{n}" for n in config.avoid_layers)})

    def draw_overlay(self, draws: Draws) -> tuple[dict[str, Any], float]:
        """The overlay's parameters and its aspect (width / height)."""
        raise NotImplementedError

    def placed(self, sample: Sample, p: dict[str, Any]) -> None:
        """Adjust the parameters once the box is known (a caption's badge colour)."""

    def overlay(self, params: Mapping[str, Any], size: tuple[int, int]) -> np.ndarray:
        """The RGBA overlay for a box of `size`."""
        raise NotImplementedError

    def draw(self, sample: Sample, rng: np.random.Generator) -> dict[str, Any]:
        cfg = self.config
        draws = Draws(rng)
        content, aspect = self.draw_overlay(draws)
        p: dict[str, Any] = {"kind": cfg.kind, **content}
        size = float(draws.value(cfg.size, "size"))
        corner = draws.value(cfg.corner, "corner")
        opacity = float(draws.value(cfg.opacity, "opacity"))
        p.update(size=round(size, 6), corner=corner, opacity=round(opacity, 6))

        short = min(sample.width, sample.height)
        occupied = sample.alpha > cfg.threshold
        for name in cfg.avoid_layers:
            if name in sample.layers:
                occupied = occupied | (sample.layers[name] > cfg.threshold)
        # `size` is the side of a square of the same area; as a width: size * sqrt(aspect)
        want_w = size * short * np.sqrt(aspect)
        min_w = cfg.min_size * short * np.sqrt(aspect)
        box, reason = place_box(occupied, aspect, want_w, min_w, int(np.ceil(cfg.margin * short)),
                                corner, border=int(np.ceil(cfg.border * short)))
        if box is None:
            p.update(box=None, skipped=reason)
        else:
            p.update(box=[int(v) for v in box])
            self.placed(sample, p)
        return p

    def apply(self, sample: Sample, params: Mapping[str, Any]) -> Sample:
        box = params.get("box")
        if box is None:
            return sample.with_layer("logo", compose.blank(sample))
        x0, y0, x1, y1 = box
        size = (x1 - x0, y1 - y0)
        rgb, a = resize_rgba(self.overlay(params, size), size)
        return compose.paint_over(sample, rgb, a * np.float32(params["opacity"]), tuple(box), "logo")


class ImageLogoStep(LogoStep):
    """Kind `logo`: one of a folder's RGBA files."""

    def __init__(self, config: LogoConfig, logos: ImageFolder):
        super().__init__(config)
        self.logos = logos  # decoded on first use

    def draw_overlay(self, draws):
        i = int(draws.rng("logo").integers(len(self.logos)))
        h, w = self.logos[i].shape[:2]
        return {"file": self.logos.names[i], "index": i}, w / h

    def overlay(self, params, size):
        return self.logos[params["index"]]


class CaptionStep(LogoStep):
    """Kind `caption`: a text on a badge, its colour kept readable against what lies under it."""

    def __init__(self, config: CaptionConfig, font_data: bytes):
        super().__init__(config)
        self._font_data = font_data  # the font file's bytes
        self._fonts: dict[int, Any] = {}

    def _font(self, size: int):
        font = self._fonts.get(size)
        if font is None:
            if len(self._fonts) > 64:
                self._fonts.clear()
            font = self._fonts[size] = load_font(self._font_data, size)
        return font

    def draw_overlay(self, draws):
        cfg = self.config
        text = str(draws.value(cfg.text, "text"))
        badge = draws.value(cfg.badge, "badge")
        badge_rgb = tuple(int(v) for v in draws.value(cfg.badge_color, "badge_color"))
        text_rgb = _readable_on(badge_rgb) if cfg.text_color == "auto" else tuple(cfg.text_color)
        w100, h100 = caption_size(self._font(100), text, badge)
        return {"text": text, "badge": badge, "badge_color": list(badge_rgb), "text_color": list(text_rgb)}, \
            w100 / h100

    def placed(self, sample, p):
        """If the drawn badge colour is too close to what lies under the box, take the listed
        badge colour farthest from it (deterministic, no extra random numbers)."""
        cfg = self.config
        x0, y0, x1, y1 = p["box"]
        under = np.asarray(cv2.mean(sample.image[y0:y1, x0:x1])[:3])
        under_lab = srgb_to_lab(np.clip(np.rint(under), 0, 255).astype(np.uint8))
        if delta_e_2000(srgb_to_lab(np.array(p["badge_color"], np.uint8)), under_lab) >= cfg.min_contrast:
            return
        options = cfg.badge_color.choice if isinstance(cfg.badge_color, ChoiceSpec) else []
        if not options:
            return
        d = delta_e_2000(srgb_to_lab(np.array(options, np.uint8)), under_lab)
        badge_rgb = tuple(int(v) for v in options[int(np.argmax(d))])
        p["badge_color"] = list(badge_rgb)
        if cfg.text_color == "auto":
            p["text_color"] = list(_readable_on(badge_rgb))

    def overlay(self, params, size):
        # render at roughly the final size, then fit exactly (text metrics are not linear)
        _, h100 = caption_size(self._font(100), params["text"], params["badge"])
        # font sizes on a 6 % geometric ladder keep the font cache small (loading a size costs
        # ~1 ms); the render is then resized to the box
        ideal = max(6.0, size[1] * 100 / h100)
        pt = int(np.ceil(6.0 * 1.06 ** np.ceil(np.log(ideal / 6.0) / np.log(1.06) - 1e-9)))
        return render_caption(self._font(pt), params["text"], params["badge"],
                              tuple(params["text_color"]), tuple(params["badge_color"]))


def _readable_on(rgb: tuple[int, int, int]) -> tuple[int, int, int]:
    """Black or white, whichever has the larger lightness difference from `rgb`."""
    lightness = float(srgb_to_lab(np.array(rgb, np.uint8))[0])
    return (17, 17, 17) if lightness > 60 else (255, 255, 255)


def step_class(config: Any) -> type[LogoStep]:
    return ImageLogoStep if isinstance(config, LogoConfig) else CaptionStep


def build(config: Any, ctx: Any = None) -> LogoStep:
    """The logo step; its logo files are listed (decoded on first use) or its font read here."""
    from ..resources import asset_dir
    if isinstance(config, LogoConfig):
        folder = Path(config.path) if config.path is not None else asset_dir("logos")
        return ImageLogoStep(config, ImageFolder(folder, suffixes=(".png",), max_side=512, mode="rgba",
                                                 what=".png files"))
    font = Path(config.font) if config.font is not None else asset_dir("fonts") / DEFAULT_FONT
    return CaptionStep(config, font.read_bytes())


__all__ = ["CORNERS", "CaptionStep", "Config", "ImageLogoStep", "LogoStep", "build", "step_class"]
