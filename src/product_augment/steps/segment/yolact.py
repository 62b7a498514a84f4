"""The `yolact` backend: YOLACT finds the product, the cut model draws its mask, the product
classifier names it (each optional, see `YolactConfig`)."""
from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from ...io import shrunk
from ...ops.matte import confine_matte
from ...pipeline import SampleError
from ...qa import mask_certainty
from ...sample import Instance, Sample
from .base import (
    CLASSIFY_SIDE,
    DETECT_SIDE,
    SHIPPED_CLASSIFIER,
    SHIPPED_CUT,
    WORK_SIDE,
    ClassicalConfig,
    ClassicalSegment,
    YolactConfig,
    _Segment,
)


@dataclasses.dataclass(frozen=True)
class Segmented:
    """What segmenting one image made: the kept instances, their matte (the soft masks confined to
    a thin band at each mask's edge; read-only, shared by every variant of the image; None when
    nothing was kept), how decided the product's soft mask is (the quality gate's `mask_quality`),
    the manifest's `models` entries, and the seconds the image's share of a batched call cost (None
    when it was segmented on its own). The full-resolution soft masks are not kept: the matte is
    all the later steps read, and at 11 MP each soft mask is 45 MB."""

    instances: tuple[Instance, ...]
    alpha: np.ndarray | None
    certainty: Mapping[str, float] | None
    models: Mapping[str, str]
    seconds: float | None


def matte_of(kept: list[tuple[Instance, np.ndarray]], height: int, width: int) -> np.ndarray:
    """The matte of the kept (instance, soft mask) pairs. The soft masks are probabilities, not
    mattes: they sit below 1 inside textured products and tail off for tens of pixels outside (the
    guided filter's window); their values are kept only in a thin band around each mask's edge
    (2 px at 1024²). Float32, one soft mask's size at a time."""
    band = max(2.0, round(max(height, width) / 512))
    alpha = confine_matte(kept[0][1], band)
    for _, m in kept[1:]:
        np.maximum(alpha, confine_matte(m, band), out=alpha)
    return alpha


