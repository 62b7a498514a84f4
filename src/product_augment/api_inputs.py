"""What a caller of the API hands in (an image or a path, a matte, masks, COCO annotations) and the
segment steps that use it in place of the preset's: `GivenSegment` (the caller's masks) and
`CachedSegment` (the preset's step, its result kept per photo: `Augmenter(cache=N)`)."""
from __future__ import annotations

import os
from collections import OrderedDict
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from .classes import class_id
from .io import read_image
from .pipeline import ParamStep, Pipeline, SampleError
from .sample import Instance, Sample

GIVEN = "given"  # the segment step's recorded backend when the caller gave the masks


class GivenSegment(ParamStep):
    """The segment step when the caller gives the masks: the matte is their union."""

    name = "segment"
    requires = frozenset({"image"})
    provides = frozenset({"alpha", "instances"})

    def draw(self, sample: Sample, rng: np.random.Generator) -> dict[str, Any]:
        return {"backend": GIVEN}

    def apply(self, sample: Sample, params: Mapping[str, Any]) -> Sample:
        given = sample.meta.get(GIVEN)
        if not given:
            raise SampleError("no masks given (or every given mask is empty)")
        meta = {k: v for k, v in sample.meta.items() if k != GIVEN}
        alpha = np.max(np.stack([i.mask for i in given]), axis=0).astype(np.float32)
        return sample.replace(alpha=alpha, instances=tuple(given), meta=meta)


class SegmentCache:
    def __init__(self, size: int):
        self.size = size
        self.entries: OrderedDict[Any, tuple] = OrderedDict()
        self.pipeline: Pipeline | None = None
        self.hits = 0


class CachedSegment(ParamStep):
    """The preset's segment step, with its result kept per photo (`Augmenter(cache=N)`)."""

    name = "segment"

    def __init__(self, inner: ParamStep, cache: SegmentCache):
        self.inner, self.cache = inner, cache
        self.requires, self.provides = inner.requires, inner.provides  # type: ignore[misc]
        self.uses = getattr(inner, "uses", frozenset())  # type: ignore[misc]

    def draw(self, sample: Sample, rng: np.random.Generator) -> dict[str, Any]:
        return self.inner.draw(sample, rng)

    def apply(self, sample: Sample, params: Mapping[str, Any]) -> Sample:
        import hashlib
        import json

        h = hashlib.blake2b(np.ascontiguousarray(sample.image).data, digest_size=16)
        h.update(repr(sample.image.shape).encode())
        if sample.alpha is not None:
            h.update(np.ascontiguousarray(sample.alpha).data)
        key = (h.hexdigest(), sample.meta.get("relpath"), json.dumps(params, sort_keys=True, default=str))
        hit = self.cache.entries.get(key)
        if hit is not None:
            self.cache.entries.move_to_end(key)
            self.cache.hits += 1
            alpha, instances, meta = hit
            return sample.replace(alpha=alpha, instances=instances, meta={**sample.meta, **meta})
        out = self.inner.apply(sample, params)
        added = {k: v for k, v in out.meta.items() if k not in sample.meta or sample.meta[k] is not v}
        self.cache.entries[key] = (out.alpha, out.instances, added)
        while len(self.cache.entries) > self.cache.size:
            self.cache.entries.popitem(last=False)
        return out


def read_input(image: Any, key: str | None, max_side: int) -> tuple[np.ndarray, np.ndarray | None, str | None]:
    if isinstance(image, (str, os.PathLike)):
        rgb, alpha = read_image(Path(image), max_side)
        return rgb, alpha, key if key is not None else Path(image).name
    if not isinstance(image, np.ndarray):
        raise TypeError(f"image must be a numpy array (H×W×3 uint8 RGB) or a file path, not {type(image).__name__}")
    if image.dtype != np.uint8:
        raise TypeError(f"image must be uint8 (0..255), got {image.dtype}")
    if image.ndim == 2:
        return np.ascontiguousarray(np.repeat(image[..., None], 3, axis=2)), None, key
    if image.ndim != 3 or image.shape[2] not in (3, 4):
        raise ValueError(f"image must be H×W×3 (RGB) or H×W×4 (RGBA), got shape {image.shape}")
    if image.shape[2] == 4:
        a = image[..., 3]
        alpha = a.astype(np.float32) / 255.0 if (a < 255).any() else None
        return np.ascontiguousarray(image[..., :3]), alpha, key
    return np.ascontiguousarray(image), None, key


def as_matte(alpha: Any, shape: tuple[int, int], what: str) -> np.ndarray:
    a = np.asarray(alpha)
    if a.shape != shape:
        raise ValueError(f"{what} is {a.shape}, the image is {shape}")
    if a.dtype == np.uint8:
        return a.astype(np.float32) / 255.0
    if a.dtype == np.float32 and (a.size == 0 or (a.min() >= 0 and a.max() <= 1)):
        return a  # the reader's matte, as it is
    return np.clip(a.astype(np.float32), 0, 1)


def given_instances(masks: Any, classes: Sequence[int | str] | None, shape: tuple[int, int],
                     default: int) -> tuple[Instance, ...]:
    arr = [np.asarray(m) for m in masks] if not isinstance(masks, np.ndarray) else \
        list(masks[None] if masks.ndim == 2 else masks)
    if classes is not None and len(classes) != len(arr):
        raise ValueError(f"{len(arr)} masks but {len(classes)} classes")
    out = []
    for j, m in enumerate(arr):
        if m.shape != shape:
            raise ValueError(f"masks[{j}] is {m.shape}, the image is {shape}")
        c = default if classes is None else classes[j]
        cid = class_id(c) if isinstance(c, str) else int(c)
        if not 1 <= cid <= 22:
            raise ValueError(f"classes[{j}]: {c!r} is not a class id (1..22) or name")
        if m.any():
            out.append(Instance.from_mask(cid, m != 0))
    return tuple(out)


def from_coco(annotations: Sequence[Mapping[str, Any]], categories: Sequence[Mapping[str, Any]] | None,
               shape: tuple[int, int]) -> tuple[list[np.ndarray], list[int]]:
    from .folders import CocoMasks

    names = {c["id"]: c["name"] for c in categories} if categories is not None else None
    h, w = shape
    masks, classes = [], []
    for j, ann in enumerate(annotations):
        if "segmentation" not in ann:
            raise ValueError(f"annotations[{j}] has no segmentation")
        seg = ann["segmentation"]
        size = seg.get("size") if isinstance(seg, Mapping) else None  # an RLE knows its size
        m = CocoMasks.decode({"height": size[0], "width": size[1]} if size else {"height": h, "width": w}, ann)
        if m.shape != shape:  # the image was downscaled on read (input.max_side)
            from .steps.segment import _fit

            m = _fit(m, h, w, Path(f"annotations[{j}]"), label=True)
        masks.append(m)
        cat = ann.get("category_id")
        if names is not None:
            try:
                classes.append(class_id(names.get(cat, "product")))
            except ValueError:
                classes.append(class_id("product"))
        else:
            classes.append(int(cat) if cat is not None else class_id("product"))
    return masks, classes
