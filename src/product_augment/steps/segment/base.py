"""The segment step's configs, its base class and the backends that need no model: `alpha`,
`masks` and `classical`."""
from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any, ClassVar, Literal

import cv2
import numpy as np
from pydantic import Field, field_validator

from ...classes import class_id
from ...folders import CocoMasks, MaskFolder, read_mask
from ...models.yolact.spec import EDGE_REFINE
from ...ops.classical_matte import classical_matte
from ...pipeline import ParamStep, SampleError
from ...presets.fields import ConfigModel, one_of
from ...presets.types import PresetPath
from ...sample import Instance, Sample

SHIPPED_CUT = "cut_effnetlite0.safetensors"
SHIPPED_CLASSIFIER = "classify_effnetlite0.safetensors"
CLASSIFY_SIDE = 1024  # the classifier's crop is taken from a copy of at most this side
DETECT_SIDE = 1024  # longest side YOLACT sees when the cut draws the product (its input is 320²)
WORK_SIDE = 2048  # mode top with the cut: the cut and its merge run on a copy of at most this many px


class _Base(ConfigModel):
    class_name: str = Field("product", description="class given to the product when the backend "
                                                     "cannot tell (one of the 21 or 'product')")

    @field_validator("class_name")
    @classmethod
    def _known_class(cls, v: str) -> str:
        class_id(v)
        return v


class AlphaConfig(_Base):
    backend: Literal["alpha"]
    threshold: float = Field(0.5, gt=0, lt=1, description="alpha above this is the instance mask")


class MasksConfig(_Base):
    backend: Literal["masks"]
    path: PresetPath = Field(description="folder of masks with the inputs' relative stems, or a COCO JSON")
    instances: one_of("matte", "label_map") = Field(
        "matte", description="matte: one soft mask per image; label_map: each non-zero value is an instance")


class ClassicalConfig(_Base):
    backend: Literal["classical"]
    threshold: float = Field(12.0, gt=0, description="ΔE from the border colours that counts as product")
    work_side: int = Field(512, ge=128, le=2048, description="longest side the matting works at")
    remove_shadows: bool = Field(False, description="drop backdrop-in-shadow pixels (darker, same hue); "
                                                    "good for coloured products, cuts white/grey ones")


class YolactConfig(_Base):
    backend: Literal["yolact"]
    weights: PresetPath = Field(description="YOLACT safetensors file (its JSON sidecar beside it)")
    score_threshold: float = Field(0.3, ge=0, le=1, description="detections below this score are ignored")
    mode: one_of("top", "all") = Field("top", description="keep the top product (best score × mask "
                                                       "quality²), or all of them")
    edge_refine: float = Field(EDGE_REFINE, ge=0, le=0.1, description="guided-filter window that moves mask edges "
                               "onto the image's edges, as a fraction of the longer image side; 0: off (YOLACT's "
                               "masks; the cut model's window is its own, in its sidecar)")
    fallback: one_of("none", "classical") = Field(
        "classical", description="what to do when the model finds nothing")
    device: one_of("cpu", "cuda", "auto") = Field("cpu", description="where the model runs")
    mask: one_of("cut", "yolact") = Field(
        "cut", description="what draws the product's mask: the cut model over the whole photo (YOLACT "
                           "naming its class), or YOLACT's own instance mask")
    cut_weights: PresetPath | None = Field(
        None, description="CutNet safetensors (its .onnx and .json beside it); default: the shipped one")
    class_from: one_of("classifier", "yolact") = Field(
        "classifier", description="what names each kept product's class: the product classifier on its cut-out "
                                  "(YOLACT's class where the classifier sees none of the 21 classes), or YOLACT's "
                                  "class head alone")
    classifier_weights: PresetPath | None = Field(
        None, description="product classifier safetensors (its .onnx and .json beside it); default: the shipped one")
    precision: one_of("auto", "int8", "float32") = Field(
        "auto", description="which ONNX file each model runs on the CPU: auto: its int8 copy (<stem>.int8.onnx) "
                            "where one is shipped, made from the current float file and not marked `auto: false` "
                            "in its sidecar, else float; int8: the "
                            "int8 copies, an error when one is missing; float32: the float files (also for the "
                            "cut's zoomed pass, which runs its int8 copy under auto when the cut's sidecar asks, "
                            "postprocess.zoom_precision)")


Config = Annotated[YolactConfig | AlphaConfig | MasksConfig | ClassicalConfig,
                   Field(discriminator="backend")]


def _from_alpha(alpha: np.ndarray, cid: int, threshold: float = 0.5) -> tuple[Instance, ...]:
    mask = alpha > threshold
    if not mask.any():
        peak = float(alpha.max()) if alpha.size else 0.0
        raise SampleError("no product found (matte is empty)" if peak <= 0 else
                          f"no product found (the matte peaks at {peak:.2f}, below the threshold {threshold:g})")
    return (Instance.from_mask(cid, mask),)


