"""COCO instance-segmentation data for YOLACT: letterbox to a square input, augment, collate."""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from ...classes import CLASS_ID, GENERIC_PRODUCT, NUM_CLASSES
from ...io import read_image
from ...sample import mask_box

PAD_VALUE = 127  # maps to 0 after the backbone's (x - 127) / 128 normalisation


@dataclass(frozen=True)
class Letterbox:
    """Resize so the longer side is `size`, paste at the top-left of a size×size canvas."""

    scale: float
    new_w: int
    new_h: int
    size: int

    @staticmethod
    def for_shape(h: int, w: int, size: int) -> Letterbox:
        scale = size / max(h, w)
        return Letterbox(scale, max(1, round(w * scale)), max(1, round(h * scale)), size)

    def image(self, img: np.ndarray) -> np.ndarray:
        interp = cv2.INTER_AREA if self.scale < 1 else cv2.INTER_LINEAR
        out = np.full((self.size, self.size, 3), PAD_VALUE, np.uint8)
        out[: self.new_h, : self.new_w] = cv2.resize(img, (self.new_w, self.new_h), interpolation=interp)
        return out

    def mask(self, m: np.ndarray) -> np.ndarray:
        out = np.zeros((self.size, self.size), np.uint8)
        small = cv2.resize(m.astype(np.float32), (self.new_w, self.new_h), interpolation=cv2.INTER_LINEAR)
        out[: self.new_h, : self.new_w] = small >= 0.5
        return out


def resolve_image_path(root: Path, file_name: str) -> Path:
    for cand in (root / file_name, root / "images" / file_name, root / "images" / Path(file_name).name):
        if cand.exists():
            return cand
    raise FileNotFoundError(f"{root}: image {file_name!r} not found (looked in . and images/)")


def category_mapping(categories: list[dict]) -> dict[int, int]:
    """Dataset category id -> product class id (by name when the names are ours, else by id).

    The generic ``product`` category (an object of unknown class) maps to ``GENERIC_PRODUCT.id``
    (num_classes + 1); the loss learns its objectness, box and mask but no class.
    """
    mapping = {}
    for c in categories:
        if c["name"] in CLASS_ID:
            mapping[c["id"]] = CLASS_ID[c["name"]]
        elif c["name"] == GENERIC_PRODUCT.name:
            mapping[c["id"]] = GENERIC_PRODUCT.id
        elif 1 <= c["id"] <= NUM_CLASSES:
            mapping[c["id"]] = c["id"]
    return mapping


