"""Shadows under the product: a `mirror` reflection, a `drop` shadow or a learned `realistic` one.

`mirror` is a glossy floor's reflection, `drop` a light's geometric shadow, `realistic` the
shadow of the learned network (`models/shadow`).

    shadow: {kind: mirror, opacity: {range: [0.2, 0.45]}, fade: 0.4, blur: 0.04, squash: 1.0}
    shadow: {kind: drop, azimuth: {range: [-60, 60]}, elevation: {range: [35, 70]}, size: 0.1}
    shadow: {kind: realistic, azimuth: {range: [-60, 60]}, elevation: {range: [35, 70]}, size: 0.1}
    shadow: {kind: none}

Both sit on the product's contact line: the scene's floor (`sample.floor_y`) when the product
touches it, else the bottom of the product's footprint. The result is composited under the product
only, by `compose.paint_under`, in whichever state the picture is in: with a known background
plate the plate is shaded and the picture recomposited exactly (product pixels keep their bytes);
with a transparent background the shadow goes into the output alpha; on an original photo the
pixels around the product are darkened. The visible strength goes into `layers["shadow"]`.
"""
from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any, ClassVar, Literal

import numpy as np
from pydantic import BaseModel, Field, model_validator

from .. import compose
from ..ops import shadow as ops
from ..pipeline import ParamStep
from ..presets.fields import one_of
from ..presets.sampling import Bounded, Draws, SampledFloat, sampled
from ..presets.types import Color, PresetPath
from ..sample import Sample

GLOSS_FULL = 0.15  # a floor at least this glossy reflects with the preset's full opacity


class MirrorConfig(Bounded):
    """A reflection on a glossy floor, fading and blurring away from the product."""

    kind: Literal["mirror"]
    opacity: SampledFloat = Field(0.35, description="reflection opacity at the contact line, 0..1")
    fade: SampledFloat = Field(0.5, description="distance (× product height) over which it fades out")
    blur: SampledFloat = Field(0.03, description="blur radius per px of distance from the line (0 = sharp)")
    squash: SampledFloat = Field(1.0, description="vertical scale of the reflection (perspective), 0.3..1")
    gloss: one_of("scene", "preset") = Field(
        "scene", description=f"scene: opacity × min(1, floor gloss / {GLOSS_FULL}) where the background knows "
                             "its floor's gloss (a backdrop's sidecar, the studio's sheen): matte wood barely "
                             "reflects, polished marble fully; preset: opacity as given")
    limits: ClassVar[dict[str, tuple[float, float]]] = {
        "opacity": (0.0, 1.0), "fade": (0.01, 3.0), "blur": (0.0, 0.5), "squash": (0.3, 1.0)}


class DropConfig(Bounded):
    """The shadow a light casts on the floor, sharp and dark at the contact, soft far away."""

    kind: Literal["drop"]
    azimuth: SampledFloat = Field(
        35.0, description="degrees the light comes from: 0 front (shadow behind), 90 left, "
                          "-90 right, 180 behind (shadow towards the camera)")
    elevation: SampledFloat = Field(50.0, description="light height above the floor, degrees (5..89)")
    size: SampledFloat = Field(0.08, description="light size: penumbra radius per px of height")
    opacity: SampledFloat = Field(0.55, description="strength of the cast shadow, 0..1")
    contact: SampledFloat = Field(0.85, description="strength of the dark contact shadow, 0..1")
    floor_tilt: SampledFloat = Field(0.3, description="how the camera foreshortens the floor, 0.05..1")
    light: one_of("scene", "preset") = Field(
        "scene", description="scene: the background's key light where it knows one (a backdrop's sidecar, "
                             "the studio's light spot, a gradient's lighter side; flipped with the backdrop), "
                             "else azimuth/elevation; preset: always azimuth/elevation")
    color: sampled(one_of("auto") | Color) = Field(
        "auto", description="shadow colour multiplied onto the background; auto = a darker "
                            "version of the background's own colour")
    limits: ClassVar[dict[str, tuple[float, float]]] = {
        "azimuth": (-360.0, 360.0), "elevation": (5.0, 89.0), "size": (0.0, 1.0), "opacity": (0.0, 1.0),
        "contact": (0.0, 1.0), "floor_tilt": (0.05, 1.0)}


