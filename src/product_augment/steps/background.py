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

import dataclasses
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any, ClassVar, Literal

import cv2
import numpy as np
from pydantic import Field, field_validator

from .. import compose, scene
from ..io import ImageFolder, check_images
from ..ops import harmonize, plates
from ..ops.color import lab_to_srgb, lch_to_lab, linear_to_srgb, min_delta_e, srgb_to_lab, srgb_to_linear
from ..ops.placement import scale_translate
from ..pipeline import ParamStep, SampleError
from ..presets.fields import ConfigModel, one_of
from ..presets.sampling import Bounded, Bounds, ByShape, ChoiceSpec, Draws, RangeSpec, SampledFloat, sampled
from ..presets.types import Color, PresetPath
from ..sample import Instance, Sample, SceneLight

# ---------------------------------------------------------------------------------------------
# Config


class Canvas(ConfigModel):
    size: int = Field(1024, ge=16, le=8192, description="longest side of the output in pixels")
    aspect: float = Field(1.0, gt=0.1, lt=10, description="width / height")

    def wh(self) -> tuple[int, int]:
        if self.aspect >= 1:
            return self.size, max(1, round(self.size / self.aspect))
        return max(1, round(self.size * self.aspect)), self.size


class Refine(ConfigModel):
    erode: int = Field(0, ge=0, le=64, description="shrink the matte by this many canvas pixels")
    feather: float = Field(1.0, ge=0, le=64, description="soften the matte edge over this many pixels")
    decontaminate: bool = Field(True, description="remove the old background mixed into edge colours")


# Every number a background config can draw must lie in these bounds (a preset error names the field).
LIMITS: dict[str, Bounds] = {
    "scale": Bounds(0.0, 10.0, open_low=True), "zoom": Bounds(1.0, 20.0), "radius": Bounds(0.0, 5.0, open_low=True),
    "tile_size": Bounds(0.0, 5.0, open_low=True), "tint": Bounds(0.0, 1.0), "brightness": Bounds(0.0, 3.0, open_low=True),
    "spread": Bounds(0.0, 100.0), "floor_delta": Bounds(-100.0, 100.0), "horizon": Bounds(0.0, 1.0),
    "softness": Bounds(0.0, 1.0), "light_strength": Bounds(0.0, 1.0), "light_radius": Bounds(0.0, 2.0, open_low=True),
    "vignette": Bounds(0.0, 1.0), "sheen": Bounds(0.0, 1.0),
}


class _Placed(Bounded):
    limits: ClassVar[dict[str, Bounds]] = LIMITS
    canvas: Canvas | None = Field(default_factory=Canvas, description="null keeps the input size")
    scale: SampledFloat | None = Field(
        default_factory=lambda: RangeSpec(range=(0.6, 0.8)),
        description="product box's longest side / canvas's shortest side; null = keep the input's "
                    "scale (identity when canvas is null, else fit the whole input)")
    position: one_of("center", "random", "floor") | None = Field(
        None, description="center (+ jitter), random (anywhere inside), floor (standing on the "
                          "lower part); default floor for studio and image, center otherwise")
    jitter: float = Field(0.05, ge=0, le=0.5, description="center: max offset, fraction of the canvas")
    max_enlarge: float | None = Field(
        1.5, ge=1.0, le=100.0, description="never enlarge the product by more than this (input pixels to "
                                           "canvas pixels): a smaller product is placed smaller, and the "
                                           "manifest says so; null: no cap")
    support: one_of("auto", "standing", "hanging") = Field(
        "auto", description="how the product is held; auto: hanging when its matte reaches the photo's top "
                            "border through a narrow part (a cord), else standing. A hanging product hangs "
                            "from the canvas top and gets no floor shadow or reflection")
    refine: Refine = Field(default_factory=Refine)


SMALL_PRODUCT_CM = 60.0  # classes at most this long go on tables and counters, at least this long on floors
HARMONIZE_IMAGE = 0.5  # the image kind's default strength (tuned on rendered pairs: scripts/bench/harmonize.py)


class _Contrast(ConfigModel):
    min_delta_e: float = Field(25.0, ge=0, le=100, description="CIEDE2000 distance to palette colours")
    min_share: float = Field(0.1, ge=0, le=1, description="palette colours below this share are ignored")
    lightness: tuple[float, float] = Field((35.0, 97.0), description="CIELAB L* range of random colours")
    chroma: tuple[float, float] = Field((0.0, 32.0), description="CIELAB chroma range of random colours")


ColorOrRandom = sampled(one_of("random") | Color)


class SolidConfig(_Placed, _Contrast):
    kind: Literal["solid"]
    color: ColorOrRandom = "random"


