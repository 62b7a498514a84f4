"""A tiny synthetic COCO set (coloured shapes on textured backgrounds) for tests and quick ablations."""
from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np

from ...annotations import mask_to_rle
from ...classes import coco_categories

SHAPE_CLASSES = {"disc": 5, "box": 7, "triangle": 16}  # bottle, phone, toy: any three distinct ids


def _draw(kind: str, h: int, w: int, rng: np.random.Generator) -> np.ndarray:
    m = np.zeros((h, w), np.uint8)
    s = int(rng.uniform(0.25, 0.55) * min(h, w))
    cx, cy = int(rng.uniform(s / 2, w - s / 2)), int(rng.uniform(s / 2, h - s / 2))
    if kind == "disc":
        cv2.ellipse(m, (cx, cy), (s // 2, int(s // 2 * rng.uniform(0.6, 1.0))), 0, 0, 360, 1, -1)
    elif kind == "box":
        cv2.rectangle(m, (cx - s // 2, cy - int(s * 0.35)), (cx + s // 2, cy + int(s * 0.35)), 1, -1)
    else:
        pts = np.array([[cx, cy - s // 2], [cx - s // 2, cy + s // 2], [cx + s // 2, cy + s // 2]], np.int32)
        cv2.fillPoly(m, [pts], 1)
    return m


def make_synthetic_coco(root: str | Path, n_images: int, seed: int = 0, size: tuple[int, int] = (120, 160),
                        max_objects: int = 2) -> Path:
    """Write `n_images` JPEG-free (PNG) images + RLE `annotations.json` under root; return root."""
    root = Path(root)
    (root / "images").mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    h, w = size
    images, anns = [], []
    kinds = list(SHAPE_CLASSES)
    for i in range(n_images):
        bg = rng.integers(0, 256, 3)
        img = np.clip(bg + rng.normal(0, 12, (h, w, 3)), 0, 255).astype(np.uint8)
        occupied = np.zeros((h, w), bool)
        for _ in range(int(rng.integers(1, max_objects + 1))):
            kind = kinds[int(rng.integers(len(kinds)))]
            m = _draw(kind, h, w, rng).astype(bool) & ~occupied
            if m.sum() < 30:
                continue
            colour = (bg + 80 + rng.integers(0, 96, 3)) % 256
            img[m] = colour
            occupied |= m
            ys, xs = np.nonzero(m)
            anns.append({"id": len(anns) + 1, "image_id": i + 1, "category_id": SHAPE_CLASSES[kind],
                         "segmentation": mask_to_rle(m),
                         "area": float(m.sum()), "iscrowd": 0,
                         "bbox": [float(xs.min()), float(ys.min()), float(xs.max() - xs.min() + 1),
                                  float(ys.max() - ys.min() + 1)]})
        name = f"{i:05d}.png"
        cv2.imwrite(str(root / "images" / name), cv2.cvtColor(img, cv2.COLOR_RGB2BGR))
        images.append({"id": i + 1, "file_name": name, "height": h, "width": w})
    (root / "annotations.json").write_text(json.dumps(
        {"images": images, "annotations": anns, "categories": coco_categories()}))
    return root
