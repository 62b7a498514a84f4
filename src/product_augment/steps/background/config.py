"""The background step's configs: one per kind, with the placement fields every kind shares."""
from __future__ import annotations

from pathlib import Path
from typing import Annotated, ClassVar, Literal

from pydantic import Field, field_validator

from ...folders import check_images
from ...presets.fields import ConfigModel, one_of
from ...presets.sampling import Bounded, Bounds, ByShape, ChoiceSpec, RangeSpec, SampledFloat, sampled
from ...presets.types import Color, PresetPath


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
