"""`ProductDataset`: a PyTorch dataset that draws a new variant of each photo every epoch.

    from torch.utils.data import DataLoader
    from product_augment.integrations.torch import ProductDataset, collate, worker_init_fn

    ds = ProductDataset("photos/", "train-expand")          # or a COCO file: ProductDataset("coco.json", ...)
    loader = DataLoader(ds, batch_size=4, num_workers=2, collate_fn=collate, worker_init_fn=worker_init_fn)
    for epoch in range(10):
        ds.set_epoch(epoch)
        for images, targets in loader: ...

Item `i` of epoch `e` is drawn from `SeedSequence([seed, e, i])`: distinct across items and epochs,
and the same whichever worker draws it, so `num_workers` 0, 2 or 8 give the same variants (the
worker only decides where the work happens). Each worker builds the preset once and loads its
models in `worker_init_fn` (or on its first item without it), on one thread, as `augment run`'s
workers do. Targets are torchvision's: `tv_tensors.Image` (uint8 C×H×W) and, for `target=
"detection"`, a dict of `boxes` (`tv_tensors.BoundingBoxes`, XYXY), `labels` (int64), `masks`
(`tv_tensors.Mask`, N×H×W uint8), `backdrop` (bool), `image_id`, `area`, `iscrowd`, so
torchvision.transforms.v2 and its detection models take them as they are; `target="segmentation"`
gives one `tv_tensors.Mask` H×W of class ids (0 = background; a later instance over an earlier one).
Needs the `train` extra (torch, torchvision).
"""
from __future__ import annotations

import json
import os
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import numpy as np

try:
    import torch
    from torch.utils.data import Dataset, get_worker_info
    from torchvision import tv_tensors
except ImportError as e:  # pragma: no cover - the extra is missing
    raise ImportError("product_augment.integrations.torch needs torch and torchvision: "
                      "pip install 'product-augment[train]'") from e

from ..api import Augmenter, PresetSource, Result, load_preset
from ..io import list_inputs

__all__ = ["ProductDataset", "collate", "worker_init_fn"]

TARGETS = ("detection", "segmentation")