class GradientConfig(_Placed, _Contrast):
    kind: Literal["gradient"]
    shape: sampled(one_of("linear", "radial")) = Field(
        default_factory=lambda: ChoiceSpec[str](choice=["linear", "radial"]))
    colors: Annotated[Annotated[int, Field(ge=2, le=4)] | Annotated[list[Color], Field(min_length=2)],
                      ByShape()] = Field(
        2, description="number of random colours (2..4) or a fixed list")
    angle: SampledFloat = Field(default_factory=lambda: RangeSpec(range=(0, 360)), description="degrees")
    spread: SampledFloat = Field(default_factory=lambda: RangeSpec(range=(8, 25)),
                                 description="L* difference between neighbouring random colours")
    hue_shift: float = Field(40.0, ge=0, le=180, description="max hue change between random colours")
    radius: SampledFloat = Field(default_factory=lambda: RangeSpec(range=(0.7, 1.2)),
                                 description="radial: fraction of the half diagonal")


class TextureConfig(_Placed, _Contrast):
    kind: Literal["texture"]
    path: PresetPath | None = Field(None, description="folder of textures; default the repo's textures/")
    mode: sampled(one_of("tile", "scale")) = "tile"
    tile_size: SampledFloat = Field(default_factory=lambda: RangeSpec(range=(0.35, 0.7)),
                                    description="tile: one tile's side / canvas's shortest side")
    zoom: SampledFloat = Field(default_factory=lambda: RangeSpec(range=(1.0, 1.5)),
                               description="scale: crop 1/zoom of the texture")
    rotate: bool = Field(True, description="random multiple of 90°")
    tint: SampledFloat = Field(default_factory=lambda: RangeSpec(range=(0.0, 0.35)),
                               description="strength of a colour tint, 0 = none")
    brightness: SampledFloat = Field(default_factory=lambda: RangeSpec(range=(0.9, 1.08)))

    @field_validator("path")
    @classmethod
    def _folder_has_images(cls, v: Path | None) -> Path | None:
        return _has_images(v)


class ImageConfig(_Placed):
    kind: Literal["image"]
    path: PresetPath = Field(description="folder of background photos")
    scale: SampledFloat | None = Field(default_factory=lambda: RangeSpec(range=(0.35, 0.55)),
                                       description="product box's longest side / canvas's shortest side "
                                                   "(sizing scale, or physical sizing where it cannot apply)")
    harmonize: float = Field(
        HARMONIZE_IMAGE, ge=0.0, le=1.0,
        description="relight the product like the photo: its white balance and exposure moved this far "
                    "(0 = as shot, 1 = fully) from the light of its own photo's background to the light "
                    "of the backdrop (ops/harmonize.py: white patch, von Kries)")
    sizing: one_of("physical", "scale") = Field(
        "physical", description="physical: the product at its class's physical size (scene.SIZE_PRIOR_CM) where the "
                            "photo's sidecar gives its camera, standing further back when it is too big or "
                            "would be enlarged past max_enlarge; scale: always `scale`")
    zoom: SampledFloat = Field(default_factory=lambda: RangeSpec(range=(1.0, 1.3)),
                               description="crop 1/zoom of the photo (random position)")
    flip: bool = Field(True, description="mirror the photo left-right at random")
    floor: tuple[float, float] = Field((0.8, 0.95), description="floor: product bottom, fraction of H")
    cache: int = Field(16, ge=1, le=512, description="decoded photos kept in memory")

    @field_validator("path")
    @classmethod
    def _folder_has_images(cls, v: Path | None) -> Path | None:
        return _has_images(v)


class StudioConfig(_Placed, _Contrast):
    kind: Literal["studio"]
    wall: ColorOrRandom = "random"
    lightness: tuple[float, float] = (55.0, 95.0)
    chroma: tuple[float, float] = (0.0, 28.0)
    floor_delta: SampledFloat = Field(default_factory=lambda: RangeSpec(range=(-16, -5)),
                                      description="floor L* minus wall L*")
    horizon: SampledFloat = Field(default_factory=lambda: RangeSpec(range=(0.55, 0.7)),
                                  description="wall/floor line, fraction of H (floor_y)")
    softness: SampledFloat = Field(default_factory=lambda: RangeSpec(range=(0.04, 0.12)))
    light_strength: SampledFloat = Field(default_factory=lambda: RangeSpec(range=(0.15, 0.45)))
    light_radius: SampledFloat = Field(default_factory=lambda: RangeSpec(range=(0.25, 0.5)))
    vignette: SampledFloat = Field(default_factory=lambda: RangeSpec(range=(0.1, 0.4)))
    sheen: SampledFloat = Field(0.15, description="glossy floor band, 0..1")
    floor: tuple[float, float] = Field((0.35, 0.75), description="product bottom between horizon (0) "
                                                                "and canvas bottom (1)")