class CocoSegDataset:
    """Images + instance masks of a COCO set dir (`annotations.json` + images).

    Items are letterboxed once and cached in memory (masks bit-packed), then augmented per draw with
    a generator seeded from (seed, epoch, index), so a resumed run sees the same stream.
    """

    def __init__(self, root: str | Path, input_size: int, augment: bool = False, seed: int = 0,
                 limit: int | None = None, cache: bool = True) -> None:
        from pycocotools import mask as mask_utils

        self._mask_utils = mask_utils
        self.root = Path(root)
        data = json.loads((self.root / "annotations.json").read_text())
        self.cat_map = category_mapping(data.get("categories", []))
        anns: dict[int, list[dict]] = {}
        for a in data["annotations"]:
            if not a.get("iscrowd", 0) and a["category_id"] in self.cat_map:
                anns.setdefault(a["image_id"], []).append(a)
        self.images = [im for im in data["images"] if im["id"] in anns]
        if limit is not None:
            self.images = self.images[:limit]
        self.anns = anns
        self.size = input_size
        self.augment = augment
        self.seed = seed
        self.epoch = 0
        self.cache_enabled = cache
        self._cache: dict[int, tuple[np.ndarray, np.ndarray, np.ndarray]] = {}

    def __len__(self) -> int:
        return len(self.images)

    def _decode(self, ann: dict, h: int, w: int) -> np.ndarray:
        seg = ann["segmentation"]
        if isinstance(seg, list):
            rle = self._mask_utils.merge(self._mask_utils.frPyObjects(seg, h, w))
        elif isinstance(seg["counts"], list):
            rle = self._mask_utils.frPyObjects(seg, h, w)
        else:
            rle = seg
        return self._mask_utils.decode(rle)

    def load(self, i: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Letterboxed (image S×S×3 uint8, masks G×S×S uint8, labels G)."""
        if i in self._cache:
            img, packed, labels = self._cache[i]
            masks = np.unpackbits(packed, axis=-1, count=self.size)
            return img, masks, labels
        info = self.images[i]
        rgb = read_image(resolve_image_path(self.root, info["file_name"]))[0]
        h, w = rgb.shape[:2]
        lb = Letterbox.for_shape(h, w, self.size)
        img = lb.image(rgb)
        anns = self.anns[info["id"]]
        masks = np.stack([lb.mask(self._decode(a, h, w)) for a in anns]).astype(np.uint8)
        labels = np.array([self.cat_map[a["category_id"]] for a in anns], np.int64)
        if self.cache_enabled:
            self._cache[i] = (img, np.packbits(masks, axis=-1), labels)
        return img, masks, labels

    def __getitem__(self, i: int):
        import torch

        from .loss import Target

        img, masks, labels = self.load(i)
        if self.augment:
            rng = np.random.default_rng(np.random.SeedSequence([self.seed, self.epoch, i]))
            img, masks = augment(img, masks, rng)
        boxes, keep = boxes_from_masks(masks, min_pixels=16)
        target = Target(torch.from_numpy(boxes / self.size).float(), torch.from_numpy(labels[keep]),
                        torch.from_numpy(masks[keep]))
        return torch.from_numpy(img).permute(2, 0, 1).float(), target


def boxes_from_masks(masks: np.ndarray, min_pixels: int = 1) -> tuple[np.ndarray, np.ndarray]:
    """``sample.mask_box`` of each mask with at least `min_pixels` pixels: (G×4 float32 xyxy, kept indices)."""
    boxes, keep = [], []
    for j, m in enumerate(masks):
        if m.sum() < min_pixels:
            continue
        boxes.append(mask_box(m))
        keep.append(j)
    return np.array(boxes, np.float32).reshape(-1, 4), np.array(keep, np.int64)


def augment(img: np.ndarray, masks: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Random zoom/shift, horizontal flip and photometric jitter (brightness, contrast, saturation, hue)."""
    size = img.shape[0]
    scale = float(rng.uniform(0.6, 1.25))
    tx = float(rng.uniform(min(0.0, size * (1 - scale)), max(0.0, size * (1 - scale))))
    ty = float(rng.uniform(min(0.0, size * (1 - scale)), max(0.0, size * (1 - scale))))
    flip = bool(rng.random() < 0.5)
    sx = -scale if flip else scale
    m = np.array([[sx, 0, tx + (scale * size if flip else 0)], [0, scale, ty]], np.float32)
    img = cv2.warpAffine(img, m, (size, size), flags=cv2.INTER_LINEAR, borderValue=(PAD_VALUE,) * 3)
    masks = np.stack([cv2.warpAffine(mk, m, (size, size), flags=cv2.INTER_NEAREST) for mk in masks])
    hsv = cv2.cvtColor(img, cv2.COLOR_RGB2HSV).astype(np.float32)
    hsv[..., 0] = (hsv[..., 0] + rng.uniform(-8, 8)) % 180
    hsv[..., 1] *= rng.uniform(0.7, 1.3)
    img = cv2.cvtColor(np.clip(hsv, 0, 255).astype(np.uint8), cv2.COLOR_HSV2RGB).astype(np.float32)
    img = (img - 127.0) * rng.uniform(0.75, 1.25) + 127.0 + rng.uniform(-24, 24)
    return np.clip(img, 0, 255).astype(np.uint8), masks


def collate(batch):
    import torch

    images = torch.stack([b[0] for b in batch])
    return images, [b[1] for b in batch]
