"""`ProductAugment`: a preset as an albumentations transform.

    import albumentations as A
    from product_augment.integrations.albumentations import ProductAugment

    t = A.Compose([ProductAugment("catalog-white"), A.RandomCrop(512, 512), A.HorizontalFlip()],
                  bbox_params=A.BboxParams(format="pascal_voc", label_fields=["labels"]), seed=0)
    out = t(image=image, masks=masks, bboxes=boxes, labels=labels)

The product is cut out (by the preset's segmenter, or from the `masks` you pass with
`masks_are_products=True`) and put on the preset's new background; the image changes size to the
preset's canvas. Your masks, boxes and keypoints are moved by the same placement (the affine
matrix the background step records), so they stay on the product; albumentations' crops, flips
and box filtering after it work as usual. Every random choice comes from the transform's
`random_generator` (set by `A.Compose(seed=...)`), so a seeded Compose repeats itself and
`A.ReplayCompose` replays it: the recorded parameters are the preset's own (`params["applied"]`).
Needs `pip install 'product-augment[albumentations]'` (albumentations >= 2).
"""
from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

import cv2
import numpy as np

try:
    from albumentations.core.transforms_interface import DualTransform
except ImportError as e:  # pragma: no cover - the extra is missing
    raise ImportError("product_augment.integrations.albumentations needs albumentations >= 2: "
                      "pip install 'product-augment[albumentations]'") from e

from ..api import Augmenter, Result
from ..ops.placement import warp_mask
from ..presets.loader import DICT_PRESET_NAME, Preset

__all__ = ["ProductAugment"]


class _Computed:
    """The result of one call, for the targets of that same call. A deep copy (what ReplayCompose
    keeps) is empty: a replayed call makes the picture again from `applied`."""

    __slots__ = ("result", "source")

    def __init__(self, result: Result | None, source: np.ndarray | None):
        self.result, self.source = result, source

    def __deepcopy__(self, memo: dict) -> _Computed:
        return _Computed(None, None)

    def __repr__(self) -> str:
        return "<product_augment result>" if self.result is not None else "<to be replayed>"