class _Segment(ParamStep):
    name = "segment"
    requires = frozenset({"image"})
    provides = frozenset({"alpha", "instances"})
    # whether the class is the image's own (found by a model, read from annotations) rather than
    # the preset's `class_name` for every image (what `--balance` labels inputs by)
    finds_class: ClassVar[bool] = False

    def __init__(self, config: Any):
        self.config = config
        self.class_id = class_id(config.class_name)

    def draw(self, sample: Sample, rng: np.random.Generator) -> dict[str, Any]:
        return {"backend": self.config.backend}


class AlphaSegment(_Segment):
    """The input's own alpha channel is the matte (RGBA cut-outs)."""

    def apply(self, sample: Sample, params: Mapping[str, Any]) -> Sample:
        if sample.alpha is None:
            raise SampleError("segment backend 'alpha' needs an input with an alpha channel "
                              "(RGBA PNG/WebP/TIFF) that marks the product; this image has none, "
                              "or one that is fully opaque")
        alpha = sample.alpha.astype(np.float32)
        # an RGBA file stores straight colours: the RGB of an edge pixel is the product's own
        # colour, not a mix with an old background (the background step relies on this)
        return sample.replace(alpha=alpha, instances=_from_alpha(alpha, self.class_id, self.config.threshold),
                              meta={**sample.meta, "edge_colors": "straight"})


class ClassicalSegment(_Segment):
    """Colour model of the plain backdrop from the image border, then GrabCut matting."""

    def apply(self, sample: Sample, params: Mapping[str, Any]) -> Sample:
        cfg = self.config
        res = classical_matte(sample.image, threshold=cfg.threshold, work_side=cfg.work_side,
                              remove_shadows=cfg.remove_shadows)
        if res.alpha is None:
            raise SampleError(res.reason)
        return sample.replace(alpha=res.alpha, instances=_from_alpha(res.alpha, self.class_id))


class MasksSegment(_Segment):
    """Masks the user gives: a folder of files named like the inputs, or a COCO JSON file."""

    finds_class = True

    def __init__(self, config: Any, source: MaskFolder | CocoMasks):
        super().__init__(config)
        self.source = source

    def apply(self, sample: Sample, params: Mapping[str, Any]) -> Sample:
        relpath = sample.meta.get("relpath")
        if relpath is None:
            raise SampleError("segment backend 'masks' needs the input's relative path")
        if isinstance(self.source, CocoMasks):
            return self._coco(sample, relpath)
        folder = self.source.folder
        mask_file = self.source.path_for(relpath)
        if mask_file is None:
            raise SampleError(f"no mask for {relpath} in {folder} (expected a file named "
                              f"{Path(relpath).with_suffix('.png')})")
        label = self.config.instances == "label_map"
        m = _fit(read_mask(mask_file), sample.height, sample.width, mask_file, label=label)
        if label:
            ids = [v for v in np.unique(m) if v != 0]
            insts = tuple(Instance.from_mask(self.class_id, m == v) for v in ids)
            alpha = (m > 0).astype(np.float32)
        else:
            scale = 65535.0 if m.dtype == np.uint16 else 255.0
            alpha = (m.astype(np.float32) / scale).clip(0, 1)
            insts = _from_alpha(alpha, self.class_id)
        if not insts:
            raise SampleError(f"mask {mask_file} is empty")
        return sample.replace(alpha=alpha, instances=insts)

    def _coco(self, sample: Sample, relpath: str) -> Sample:
        coco = self.source
        entries = coco.entries(relpath)
        if not entries:
            raise SampleError(f"{coco.path} has no annotations for {relpath}")
        insts = []
        for im, ann in entries:
            m = _fit(coco.decode(im, ann), sample.height, sample.width, coco.path, label=True)
            name = coco.names.get(ann["category_id"])
            try:
                k = class_id(name) if name else self.class_id
            except ValueError:
                k = self.class_id
            if m.any():
                insts.append(Instance.from_mask(k, m > 0))
        if not insts:
            raise SampleError(f"{coco.path}: annotations for {relpath} have empty masks")
        alpha = np.max(np.stack([i.mask for i in insts]), axis=0).astype(np.float32)
        return sample.replace(alpha=alpha, instances=tuple(insts))


def _fit(m: np.ndarray, h: int, w: int, source: Path, label: bool) -> np.ndarray:
    """A mask resized to the image, when the image was downscaled on read (same aspect only)."""
    mh, mw = m.shape[:2]
    if (mh, mw) == (h, w):
        return m
    if abs(mh / mw - h / w) > 0.02:
        raise SampleError(f"mask {source} is {mw}×{mh} but the image is {w}×{h}")
    interp = cv2.INTER_NEAREST if label else cv2.INTER_AREA
    return cv2.resize(m, (w, h), interpolation=interp)