class RealisticConfig(Bounded):
    """The shadow one light casts and its contact occlusion, drawn by a learned network.

    The network was trained on physically computed shadows of 3D models (legs, handles, gaps)."""

    kind: Literal["realistic"]
    azimuth: SampledFloat = Field(
        35.0, description="degrees the light comes from, as for drop: 0 front (shadow behind), 90 left, "
                          "-90 right, 180 behind (trained on all azimuths)")
    elevation: SampledFloat = Field(50.0, description="light height above the floor, degrees (trained on 20..80)")
    size: SampledFloat = Field(0.08, description="light size: penumbra radius per px of height, as for drop "
                                                 "(an area light of angular radius atan(size); trained on 0.02..0.35)")
    opacity: SampledFloat = Field(0.55, description="strength of the cast shadow, 0..1")
    contact: SampledFloat = Field(0.85, description="strength of the ambient occlusion near the contact, 0..1")
    floor_tilt: SampledFloat = Field(0.3, description="how the camera foreshortens the floor, 0.05..1 (sine of "
                                                      "the camera's elevation; trained on 0.09..1)")
    light: one_of("scene", "preset") = Field(
        "scene", description="scene: the background's key light where it knows one (a backdrop's sidecar, "
                             "the studio's light spot, a gradient's lighter side; flipped with the backdrop), "
                             "else azimuth/elevation; preset: always azimuth/elevation")
    color: sampled(one_of("auto") | Color) = Field(
        "auto", description="shadow colour multiplied onto the background; auto = a darker "
                            "version of the background's own colour")
    weights: PresetPath | None = Field(None, description="ShadowNet ONNX file (its JSON sidecar beside it); "
                                                         "default: the shipped weights/shadow_net.onnx")
    limits: ClassVar[dict[str, tuple[float, float]]] = {
        "azimuth": (-360.0, 360.0), "elevation": (5.0, 89.0), "size": (0.0, 1.0), "opacity": (0.0, 1.0),
        "contact": (0.0, 1.0), "floor_tilt": (0.05, 1.0)}

    @model_validator(mode="after")
    def _weights_exist(self) -> RealisticConfig:
        if self.weights is None and not shipped_shadow_weights().exists():
            raise ValueError(f"no shadow network at {shipped_shadow_weights()}: pass `weights:`")
        return self


def shipped_shadow_weights() -> Path:
    from ..resources import asset_dir
    return asset_dir("weights") / "shadow_net.onnx"


class NoneConfig(Bounded):
    """No shadow (lets a training preset sometimes skip them)."""

    kind: Literal["none"]


Config = Annotated[MirrorConfig | DropConfig | RealisticConfig | NoneConfig, Field(discriminator="kind")]


def _draw_light(config: Any, rng: np.random.Generator, kind: str) -> dict[str, Any]:
    """The parameters of a light's shadow (drop and realistic draw the same fields)."""
    draws = Draws(rng)
    params: dict[str, Any] = {"kind": kind, **_draw_fields(
        config, draws, ("azimuth", "elevation", "size", "opacity", "contact", "floor_tilt"))}
    color = draws.value(config.color, "color")
    params["color"] = color if color == "auto" else [int(v) for v in color]
    return params


def _scene_light(params: dict[str, Any], config: Any, sample: Sample) -> dict[str, Any]:
    """The drawn light replaced by the scene's where the config says so and the scene knows one."""
    if config.light == "scene" and sample.light is not None:
        params.update(azimuth=float(sample.light.azimuth), elevation=float(sample.light.elevation),
                      light=sample.light.source)
    return params


def _draw_fields(config: BaseModel, draws: Draws, names: tuple[str, ...]) -> dict[str, Any]:
    return {n: float(draws.value(getattr(config, n), n)) for n in names}


