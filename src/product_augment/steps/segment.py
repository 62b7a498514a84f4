"""Segment the product: alpha matte + instances.

Backends: `yolact` (the project's trained model), `alpha` (RGBA input), `masks` (provided mask
folder or COCO JSON) and `classical` (packshots on plain backgrounds).
"""
from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any, Literal

import cv2
import numpy as np
from pydantic import Field, field_validator

from ..classes import class_id
from ..io import CocoMasks, MaskFolder, read_mask, shrunk
from ..models.yolact.spec import EDGE_REFINE
from ..ops.classical_matte import classical_matte
from ..ops.matte import confine_matte
from ..pipeline import ParamStep, SampleError
from ..presets.fields import ConfigModel, one_of
from ..presets.types import PresetPath
from ..qa import mask_certainty
from ..sample import Instance, Sample

SHIPPED_CUT = "cut_effnetlite0.safetensors"
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


class YolactSegment(_Segment):
    """The project's YOLACT model; owns its predictor (loaded on the first image, once per worker)
    and, with `fallback: classical`, a classical segmenter for images where it finds nothing."""

    def __init__(self, config: Any):
        super().__init__(config)
        self._predictor: Any = None
        self._cut: Any = None
        self._preloaded: dict[str, Any] | None = None
        self._preloaded_models: dict[str, str] | None = None
        self._preloaded_seconds: dict[str, float] = {}
        self.batch_seconds: dict[str, float] = {}
        self.fallback = (ClassicalSegment(ClassicalConfig(backend="classical", class_name=config.class_name))
                         if config.fallback == "classical" else None)

    @property
    def predictor(self) -> Any:
        if self._predictor is None:
            from ..models.yolact.runtime import load_predictor
            cfg = self.config
            # with the cut drawing the product, YOLACT's masks of a `top` run only pick the class
            # (overlap with the cut): no edge refinement for them
            refine = 0.0 if cfg.mask == "cut" and cfg.mode == "top" else cfg.edge_refine
            self._predictor = load_predictor(cfg.weights, device=cfg.device, refine_radius=refine)
        return self._predictor

    @property
    def cut(self) -> Any:
        """The cut model (`mask: cut`), loaded on first use; None with `mask: yolact`."""
        if self.config.mask != "cut":
            return None
        if self._cut is None:
            from ..models.cut.runtime import CutPredictor
            self._cut = CutPredictor.from_weights(cut_weights(self.config))
        return self._cut

    # ---- batched inference: the runner segments a shard's images in one call (`segment_batch`,
    # on an actor or in the worker) and hands the results over (`preload`); `apply` then takes an
    # image's result from there instead of calling the model. The result is the same either way.

    @staticmethod
    def image_key(image: np.ndarray) -> str:
        """What identifies an image's segmentation: its pixels."""
        import hashlib
        h = hashlib.blake2b(np.ascontiguousarray(image).data, digest_size=16)
        h.update(repr(image.shape).encode())
        return h.hexdigest()

    def _detection_copy(self, image: np.ndarray) -> np.ndarray:
        """What YOLACT sees. With the cut drawing the product (`mask: cut`, `mode: top`) YOLACT only
        names it and anchors it, so a photo larger than DETECT_SIDE is detected on a smaller copy:
        its D full-resolution soft masks (D × H × W float32, ~450 MB at 16 MP) are never made."""
        cfg = self.config
        return shrunk(image, DETECT_SIDE) if cfg.mask == "cut" and cfg.mode == "top" else image

    def _kept(self, image: np.ndarray, found: Any, soft: Any) -> list[tuple[Instance, np.ndarray]]:
        cut = self.cut
        if cut is not None:
            from ..models.cut.runtime import merge_with_detections
            h, w = image.shape[:2]
            work = shrunk(image, WORK_SIDE) if self.config.mode == "top" else image  # the cut on a smaller copy
            kept = merge_with_detections(found, soft, cut.alpha(work), self.class_id,
                                         keep_all=self.config.mode == "all", min_fraction=cut.min_fragment,
                                         threshold=cut.threshold, blend=cut.blend, anchor=cut.anchor)
            if work is not image:  # the soft masks back at the photo's resolution; the masks from them
                up = [cv2.resize(m, (w, h), interpolation=cv2.INTER_LINEAR) for _, m in kept]
                kept = [(Instance.from_mask(i.class_id, m > 0.5, i.score), m) for (i, _), m in zip(kept, up)
                        if (m > 0.5).any()]
            return kept
        # boxes and masks of the annotations come from the mask itself, so they always agree
        kept = [(Instance.from_mask(i.class_id, m > 0.5, i.score), m) for i, m in zip(found, soft)
                if (m > 0.5).any()]
        return kept[:1] if self.config.mode == "top" else kept

    def segment_batch(self, images: list[np.ndarray]) -> dict[str, list[tuple[Instance, np.ndarray]]]:
        """The kept instances and soft masks of several images, keyed by `image_key`, from one
        batched model call (`soft_masks_batch`); duplicates are segmented once. The seconds each
        image cost (its share of the batched call, plus its own cut and merge) are in
        `batch_seconds` afterwards, for the manifest's timings."""
        import time

        keys = [self.image_key(im) for im in images]
        todo = dict(zip(keys, images))
        p = self.predictor
        t0 = time.perf_counter()
        small = [self._detection_copy(im) for im in todo.values()]
        if hasattr(p, "soft_masks_batch"):
            results = p.soft_masks_batch(small, score_threshold=self.config.score_threshold)
        else:
            results = [p.soft_masks(im, score_threshold=self.config.score_threshold) for im in small]
        share = (time.perf_counter() - t0) / max(len(todo), 1)
        kept, self.batch_seconds = {}, {}
        for (k, im), (found, soft) in zip(todo.items(), results):
            t1 = time.perf_counter()
            kept[k] = self._kept(im, found, soft)
            self.batch_seconds[k] = round(share + time.perf_counter() - t1, 4)
        return kept

    def models_meta(self) -> dict[str, str]:
        """What the manifest records about the model (`models.segment`, `models.segment_runtime`)."""
        meta = {"segment": _model_version(self.config.weights, self.predictor.meta),
                "segment_runtime": getattr(self.predictor, "runtime", "torch")}
        if self.cut is not None:
            meta["segment_cut"] = _model_version(self.cut.path, self.cut.meta)
        return meta

    def preload(self, results: Mapping[str, list[tuple[Instance, np.ndarray]]] | None,
                models: Mapping[str, str] | None = None, seconds: Mapping[str, float] | None = None) -> None:
        """Results of `segment_batch` (made here or on another process, whose `models_meta` and
        `batch_seconds` come with them) for the images about to come; replaces the previous ones,
        None clears them."""
        self._preloaded = dict(results) if results is not None else None
        self._preloaded_models = dict(models) if models is not None else None
        self._preloaded_seconds = dict(seconds) if seconds is not None else {}

    def apply(self, sample: Sample, params: Mapping[str, Any]) -> Sample:
        cfg = self.config
        ready = self._preloaded
        key = self.image_key(sample.image) if ready else None
        from_batch = bool(ready) and key in ready
        batch_seconds = None
        if from_batch:
            kept = list(ready[key])
            # what the batched call cost for this image, told once (to its first variant)
            batch_seconds = self._preloaded_seconds.pop(key, None)
        else:
            kept = self._kept(sample.image, *self.predictor.soft_masks(self._detection_copy(sample.image),
                                                                       score_threshold=cfg.score_threshold))
        if not kept:
            if self.fallback is not None:
                out = self.fallback.apply(sample, params)
                # the manifest names what made the mask: the classical matte, not the model
                models = {**out.meta.get("models", {}), "segment": "classical"}
                return out.replace(meta={**out.meta, "segment_fallback": "classical", "models": models})
            raise SampleError(f"no product found by yolact above score {cfg.score_threshold}")
        # the soft masks are probabilities, not mattes: they sit below 1 inside textured products
        # and tail off for tens of pixels outside (the guided filter's window); keep their values
        # only in a thin band around each mask's edge (2 px at 1024²)
        band = max(2.0, round(max(sample.height, sample.width) / 512))
        alpha = np.max(np.stack([confine_matte(m, band) for _, m in kept]), axis=0).astype(np.float32)
        made_by = self._preloaded_models if from_batch and self._preloaded_models else self.models_meta()
        meta = {**sample.meta, "models": {**sample.meta.get("models", {}), **made_by}}
        if batch_seconds is not None:
            meta["segment_batch_seconds"] = batch_seconds
        # how decided the product's soft mask is (the quality gate's `mask_quality`)
        meta["segment_certainty"] = mask_certainty(kept[0][1], kept[0][0].mask)
        return sample.replace(alpha=alpha, instances=tuple(i for i, _ in kept), meta=meta)


