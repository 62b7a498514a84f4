"""Segment the product: alpha matte + instances.

Backends: `yolact` (the project's trained model), `alpha` (RGBA input), `masks` (provided mask
folder or COCO JSON) and `classical` (packshots on plain backgrounds).
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any, Literal

import cv2
import numpy as np
from pydantic import BaseModel, ConfigDict, Field, field_validator

from ..classes import class_id
from ..config.types import PresetPath
from ..models.yolact.config import EDGE_REFINE
from ..ops.classical_matte import classical_matte
from ..ops.matte import confine_matte
from ..pipeline import ParamStep, SampleError
from ..sample import Instance, Sample


class _Base(BaseModel):
    model_config = ConfigDict(extra="forbid")
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
    instances: Literal["matte", "label_map"] = Field(
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
    mode: Literal["top", "all"] = Field("top", description="keep the top product (best score × mask "
                                                       "quality²), or all of them")
    edge_refine: float = Field(EDGE_REFINE, ge=0, le=0.1, description="guided-filter window that moves mask edges "
                               "onto the image's edges, as a fraction of the longer image side; 0: off")
    fallback: Literal["none", "classical"] = Field(
        "classical", description="what to do when the model finds nothing")
    device: Literal["cpu", "cuda", "auto"] = Field("cpu", description="where the model runs")


Config = Annotated[YolactConfig | AlphaConfig | MasksConfig | ClassicalConfig,
                   Field(discriminator="backend")]


def _from_alpha(alpha: np.ndarray, cid: int, threshold: float = 0.5) -> tuple[Instance, ...]:
    mask = alpha > threshold
    if not mask.any():
        peak = float(alpha.max()) if alpha.size else 0.0
        raise SampleError("no product found (matte is empty)" if peak <= 0 else
                          f"no product found (the matte peaks at {peak:.2f}, below the threshold {threshold:g})")
    return (Instance.from_mask(cid, mask),)


class SegmentStep(ParamStep):
    name = "segment"
    requires = frozenset({"image"})
    provides = frozenset({"alpha", "instances"})

    def __init__(self, config: Any):
        self.config = config
        self._predictor = None
        self._mask_index: dict[str, Path] | None = None
        self._coco: dict | None = None

    def draw(self, sample, rng):
        return {"backend": self.config.backend}

    def apply(self, sample: Sample, params) -> Sample:
        cfg = self.config
        cid = class_id(cfg.class_name)
        if cfg.backend == "alpha":
            if sample.alpha is None:
                raise SampleError("segment backend 'alpha' needs an input with an alpha channel "
                                  "(RGBA PNG/WebP/TIFF) that marks the product; this image has none, "
                                  "or one that is fully opaque")
            alpha = sample.alpha.astype(np.float32)
            # an RGBA file stores straight colours: the RGB of an edge pixel is the product's own
            # colour, not a mix with an old background (the background step relies on this)
            return sample.replace(alpha=alpha, instances=_from_alpha(alpha, cid, cfg.threshold),
                                  meta={**sample.meta, "edge_colors": "straight"})
        if cfg.backend == "classical":
            return self._classical(sample, cid)
        if cfg.backend == "masks":
            return self._masks(sample, cid)
        return self._yolact(sample, cid)

    def _classical(self, sample: Sample, cid: int) -> Sample:
        cfg = self.config
        res = classical_matte(sample.image, threshold=getattr(cfg, "threshold", 12.0),
                              work_side=getattr(cfg, "work_side", 512),
                              remove_shadows=getattr(cfg, "remove_shadows", False))
        if res.alpha is None:
            raise SampleError(res.reason)
        return sample.replace(alpha=res.alpha, instances=_from_alpha(res.alpha, cid))

    def _yolact(self, sample: Sample, cid: int) -> Sample:
        if self._predictor is None:
            from ..models.yolact.predict import Predictor
            device = self.config.device
            if device == "auto":
                import torch
                device = "cuda" if torch.cuda.is_available() else "cpu"
            self._predictor = Predictor.from_weights(self.config.weights, device=device,
                                                     refine_radius=self.config.edge_refine)
        found, soft = self._predictor.soft_masks(sample.image, score_threshold=self.config.score_threshold)
        # boxes and masks of the annotations come from the mask itself, so they always agree
        kept = [(Instance.from_mask(i.class_id, m > 0.5, i.score), m) for i, m in zip(found, soft)
                if (m > 0.5).any()]
        if not kept:
            if self.config.fallback == "classical":
                out = self._classical(sample, cid)
                # the manifest names what made the mask: the classical matte, not the model
                models = {**out.meta.get("models", {}), "segment": "classical"}
                return out.replace(meta={**out.meta, "segment_fallback": "classical", "models": models})
            raise SampleError(f"no product found by yolact above score {self.config.score_threshold}")
        kept = kept[:1] if self.config.mode == "top" else kept
        # the soft masks are probabilities, not mattes: they sit below 1 inside textured products
        # and tail off for tens of pixels outside (the guided filter's window); keep their values
        # only in a thin band around each mask's edge (2 px at 1024²)
        band = max(2.0, round(max(sample.height, sample.width) / 512))
        alpha = np.max(np.stack([confine_matte(m, band) for _, m in kept]), axis=0).astype(np.float32)
        models = {**sample.meta.get("models", {}), "segment": _model_version(self.config.weights,
                                                                             self._predictor.meta)}
        return sample.replace(alpha=alpha, instances=tuple(i for i, _ in kept),
                              meta={**sample.meta, "models": models})

    def _masks(self, sample: Sample, cid: int) -> Sample:
        relpath = sample.meta.get("relpath")
        if relpath is None:
            raise SampleError("segment backend 'masks' needs the input's relative path")
        path = Path(self.config.path)
        h, w = sample.height, sample.width
        if path.is_dir():
            if self._mask_index is None:
                self._mask_index = {str(p.relative_to(path).with_suffix("")): p
                                    for p in sorted(path.rglob("*")) if p.is_file()}
            mask_file = self._mask_index.get(str(Path(relpath).with_suffix("")))
            if mask_file is None:
                raise SampleError(f"no mask for {relpath} in {path} (expected a file named "
                                  f"{Path(relpath).with_suffix('.png')})")
            m = cv2.imread(str(mask_file), cv2.IMREAD_UNCHANGED)
            if m is None:
                raise SampleError(f"cannot read mask {mask_file}")
            if m.ndim == 3:
                m = m[..., 3] if m.shape[2] == 4 else m[..., 0]
            m = _fit(m, h, w, mask_file, label=self.config.instances == "label_map")
            if self.config.instances == "label_map":
                ids = [v for v in np.unique(m) if v != 0]
                insts = tuple(Instance.from_mask(cid, m == v) for v in ids)
                alpha = (m > 0).astype(np.float32)
            else:
                scale = 65535.0 if m.dtype == np.uint16 else 255.0
                alpha = (m.astype(np.float32) / scale).clip(0, 1)
                insts = _from_alpha(alpha, cid)
            if not insts:
                raise SampleError(f"mask {mask_file} is empty")
            return sample.replace(alpha=alpha, instances=insts)
        return self._coco_masks(sample, cid, relpath, path)

    def _coco_masks(self, sample: Sample, cid: int, relpath: str, path: Path) -> Sample:
        from pycocotools import mask as mask_utils

        if self._coco is None:
            data = json.loads(path.read_text())
            names = {c["id"]: c["name"] for c in data.get("categories", [])}
            by_file: dict[str, list] = {}
            images = {im["id"]: im for im in data.get("images", [])}
            for ann in data.get("annotations", []):
                im = images.get(ann["image_id"])
                if im is not None:
                    by_file.setdefault(im["file_name"], []).append((im, ann))
            self._coco = {"names": names, "by_file": by_file}
        entries = self._coco["by_file"].get(relpath) or self._coco["by_file"].get(Path(relpath).name)
        if not entries:
            raise SampleError(f"{path} has no annotations for {relpath}")
        insts = []
        for im, ann in entries:
            seg = ann["segmentation"]
            ih, iw = im["height"], im["width"]
            if isinstance(seg, list):
                rle = mask_utils.merge(mask_utils.frPyObjects(seg, ih, iw))
            elif isinstance(seg["counts"], list):
                rle = mask_utils.frPyObjects(seg, ih, iw)
            else:
                rle = seg
            m = _fit(mask_utils.decode(rle).astype(np.uint8), sample.height, sample.width, path, label=True)
            name = self._coco["names"].get(ann["category_id"])
            try:
                k = class_id(name) if name else cid
            except ValueError:
                k = cid
            if m.any():
                insts.append(Instance.from_mask(k, m > 0))
        if not insts:
            raise SampleError(f"{path}: annotations for {relpath} have empty masks")
        alpha = np.max(np.stack([i.mask for i in insts]), axis=0).astype(np.float32)
        return sample.replace(alpha=alpha, instances=tuple(insts))


def _model_version(weights: Path, meta: dict) -> str:
    it = meta.get("iteration") or meta.get("train", {}).get("iteration") if isinstance(meta, dict) else None
    return f"{Path(weights).name}" + (f"@it{it}" if it else "")


def _fit(m: np.ndarray, h: int, w: int, source: Path, label: bool) -> np.ndarray:
    """A mask resized to the image, when the image was downscaled on read (same aspect only)."""
    mh, mw = m.shape[:2]
    if (mh, mw) == (h, w):
        return m
    if abs(mh / mw - h / w) > 0.02:
        raise SampleError(f"mask {source} is {mw}×{mh} but the image is {w}×{h}")
    interp = cv2.INTER_NEAREST if label else cv2.INTER_AREA
    return cv2.resize(m, (w, h), interpolation=interp)


def build(config: Any, ctx) -> SegmentStep:
    return SegmentStep(config)