class _ShadowStep(ParamStep):
    """What every shadow kind promises the pipeline."""

    name = "shadow"
    requires = frozenset({"alpha"})
    provides = frozenset({"layer:shadow"})
    uses = frozenset({"plate"})  # shades the plate; a later background would paint over it


class NoShadowStep(_ShadowStep):
    """Leaves the picture alone; writes an empty `shadow` layer so later steps find one."""

    def __init__(self, config: NoneConfig | None = None):
        self.config = config

    def draw(self, sample: Sample, rng: np.random.Generator) -> dict[str, Any]:
        return {"kind": "none"}

    def apply(self, sample: Sample, params: Mapping[str, Any]) -> Sample:
        return sample.with_layer("shadow", compose.blank(sample))


class MirrorShadowStep(_ShadowStep):
    """Each product mirrored about the floor under it (`ops.contact_outline`: a tilted line under a
    sole seen at an angle, level under a rounded bottom), fading and blurring with distance."""

    def __init__(self, config: MirrorConfig):
        self.config = config

    def draw(self, sample: Sample, rng: np.random.Generator) -> dict[str, Any]:
        params = {"kind": "mirror", **_draw_fields(self.config, Draws(rng), ("opacity", "fade", "blur", "squash"))}
        if self.config.gloss == "scene" and sample.gloss is not None:
            params["gloss"] = round(float(sample.gloss), 6)
            params["opacity"] = round(params["opacity"] * min(1.0, float(sample.gloss) / GLOSS_FULL), 6)
        return params

    def apply(self, sample: Sample, params: Mapping[str, Any]) -> Sample:
        alpha = _alpha(sample)
        layers = []
        for part, fp, axis in _standing_products(sample, alpha):
            kw = {"opacity": float(params["opacity"]), "fade": float(params["fade"]), "blur": float(params["blur"]),
                      "squash": float(params["squash"]), "plate": sample.plate}
            line = ops.contact_outline(part, fp)
            if line is None:
                layer = ops.mirror_reflection(sample.image, part, fp, axis, **kw)
            else:  # about the floor under its base (moved onto the scene's floor where it stands on it)
                line = line + (axis - fp.base_y)
                layer = ops.mirror_reflection_outline(sample.image, part, fp, line, **kw)
            if layer is not None:
                layers.append(layer)
        return compose.paint_under(sample, ops.merge_layers(layers), "shadow", shadow=False)


class DropShadowStep(_ShadowStep):
    """Each product's cast shadow from one light, plus its contact shadow."""

    def __init__(self, config: DropConfig):
        self.config = config

    def draw(self, sample: Sample, rng: np.random.Generator) -> dict[str, Any]:
        return _scene_light(_draw_light(self.config, rng, "drop"), self.config, sample)

    def apply(self, sample: Sample, params: Mapping[str, Any]) -> Sample:
        alpha = _alpha(sample)
        layers = []
        for part, fp, line in _standing_products(sample, alpha):
            layers.append(ops.drop_shadow(
                part, fp, line, azimuth=float(params["azimuth"]), elevation=float(params["elevation"]),
                size=float(params["size"]), opacity=float(params["opacity"]),
                contact=float(params["contact"]), floor_tilt=float(params["floor_tilt"])))
        return _paint_shadow(sample, layers, params)