class ProductDataset(Dataset):
    """Photos of products, augmented by a preset on every access.

    Args:
        source: a folder of photos (listed recursively, as `augment run` lists inputs) or a COCO
            JSON file (its images, under `image_root`, default the file's folder; its
            annotations are the products' masks, so no segmenter runs).
        preset: a preset file, a shipped preset's name or a mapping (see `load_preset`).
        masks: for a folder, a COCO file of its masks (`cache_masks` writes one): no segmenter runs
            for the photos it lists.
        seed: the base seed (default: the preset's).
        target: "detection" (instances) or "segmentation" (one class-id mask).
        transforms: `transforms(image, target)` applied last (torchvision v2 transforms work).
        cache: photos whose segmentation each worker keeps (`Augmenter(cache=...)`).
    """

    def __init__(self, source: str | os.PathLike, preset: PresetSource, *, masks: str | os.PathLike | None = None,
                 image_root: str | os.PathLike | None = None, seed: int | None = None, target: str = "detection",
                 transforms: Callable[[Any, Any], tuple[Any, Any]] | None = None, cache: int = 64,
                 base_dir: str | os.PathLike | None = None):
        if target not in TARGETS:
            raise ValueError(f"target {target!r}: use {' or '.join(TARGETS)}")
        self.preset = load_preset(preset, base_dir=base_dir)
        self.seed = self.preset.model.seed if seed is None else int(seed)
        self.target, self.transforms, self.cache = target, transforms, int(cache)
        self.epoch = 0
        source = Path(source)
        if source.is_dir():
            self.root = source
            self.files, _ = list_inputs(source, self.preset.model.input.recursive)
            self.coco = _read_coco(Path(masks)) if masks is not None else None
        elif source.is_file() and source.suffix.lower() == ".json":
            if masks is not None:
                raise ValueError("a COCO source holds its own masks: leave `masks` out")
            self.coco = _read_coco(source)
            self.root = Path(image_root) if image_root is not None else source.parent
            self.files = sorted(self.coco.by_file)
        else:
            raise ValueError(f"{source}: give a folder of photos or a COCO .json file")
        if not self.files:
            raise ValueError(f"{source}: no images")
        self._augmenter: Augmenter | None = None

    # -- epochs and workers

    def set_epoch(self, epoch: int) -> None:
        """The epoch the next items belong to: call it before iterating each epoch (workers are
        started per epoch by default; with `persistent_workers=True` they keep the epoch they had)."""
        self.epoch = int(epoch)

    def init_worker(self) -> None:
        """Build the preset and load its models in this process, on one thread (BLAS/OpenMP through
        threadpoolctl, and the variables libraries read when they load; torch's workers already
        run torch on one). OpenCV's pool is left alone: `cv2.setNumThreads` hangs in a process
        forked from one that used it, and OpenCV's results do not depend on its thread count."""
        from threadpoolctl import threadpool_limits

        from ..threads import THREAD_ENV

        os.environ.update(dict.fromkeys(THREAD_ENV, "1"))
        threadpool_limits(1)
        aug = self.augmenter
        seg = next((s for s in aug.pipeline.steps if s.name == "segment"), None)
        if seg is not None and self.coco is None:
            for attr in ("predictor", "cut"):  # YOLACT and the cut model: loaded now, once
                if hasattr(seg, attr):
                    getattr(seg, attr)

    @property
    def augmenter(self) -> Augmenter:
        if self._augmenter is None:
            self._augmenter = Augmenter(self.preset, cache=self.cache)
        return self._augmenter

    def __getstate__(self) -> dict[str, Any]:
        state = self.__dict__.copy()
        state["_augmenter"] = None
        return state

    # -- items

    def __len__(self) -> int:
        return len(self.files)

    def rng(self, index: int, epoch: int | None = None) -> np.random.Generator:
        """The generator item `index` of `epoch` draws from."""
        e = self.epoch if epoch is None else epoch
        return np.random.default_rng(np.random.SeedSequence([self.seed, e, int(index)]))

    def augment(self, index: int, epoch: int | None = None) -> Result:
        """Item `index` of `epoch` (default: the current one) as a `Result`."""
        rel = self.files[index]
        given = {}
        if self.coco is not None:
            anns = self.coco.by_file.get(rel)
            if anns:
                given = {"annotations": anns, "categories": self.coco.categories}
        return self.augmenter(self.root / rel, rng=self.rng(index, epoch), key=rel, **given)

    def __getitem__(self, index: int) -> tuple[Any, Any]:
        r = self.augment(index)
        image = tv_tensors.Image(torch.from_numpy(np.ascontiguousarray(r.image)).permute(2, 0, 1))
        target = self._detection(r, index) if self.target == "detection" else self._segmentation(r)
        if self.transforms is not None:
            image, target = self.transforms(image, target)
        return image, target

    def _detection(self, r: Result, index: int) -> dict[str, Any]:
        h, w = r.image.shape[:2]
        return {
            "boxes": tv_tensors.BoundingBoxes(torch.from_numpy(r.boxes.copy()), format="XYXY", canvas_size=(h, w)),
            "labels": torch.from_numpy(r.classes.copy()),
            "masks": tv_tensors.Mask(torch.from_numpy(r.masks.astype(np.uint8))),
            "backdrop": torch.from_numpy(r.backdrop.copy()),
            "image_id": int(index),
            "area": torch.from_numpy(r.masks.reshape(len(r.masks), -1).sum(1).astype(np.float32)),
            "iscrowd": torch.zeros(len(r.masks), dtype=torch.int64),
        }

    @staticmethod
    def _segmentation(r: Result) -> Any:
        seg = np.zeros(r.image.shape[:2], np.int64)
        for m, c in zip(r.masks, r.classes):
            seg[m] = c
        return tv_tensors.Mask(torch.from_numpy(seg))


def worker_init_fn(worker_id: int) -> None:
    """`DataLoader(..., worker_init_fn=worker_init_fn)`: each worker builds the preset and loads
    its models once, on one thread."""
    info = get_worker_info()
    dataset = info.dataset if info is not None else None
    while dataset is not None and not isinstance(dataset, ProductDataset):
        dataset = getattr(dataset, "dataset", None)  # a Subset or another wrapper
    if dataset is not None:
        dataset.init_worker()


def collate(batch: list[tuple[Any, Any]]) -> tuple[Any, Any]:
    """Images stacked when they share a size (else a list), targets as a list: what torchvision's
    detection models take (`model(list(images), targets)`)."""
    images, targets = zip(*batch)
    if target_is_mask(targets[0]):
        targets = torch.stack(list(targets)) if len({t.shape for t in targets}) == 1 else list(targets)
    else:
        targets = list(targets)
    if len({tuple(i.shape) for i in images}) == 1:
        return torch.stack(list(images)), targets
    return list(images), targets


def target_is_mask(t: Any) -> bool:
    return isinstance(t, torch.Tensor)


class _Coco:
    def __init__(self, path: Path, by_file: dict[str, list[dict]], categories: list[dict]):
        self.path, self.by_file, self.categories = path, by_file, categories


def _read_coco(path: Path) -> _Coco:
    try:
        data = json.loads(Path(path).read_text())
    except (OSError, ValueError) as e:
        raise ValueError(f"{path}: cannot read the COCO file: {e}") from None
    if not isinstance(data, Mapping) or "images" not in data:
        raise ValueError(f"{path}: not a COCO file (no `images`)")
    images = {im["id"]: im["file_name"] for im in data["images"]}
    by_file: dict[str, list[dict]] = {name: [] for name in images.values()}
    for ann in data.get("annotations", []):
        name = images.get(ann.get("image_id"))
        if name is not None:
            by_file[name].append(ann)
    return _Coco(Path(path), by_file, list(data.get("categories", [])))