def cut_weights(config: YolactConfig) -> Path:
    """The cut model's weights: the preset's `cut_weights`, else the shipped CutNet."""
    if config.cut_weights is not None:
        return Path(config.cut_weights)
    from ..resources import asset_dir
    return asset_dir("weights") / SHIPPED_CUT


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


BACKENDS: dict[type, type[_Segment]] = {
    AlphaConfig: AlphaSegment, ClassicalConfig: ClassicalSegment, MasksConfig: MasksSegment,
    YolactConfig: YolactSegment}


def step_class(config: Any) -> type[_Segment]:
    """The step class of a validated config (its requires/provides/uses, without building it)."""
    return BACKENDS[type(config)]


def build(config: Any, ctx: Any = None) -> _Segment:
    """The segment step; a mask folder is indexed and a COCO file parsed here, once."""
    if isinstance(config, MasksConfig):
        path = Path(config.path)
        return MasksSegment(config, MaskFolder(path) if path.is_dir() else CocoMasks(path))
    if isinstance(config, YolactConfig) and config.mask == "cut":
        onnx_file = cut_weights(config).with_suffix(".onnx")
        if not onnx_file.exists():
            raise FileNotFoundError(f"{onnx_file}: the cut model is missing (segment `cut_weights`); "
                                    f"name one, or draw the mask with YOLACT alone (`mask: yolact`)")
    return step_class(config)(config)