class TransparentConfig(_Placed):
    kind: Literal["transparent"]
    canvas: Canvas | None = Field(None, description="null keeps the input size (a plain cut-out)")
    scale: SampledFloat | None = Field(None, description="null keeps the product where it is")


Config = Annotated[
    SolidConfig | GradientConfig | TextureConfig | ImageConfig | StudioConfig | TransparentConfig,
    Field(discriminator="kind"),
]


def _has_images(folder: Path | None) -> Path | None:
    """A folder of readable images, checked from the files' headers when the preset loads (None:
    the shipped textures), so a bad file is a preset error rather than a failure mid-run."""
    if folder is None:
        return None
    if not Path(folder).is_dir():
        raise ValueError(f"{folder} is a file; expected a folder of images")
    problems = check_images(folder)
    if problems:
        raise ValueError(f"{folder}: " + "; ".join(problems[:5]) + (" …" if len(problems) > 5 else ""))
    return folder


# ---------------------------------------------------------------------------------------------
# Random colours under the contrast rule


def palette_lab(sample: Sample, min_share: float) -> np.ndarray:
    """Lab (K×3) of the palette colours that the contrast rule protects; empty without a palette."""
    if not sample.palette:
        return np.zeros((0, 3))
    return np.array([c.lab for c in sample.palette if c.share >= min_share]).reshape(-1, 3)


def contrasting_color(rng: np.random.Generator, pal: np.ndarray, min_de: float,
                      lightness: tuple[float, float], chroma: tuple[float, float],
                      n: int = 64) -> tuple[tuple[int, int, int], float]:
    """An sRGB colour at least `min_de` from every palette colour, and its distance.

    Always consumes the same amount of randomness (two batches of n candidates), so later draws do
    not depend on which candidate passed. Fallback: the farthest of the wide batch, black and white."""
    lab = lch_to_lab(rng.uniform(*lightness, n), rng.uniform(*chroma, n), rng.uniform(0, 360, n))
    # a second batch over the whole lightness range, used only when the first has no passing
    # colour (e.g. a light grey product and a light-only range): drawn always, for determinism
    wide = lch_to_lab(rng.uniform(8, 98, n), rng.uniform(0, max(chroma[1], 45), n), rng.uniform(0, 360, n))
    rgb, de, passed = _first_passing(lab_to_srgb(lab), pal, min_de)
    if passed:
        return rgb, de
    # from the wide batch, the passing colour whose lightness is nearest the configured range
    wide_rgb = lab_to_srgb(wide)
    wide_l = srgb_to_lab(wide_rgb)[:, 0]
    off_range = np.maximum(lightness[0] - wide_l, 0) + np.maximum(wide_l - lightness[1], 0)
    rgb, de, _ = _first_passing(wide_rgb[np.argsort(off_range, kind="stable")], pal, min_de)
    return rgb, de


def _first_passing(rgb: np.ndarray, pal: np.ndarray, min_de: float
                   ) -> tuple[tuple[int, int, int], float, bool]:
    """The first candidate that passes the rule, else the farthest of candidates, white and black;
    with its distance and whether a candidate passed."""
    rgb = np.concatenate([rgb.reshape(-1, 3), [[255, 255, 255], [0, 0, 0]]]).astype(np.uint8)
    d = min_delta_e(srgb_to_lab(rgb), pal)
    ok = np.flatnonzero(d[:-2] >= min_de)
    i = int(ok[0]) if ok.size else int(np.argmax(d))
    return tuple(int(v) for v in rgb[i]), float(min(d[i], 1e6)), bool(ok.size)


def _mean_rgb(img: np.ndarray) -> np.ndarray:
    """Mean colour in linear light, back to sRGB 0..255 (what the eye averages)."""
    small = cv2.resize(img, (64, 64), interpolation=cv2.INTER_AREA)
    return linear_to_srgb(srgb_to_linear(small).reshape(-1, 3).mean(axis=0)) * 255.0


# ---------------------------------------------------------------------------------------------
# The steps: one class per kind. Each draws its plate's parameters and renders the plate; the
# placement, the warp of every target and the compositing are shared (`compose.place`).


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