class ProductAugment(DualTransform):
    """A product-augment preset as an albumentations DualTransform.

    Args:
        preset: a preset file, a shipped preset's name ("catalog-white") or a mapping (the YAML's
            content; its relative paths against `base_dir`). Kept as given for serialization.
        base_dir: where a mapping's relative paths resolve (default: the current folder).
        masks_are_products: take the `masks` target (else `mask`) as the products' instance masks,
            so no segmenter runs (their class is the segment step's `class_name`).
        cache: photos whose segmentation is kept per process (a photo seen again, in the next
            epoch, is not segmented again; the result is the same).
        p: probability of applying the transform.

    Targets: image, mask, masks, bboxes, keypoints. The image becomes the preset's picture (RGBA
    when the preset's background is transparent); masks, boxes and keypoints go through the
    placement. Instances the preset adds (a photo backdrop's own objects) and its layers are not
    albumentations targets: use `product_augment.Augmenter` for them.
    """

    def __init__(self, preset: str | os.PathLike | Mapping[str, Any] | Preset = "catalog-white",
                 base_dir: str | None = None, masks_are_products: bool = False, cache: int = 16,
                 p: float = 1.0):
        super().__init__(p=p)
        if isinstance(preset, Preset):
            if preset.path.name == DICT_PRESET_NAME:
                preset, base_dir = preset.raw, str(preset.base_dir)
            else:
                preset = str(preset.path)
        elif isinstance(preset, os.PathLike):
            preset = os.fspath(preset)
        elif isinstance(preset, Mapping):
            preset = dict(preset)
        self.preset = preset
        self.base_dir = None if base_dir is None else str(base_dir)
        self.masks_are_products = bool(masks_are_products)
        self.cache = int(cache)
        self._augmenter: Augmenter | None = None
        self.augmenter  # noqa: B018 - load and build now: a bad preset fails here, not in a worker

    @property
    def augmenter(self) -> Augmenter:
        """The preset, built once per process (pickling drops it; the copy builds its own)."""
        if self._augmenter is None:
            from ..api import load_preset

            self._augmenter = Augmenter(load_preset(self.preset, base_dir=self.base_dir), cache=self.cache)
        return self._augmenter

    def __getstate__(self) -> dict[str, Any]:
        state = self.__dict__.copy()
        state["_augmenter"] = None
        return state

    # -- serialization: A.to_dict / A.from_dict / ReplayCompose

    def get_transform_init_args_names(self) -> tuple[str, ...]:
        return ("preset", "base_dir", "masks_are_products", "cache")

    def get_transform_init_args(self) -> dict[str, Any]:
        return {k: getattr(self, k) for k in self.get_transform_init_args_names()}

    # -- params

    def _products(self, data: Mapping[str, Any]) -> list[np.ndarray] | None:
        if not self.masks_are_products:
            return None
        masks = data.get("masks")
        if masks is None or len(masks) == 0:
            masks = [data["mask"]] if data.get("mask") is not None else None
        if masks is None:
            raise ValueError("ProductAugment(masks_are_products=True) needs a `masks` (or `mask`) target")
        return [np.asarray(m) for m in masks]

    def get_params_dependent_on_data(self, params: dict[str, Any], data: dict[str, Any]) -> dict[str, Any]:
        image = data["image"]
        result = self.augmenter(image, rng=self.random_generator, masks=self._products(data))
        return {"applied": result.params, "computed": _Computed(result, image)}

    def apply_with_params(self, params: dict[str, Any], *args: Any, **kwargs: Any) -> dict[str, Any]:
        computed = params.get("computed")
        image = kwargs.get("image")
        if image is not None and (computed is None or computed.source is not image):
            # a replayed call (ReplayCompose) or another image: the picture again from the record
            result = self.augmenter.replay(image, params["applied"], masks=self._products(kwargs))
            params = {**params, "computed": _Computed(result, image)}
        return super().apply_with_params(params, *args, **kwargs)

    # -- targets

    def apply(self, img: np.ndarray, computed: _Computed, **params: Any) -> np.ndarray:
        r = computed.result
        if r.alpha is None:
            return r.image
        a = np.clip(r.alpha * 255.0 + 0.5, 0, 255).astype(np.uint8)
        return np.dstack([r.image, a])

    def apply_to_mask(self, mask: np.ndarray, computed: _Computed, **params: Any) -> np.ndarray:
        placed = computed.result.placement
        if placed is None:
            return mask
        return _warp_target(mask, *placed)

    def apply_to_masks(self, masks: np.ndarray, computed: _Computed, **params: Any) -> np.ndarray:
        out = [self.apply_to_mask(m, computed) for m in masks]
        if out:
            return np.stack(out)
        w, h = computed.result.image.shape[1], computed.result.image.shape[0]
        return np.zeros((0, h, w), dtype=np.asarray(masks).dtype)

    def apply_to_bboxes(self, bboxes: np.ndarray, computed: _Computed, shape: tuple[int, ...],
                        **params: Any) -> np.ndarray:
        """Boxes in albumentations' internal form (x_min, y_min, x_max, y_max normalised, then the
        label columns): the corners through the placement, the box around them, clipped."""
        placed = computed.result.placement
        if placed is None or len(bboxes) == 0:
            return bboxes
        m, (w, h) = placed
        ih, iw = shape[:2]
        out = np.array(bboxes, dtype=np.float64, copy=True)
        x0, y0, x1, y1 = (out[:, 0] * iw, out[:, 1] * ih, out[:, 2] * iw, out[:, 3] * ih)
        xs = np.stack([x0, x1, x0, x1], 1)
        ys = np.stack([y0, y0, y1, y1], 1)
        tx = m[0, 0] * xs + m[0, 1] * ys + m[0, 2]
        ty = m[1, 0] * xs + m[1, 1] * ys + m[1, 2]
        out[:, 0] = np.clip(tx.min(1), 0, w) / w
        out[:, 2] = np.clip(tx.max(1), 0, w) / w
        out[:, 1] = np.clip(ty.min(1), 0, h) / h
        out[:, 3] = np.clip(ty.max(1), 0, h) / h
        return out.astype(np.asarray(bboxes).dtype)

    def apply_to_keypoints(self, keypoints: np.ndarray, computed: _Computed, **params: Any) -> np.ndarray:
        """Keypoints (x, y, angle, scale, ...) in pixels: positions through the placement, scale by
        its factor, angle mirrored when it flips."""
        placed = computed.result.placement
        if placed is None or len(keypoints) == 0:
            return keypoints
        m, _ = placed
        out = np.array(keypoints, dtype=np.float64, copy=True)
        x, y = out[:, 0].copy(), out[:, 1].copy()
        out[:, 0] = m[0, 0] * x + m[0, 1] * y + m[0, 2]
        out[:, 1] = m[1, 0] * x + m[1, 1] * y + m[1, 2]
        det = m[0, 0] * m[1, 1] - m[0, 1] * m[1, 0]
        if out.shape[1] > 3:
            out[:, 3] *= np.sqrt(abs(det))
        if out.shape[1] > 2 and det < 0:
            out[:, 2] = np.pi - out[:, 2]
        return out.astype(np.asarray(keypoints).dtype)


def _warp_target(mask: np.ndarray, m: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """A mask through the placement: a binary one exactly as the pipeline warps its instances
    (bilinear on 0/255, kept at ≥ 128), keeping its values; a label map by nearest neighbour."""
    mask = np.asarray(mask)
    values = np.unique(mask)
    if mask.ndim == 2 and values.size <= 2 and (values.size == 1 or values[0] == 0):
        on = values[-1] if values.size else 1
        placed = warp_mask(np.ascontiguousarray(mask != 0), m, size)
        return np.where(placed, on, np.zeros((), mask.dtype)).astype(mask.dtype)
    return cv2.warpAffine(np.ascontiguousarray(mask), np.asarray(m, np.float64), size, flags=cv2.INTER_NEAREST,
                          borderMode=cv2.BORDER_CONSTANT, borderValue=0)