class RealisticShadowStep(_ShadowStep):
    """Each product's shadow from the learned network (ONNX Runtime, one thread, no torch).

    Per product: its canvas (`models/shadow/frame.py`, around the contact line) is cut out of
    the picture as premultiplied colour and matte at the network's size; the network gives the
    cast shadow and the ambient occlusion there, combined like `drop` (opacity, contact),
    upsampled back to the picture (fading out at the canvas border) and painted under the
    product by `compose.paint_under`.
    """

    def __init__(self, config: RealisticConfig):
        self.config = config
        self._predictor: Any = None

    @property
    def predictor(self) -> Any:
        if self._predictor is None:
            from ..models.shadow.onnx_predict import ShadowPredictor
            self._predictor = ShadowPredictor(self.config.weights or shipped_shadow_weights())
        return self._predictor

    def draw(self, sample: Sample, rng: np.random.Generator) -> dict[str, Any]:
        return _scene_light(_draw_light(self.config, rng, "realistic"), self.config, sample)

    def apply(self, sample: Sample, params: Mapping[str, Any]) -> Sample:
        from ..models.shadow import frame

        alpha = _alpha(sample)
        layers = []
        for part, fp, line in _standing_products(sample, alpha):
            canvas = frame.canvas_for(fp.box, line)
            # the product's colour and matte are zero outside its box: crop only that region
            bx0, by0, bx1, by1 = fp.box
            box = (slice(by0, by1), slice(bx0, bx1))
            plate = None if sample.plate is None else sample.plate[box]
            prem = ops.premultiplied(sample.image[box], part[box], plate)
            local = frame.Canvas(canvas.x0 - bx0, canvas.y0 - by0, canvas.side)
            res = self.predictor.res
            x = frame.network_input_premultiplied(frame.crop(prem, local, res), frame.crop(part[box], local, res))
            cast, ao = self.predictor(x, float(params["azimuth"]), float(params["elevation"]),
                                      float(params["size"]), float(params["floor_tilt"]))
            matte = frame.combine(cast, ao, float(params["opacity"]), float(params["contact"]))
            # a sigmoid never reaches 0: what rounds away anyway is cut, so the layer stays small
            matte = np.clip((matte - frame.CUT) / (1.0 - frame.CUT), 0.0, 1.0)
            region, y0, x0 = frame.uncrop(matte, canvas, alpha.shape)
            if region.size:
                layers.append(ops.Layer(np.clip(region, 0.0, 1.0), None, y0, x0).trimmed())
        out = _paint_shadow(sample, layers, params)
        models = {**out.meta.get("models", {}), "shadow": Path(self.predictor.path).name}
        return out.replace(meta={**out.meta, "models": models})


def _paint_shadow(sample: Sample, layers: list[ops.Layer], params: Mapping[str, Any]) -> Sample:
    """The products' shadow layers under the picture, in the recorded colour (drop and realistic)."""
    color = params.get("color", "auto")
    return compose.paint_under(sample, ops.merge_layers(layers), "shadow", shadow=True,
                               color=None if color == "auto" else tuple(color))


def _products(sample: Sample, alpha: np.ndarray) -> list[np.ndarray]:
    """The matte of each product, so each stands on its own contact line (one matte for one product).
    Objects of the backdrop are not products: they have their shadows in the photo already."""
    products = [inst for inst in sample.instances if not inst.backdrop]
    if len(products) <= 1:
        return [alpha]
    return ops.split_products(alpha, [inst.mask for inst in products])


def _standing_products(sample: Sample, alpha: np.ndarray) -> list[tuple[np.ndarray, ops.Footprint, int]]:
    """(matte, footprint, contact line) of each product that has a footprint; none for a hanging
    product (no floor under it to shadow or reflect)."""
    out = []
    if sample.support == "hanging":
        return out
    for part in _products(sample, alpha):
        fp = ops.find_footprint(part)
        if fp is not None:
            out.append((part, fp, min(ops.contact_line(fp, sample.floor_y), sample.height)))
    return out


def _alpha(sample: Sample) -> np.ndarray:
    if sample.alpha is None:
        raise ValueError("the shadow step needs the product's alpha: put a segment step before it")
    return sample.alpha.astype(np.float32, copy=False)


KINDS: dict[type, type[_ShadowStep]] = {
    MirrorConfig: MirrorShadowStep, DropConfig: DropShadowStep, RealisticConfig: RealisticShadowStep,
    NoneConfig: NoShadowStep}


def step_class(config: Any) -> type[_ShadowStep]:
    """The step class of a validated config (its requires/provides/uses, without building it)."""
    try:
        return KINDS[type(config)]
    except KeyError:
        raise TypeError(f"not a shadow config: {config!r}") from None


def build(config: Any, ctx: Any = None) -> ParamStep:
    """The shadow step for one validated config."""
    return step_class(config)(config)