class ImageBackground(_Background):
    """A background photo from a folder, cropped and zoomed; the product stands on its floor.

    A photo may carry a sidecar (`<stem>.json`, `scene.read_backdrop`): its camera sizes the product
    (`sizing: physical`), its light and gloss go to the shadow step, and the objects of the 21 classes it
    shows are annotated in the output (hidden where the product covers them)."""

    uses = frozenset()  # a photo is never recoloured: the palette is not read
    provides = frozenset({"plate", "floor_y"})
    position = "floor"
    min_object_area = 0.001  # a backdrop object smaller than this share of the canvas is not annotated

    def __init__(self, config: Any, photos: ImageFolder):
        super().__init__(config)
        self.photos = photos
        self.floor_range = tuple(config.floor)  # type: ignore[misc]
        self.backdrops: list[scene.Backdrop | None] = []
        for path in photos.files:
            side = scene.sidecar_path(path)
            bd = scene.read_backdrop(side) if side.is_file() else None
            if bd is not None:
                from PIL import Image
                with Image.open(path) as im:
                    iw, ih = im.size
                if abs(iw / ih - bd.size[0] / bd.size[1]) > 0.01:
                    raise scene.BackdropError(f"{side}: field 'size' {list(bd.size)} does not have the aspect "
                                              f"of {path.name} ({iw}x{ih})")
            self.backdrops.append(bd)

    # -- true size ------------------------------------------------------------------------------

    def _prior(self, sample: Sample) -> tuple[str, tuple[float, float]] | None:
        if self.config.sizing != "physical" or not sample.instances:
            return None
        name = scene.class_name(sample.instances[0].class_id)
        return None if name is None else (name, scene.SIZE_PRIOR_CM[name])

    def _crop(self, bd: scene.Backdrop, canvas: tuple[int, int], zoom: float, pos) -> tuple[float, float]:
        """(canvas row of the horizon, canvas row where the support starts) of the crop
        `plates.crop_scale_plate` takes (sidecar pixels; only fractions matter)."""
        w, h = canvas
        iw, ih = bd.size
        cw = min(iw, ih * w / h) / max(zoom, 1.0)
        ch = cw * h / w
        y0 = pos[1] * (ih - ch)
        k = h / ch
        return (bd.horizon * ih - y0) * k, (bd.support_from * ih - y0) * k

    def _stand(self, bd: scene.Backdrop, canvas, zoom, pos, box, size_cm: float, bottom: float,
               cap: float | None) -> tuple[float, float, str] | None:
        """(scale, contact row, note) of a product `size_cm` long standing on this crop's support, as
        near the drawn `bottom` as it fits; None if it fits nowhere on the support."""
        w, h = canvas
        bx0, by0, bx1, by1 = box
        bw, bh = bx1 - bx0, by1 - by0
        longest = max(bw, bh)
        hy, start = self._crop(bd, canvas, zoom, pos)
        y, step = bottom, max(1.0, 0.005 * h)
        note = "at the drawn contact row"
        while True:
            f = size_cm * scene.px_per_cm(y, hy, bd.camera_height_cm) / longest
            if f > 0 and f * bw <= 0.98 * w and y - f * bh >= 0.02 * h and (cap is None or f <= cap):
                return f, y, note
            if y <= start or f <= 0:
                return None
            y = max(start, y - step)
            note = "further back than the drawn contact row: too big there" + \
                   ("" if cap is None else " or enlarged more than max_enlarge")

    def draw_plate(self, sample, draws, canvas):
        cfg = self.config
        photo = draws.rng("photo")
        i = int(photo.integers(len(self.photos)))
        p = {"file": self.photos.names[i], "index": i, "zoom": round(float(draws.value(cfg.zoom, "zoom")), 6),
             "pos": draws.rng("pos").uniform(0, 1, size=2).round(6).tolist(),
             "flip": bool(cfg.flip and draws.rng("flip").integers(2))}
        prior = self._prior(sample)
        box = compose.product_box(sample.alpha) if prior is not None else None
        if prior is not None and box is not None and any(b is not None for b in self.backdrops):
            # the product's physical size, then a backdrop whose support can hold it at that size; if
            # none can (a small input would be enlarged too much), the class's smallest size
            mid = sum(self.floor_range) / 2 * canvas[1]
            # log-uniform: as many kettles as washing machines between 20 and 90 cm would be too many big ones
            drawn = round(float(np.exp(draws.rng("size_cm").uniform(np.log(prior[1][0]), np.log(prior[1][1])))), 3)
            for size_cm in (drawn, prior[1][0]):
                ok = [j for j, bd in enumerate(self.backdrops) if bd is not None and
                      self._stand(bd, canvas, p["zoom"], p["pos"], box, size_cm, mid, cfg.max_enlarge) is not None]
                if ok:
                    break
            p["size_cm"] = size_cm if ok else drawn
            # where a photographer would set it: small things on a table or counter, furniture on the floor
            lo, hi = prior[1]
            kinds = {"counter", "table"} if hi <= SMALL_PRODUCT_CM else {"floor"} if lo >= SMALL_PRODUCT_CM else None
            preferred = [j for j in ok if kinds is None or self.backdrops[j].support_kind in kinds]
            ok = preferred or ok
            if p["size_cm"] != drawn:
                p["size_note"] = f"{drawn:g} cm fits no backdrop: the class's smallest size"
            if ok and i not in ok:
                i = ok[int(photo.integers(len(ok)))]
                p.update(file=self.photos.names[i], index=i,
                         redrawn=f"the first backdrop cannot hold a {prior[0]} of {p['size_cm']:g} cm")
        return p

    def true_size(self, sample, canvas, plate, box, bottom):
        bd = self.backdrops[plate["index"]]
        if self.config.sizing != "physical":
            return None
        if bd is None:
            return f"{plate['file']} has no sidecar (camera unknown)"
        prior = self._prior(sample)
        if prior is None:
            return "class unknown" if not sample.instances else \
                f"class unknown ({scene.class_name(sample.instances[0].class_id) or 'product'})"
        name, size_cm = prior[0], plate["size_cm"]
        stand = self._stand(bd, canvas, plate["zoom"], plate["pos"], box, size_cm, bottom, self.config.max_enlarge)
        if stand is None:
            return (f"a {name} of {size_cm:.0f} cm does not fit {plate['file']}'s support at this crop"
                    + ("" if self.config.max_enlarge is None else " without enlarging it more than max_enlarge"))
        f, y, note = stand
        hy, _start = self._crop(bd, canvas, plate["zoom"], plate["pos"])
        return f, y, {"mode": "true", "class": name, "cm": round(size_cm, 3),
                      "px_per_cm": round(scene.px_per_cm(y, hy, bd.camera_height_cm), 6),
                      "contact_row": round(y, 3), "note": note}

    # -- render ---------------------------------------------------------------------------------

    def harmonized(self, sample, plate):
        """The input photo relit from the light of its own background to the plate's (`harmonize`)."""
        strength = self.config.harmonize
        if strength <= 0 or plate is None or sample.alpha is None:
            return sample
        src = harmonize.light_estimate(sample.image, sample.alpha < 0.02)
        dst = harmonize.light_estimate(plate)
        if src is None or dst is None:
            return sample
        g = harmonize.gains(src, dst, strength)
        return sample.replace(image=harmonize.apply_gains(sample.image, g))

    def render_plate(self, p, size):
        photo = self.photos[p["index"]]
        if p["flip"]:
            photo = photo[:, ::-1]
        return plates.crop_scale_plate(np.ascontiguousarray(photo), size, p["zoom"], tuple(p["pos"]))

    def floor_y(self, placed, p):
        box = compose.product_box(placed.alpha)
        return float(box[3]) if box is not None else float(placed.height)

    def light(self, p, size):
        bd = self.backdrops[p["index"]]
        if bd is None:
            return None, None
        az = -bd.light_azimuth if p["flip"] else bd.light_azimuth
        return SceneLight(az, bd.light_elevation, f"backdrop {p['file']}"), bd.gloss

    def add_backdrop_objects(self, out, p):
        bd = self.backdrops[p["index"]]
        if bd is None or not bd.objects:
            return out
        size = (out.width, out.height)
        product = out.alpha > 0.5 if out.alpha is not None else np.zeros((out.height, out.width), bool)
        extra = []
        for class_id, mask in bd.object_masks():
            m = mask.view(np.uint8) * np.uint8(255)
            if p["flip"]:
                m = cv2.flip(m, 1)
            canvas_mask = (plates.crop_scale_plate(m, size, p["zoom"], tuple(p["pos"])) > 127) & ~product
            if canvas_mask.mean() >= self.min_object_area:
                extra.append(dataclasses.replace(Instance.from_mask(class_id, canvas_mask), backdrop=True))
        return out.replace(instances=tuple(out.instances) + tuple(extra)) if extra else out


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


class TransparentBackground(_Background):
    """No plate: an RGBA output whose alpha is the product's matte."""

    uses = frozenset()

    def render_plate(self, p, size):
        return None


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
        from ..resources import asset_dir
        folder = config.path if config.path is not None else asset_dir("textures")
        return TextureBackground(config, ImageFolder(folder, max_side=1024, what="textures"))
    if isinstance(config, ImageConfig):
        return ImageBackground(config, ImageFolder(config.path, max_side=2048, cache=config.cache,
                                                   what="background photos"))
    return step_class(config)(config)