class YolactSegment(_Segment):
    """The project's YOLACT model; owns its predictor (loaded on the first image, once per worker)
    and, with `fallback: classical`, a classical segmenter for images where it finds nothing."""

    finds_class = True

    def __init__(self, config: Any):
        super().__init__(config)
        self._predictor: Any = None
        self._cut: Any = None
        self._classifier: Any = None
        self.fallback = (ClassicalSegment(ClassicalConfig(backend="classical", class_name=config.class_name))
                         if config.fallback == "classical" else None)

    @property
    def device(self) -> str:
        """Where the batch hook's model runs (cpu | cuda | auto): an executor may give it a GPU."""
        return self.config.device

    @property
    def predictor(self) -> Any:
        if self._predictor is None:
            from ...models.yolact.runtime import load_predictor
            cfg = self.config
            # with the cut drawing the product, YOLACT's masks of a `top` run only pick the class
            # (overlap with the cut): no edge refinement for them
            refine = 0.0 if cfg.mask == "cut" and cfg.mode == "top" else cfg.edge_refine
            self._predictor = load_predictor(cfg.weights, device=cfg.device, refine_radius=refine,
                                             precision=cfg.precision)
        return self._predictor

    @property
    def cut(self) -> Any:
        """The cut model (`mask: cut`), loaded on first use; None with `mask: yolact`."""
        if self.config.mask != "cut":
            return None
        if self._cut is None:
            from ...models.cut.runtime import CutPredictor
            self._cut = CutPredictor.from_weights(cut_weights(self.config), precision=self.config.precision)
        return self._cut

    @property
    def classifier(self) -> Any:
        """The product classifier (`class_from: classifier`), loaded on first use; None otherwise."""
        if self.config.class_from != "classifier":
            return None
        if self._classifier is None:
            from ...models.classify.runtime import ProductClassifier
            self._classifier = ProductClassifier.from_weights(classifier_weights(self.config),
                                                              precision=self.config.precision)
        return self._classifier

    def _named(self, image: np.ndarray, kept: list[tuple[Instance, np.ndarray]]) -> list[tuple[Instance, np.ndarray]]:
        """The kept instances with the classifier's class where it sees one of the 21 (`class_from`)."""
        clf = self.classifier
        if clf is None or not kept:
            return kept
        small = shrunk(image, CLASSIFY_SIDE)
        out = []
        for inst, soft in kept:
            mask = inst.mask  # the soft mask above 0.5, as every kept instance is made
            if small is not image:
                mask = cv2.resize(mask.view(np.uint8), small.shape[1::-1], interpolation=cv2.INTER_NEAREST).view(bool)
            named = clf.classify(small, mask) if mask.any() else None
            out.append((inst if named is None else dataclasses.replace(inst, class_id=named[0]), soft))
        return out

    # ---- batched inference (the pipeline's batch hook): `prepare` segments a group of images in
    # one model call (in the worker, or on a Ray segmenter actor) and `apply_prepared` takes an
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

    def _kept(self, image: np.ndarray, found: Any, soft: Any,
              info: dict[str, float] | None = None) -> list[tuple[Instance, np.ndarray]]:
        """The kept instances; `info` receives what the gate reads of the merge (`agreement`)."""
        return self._named(image, self._drawn(image, found, soft, info))

    def _drawn(self, image: np.ndarray, found: Any, soft: Any,
               info: dict[str, float] | None = None) -> list[tuple[Instance, np.ndarray]]:
        cut = self.cut
        if cut is not None:
            from ...models.cut.runtime import merge_with_detections
            h, w = image.shape[:2]
            work = shrunk(image, WORK_SIDE) if self.config.mode == "top" else image  # the cut on a smaller copy
            kept = merge_with_detections(found, soft, cut.alpha(work, info), self.class_id,
                                         keep_all=self.config.mode == "all", min_fraction=cut.min_fragment,
                                         threshold=cut.threshold, blend=cut.blend, anchor=cut.anchor,
                                         anchor_gap=cut.anchor_gap, joins=cut.keep_joins, info=info)
            if work is not image:  # the soft masks back at the photo's resolution; the masks from them
                up = [cv2.resize(m, (w, h), interpolation=cv2.INTER_LINEAR) for _, m in kept]
                kept = [(Instance.from_mask(i.class_id, m > 0.5, i.score), m) for (i, _), m in zip(kept, up)
                        if (m > 0.5).any()]
            return kept
        # boxes and masks of the annotations come from the mask itself, so they always agree
        kept = [(Instance.from_mask(i.class_id, m > 0.5, i.score), m) for i, m in zip(found, soft)
                if (m > 0.5).any()]
        return kept[:1] if self.config.mode == "top" else kept

    def prepare(self, images: Sequence[np.ndarray]) -> list[Segmented]:
        """The batch hook: every image's kept instances and soft masks from one batched model call
        (`soft_masks_batch`; duplicates segmented once), with what made them and the seconds the
        image cost (its share of the batched call, plus its own cut and merge)."""
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
        models, made = self.models_meta(), {}
        for (k, im), (found, soft) in zip(todo.items(), results):
            t1 = time.perf_counter()
            info: dict[str, float] = {}
            kept = self._kept(im, found, soft, info)
            made[k] = self._segmented(im, kept, models, round(share + time.perf_counter() - t1, 4), info)
        return [made[k] for k in keys]

    @staticmethod
    def _segmented(image: np.ndarray, kept: list[tuple[Instance, np.ndarray]], models: Mapping[str, str],
                   seconds: float | None, info: Mapping[str, float] | None = None) -> Segmented:
        if not kept:
            return Segmented((), None, None, models, seconds)
        alpha = matte_of(kept, *image.shape[:2])
        alpha.flags.writeable = False  # shared by the image's variants: no step may change it in place
        return Segmented(tuple(i for i, _ in kept), alpha,
                         {**mask_certainty(kept[0][1], kept[0][0].mask), **(info or {})}, models, seconds)

    def models_meta(self) -> dict[str, str]:
        """What the manifest records about the model (`models.segment`, `models.segment_runtime`)."""
        meta = {"segment": _model_version(self.config.weights, self.predictor.meta),
                "segment_runtime": getattr(self.predictor, "runtime", "torch")}
        if self.cut is not None:
            meta["segment_cut"] = _model_version(self.cut.path, self.cut.meta)
            if self.cut.zoom_path != self.cut.path:  # the zoomed pass on the int8 copy
                meta["segment_cut_zoom"] = self.cut.zoom_path.name
            if self.cut.refiner is not None:
                meta["segment_cut_refine"] = self.cut.refiner.path.name
        if self.classifier is not None:
            meta["segment_class"] = self.classifier.path.name
        return meta

    def apply(self, sample: Sample, params: Mapping[str, Any]) -> Sample:
        return self.apply_prepared(sample, params, None)

    def apply_prepared(self, sample: Sample, params: Mapping[str, Any], prepared: Segmented | None) -> Sample:
        cfg = self.config
        if prepared is None:
            found, soft = self.predictor.soft_masks(self._detection_copy(sample.image),
                                                    score_threshold=cfg.score_threshold)
            info: dict[str, float] = {}
            kept = self._kept(sample.image, found, soft, info)
            prepared = self._segmented(sample.image, kept, self.models_meta(), None, info)
        if not prepared.instances:
            if self.fallback is not None:
                out = self.fallback.apply(sample, params)
                # the manifest names what made the mask: the classical matte, not the model
                models = {**out.meta.get("models", {}), "segment": "classical"}
                return out.replace(meta={**out.meta, "segment_fallback": "classical", "models": models})
            raise SampleError(f"no product found by yolact above score {cfg.score_threshold}")
        meta = {**sample.meta, "models": {**sample.meta.get("models", {}), **prepared.models}}
        if prepared.seconds is not None:  # what the batched call cost for this image (the runner's timings)
            meta["batch_seconds"] = {**meta.get("batch_seconds", {}), self.name: prepared.seconds}
        # how decided the product's soft mask is (the quality gate's `mask_quality`)
        meta["segment_certainty"] = dict(prepared.certainty)
        return sample.replace(alpha=prepared.alpha, instances=prepared.instances, meta=meta)


def cut_weights(config: YolactConfig) -> Path:
    """The cut model's weights: the preset's `cut_weights`, else the shipped CutNet."""
    if config.cut_weights is not None:
        return Path(config.cut_weights)
    from ...resources import asset_dir
    return asset_dir("weights") / SHIPPED_CUT


def classifier_weights(config: YolactConfig) -> Path:
    """The product classifier's weights: the preset's `classifier_weights`, else the shipped one."""
    if config.classifier_weights is not None:
        return Path(config.classifier_weights)
    from ...resources import asset_dir
    return asset_dir("weights") / SHIPPED_CLASSIFIER


def _model_version(weights: Path, meta: dict) -> str:
    it = meta.get("iteration") or meta.get("train", {}).get("iteration") if isinstance(meta, dict) else None
    return f"{Path(weights).name}" + (f"@it{it}" if it else "")
