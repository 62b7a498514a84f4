"""The segmenter on real photos: top-product IoU against hand masks (`augment eval segmenter
--photos DIR`), the protocol of the README's real-photo figures.

DIR holds `images/<stem>.jpg|png|webp` and `masks/<stem>.png` (product > 127), e.g. a shop-photo
set from `augment data shop` (then its `annotations.json` gives the product's class, and the class
accuracy of the pick is reported over the photos whose product is one of the 21 classes). The
prediction is the mask the pipeline keeps: the predictor's first detection, soft mask ≥ 0.5; no
detection counts as IoU 0 ("not found").
"""
from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

PHOTO_SUFFIXES = (".jpg", ".jpeg", ".png", ".webp")


def photo_classes(data_dir: Path) -> dict[str, int]:
    """Each photo's product class (by file stem) from the set's `annotations.json` (`main` ones)."""
    ann_path = data_dir / "annotations.json"
    if not ann_path.exists():
        return {}
    coco = json.loads(ann_path.read_text())
    by_id = {im["id"]: Path(im["file_name"]).stem for im in coco["images"]}
    return {by_id[a["image_id"]]: a["category_id"] for a in coco["annotations"] if a.get("main")}


def evaluate_photos(predictor: Any, data_dir: str | Path, score_threshold: float = 0.3,
                    masks_out: str | Path | None = None,
                    progress: Callable[[dict], None] | None = None) -> dict[str, Any]:
    """{"summary": ..., "images": [one row per photo]}: IoU of the top mask, whether anything was
    found, seconds, true and predicted class. `masks_out`: the predicted masks as <stem>.png."""
    import cv2

    from ...classes import CLASS_NAMES

    data_dir = Path(data_dir)
    classes = photo_classes(data_dir)
    rows = []
    for img_path in sorted((data_dir / "images").iterdir()):
        mask_path = data_dir / "masks" / f"{img_path.stem}.png"
        if img_path.suffix.lower() not in PHOTO_SUFFIXES or not mask_path.exists():
            continue
        image = cv2.cvtColor(cv2.imread(str(img_path), cv2.IMREAD_COLOR), cv2.COLOR_BGR2RGB)
        gt = cv2.imread(str(mask_path), cv2.IMREAD_GRAYSCALE) > 127
        t0 = time.perf_counter()
        soft = predictor.soft(image, score_threshold=score_threshold)
        secs = time.perf_counter() - t0
        found = len(soft.masks) > 0
        top = soft.masks[0] >= 0.5 if found else np.zeros_like(gt)
        union = (top | gt).sum()
        row = {"stem": img_path.stem, "iou": float((top & gt).sum() / union) if union else 0.0, "found": found,
               "seconds": secs, "true_class": classes.get(img_path.stem),
               "pred_class": int(soft.classes[0]) if found else None}
        rows.append(row)
        if masks_out is not None:
            Path(masks_out).mkdir(parents=True, exist_ok=True)
            cv2.imwrite(str(Path(masks_out) / f"{img_path.stem}.png"), top.astype(np.uint8) * 255)
        if progress is not None:
            progress(row)
    ious = np.array([r["iou"] for r in rows])
    known = [r for r in rows if r["true_class"] and r["true_class"] <= len(CLASS_NAMES)]
    summary = {"n": len(rows), "mean_iou": float(ious.mean()) if rows else 0.0,
               "median_iou": float(np.median(ious)) if rows else 0.0,
               "ge0.9": float((ious >= 0.9).mean()) if rows else 0.0, "lt0.5": int((ious < 0.5).sum()),
               "not_found": int(sum(not r["found"] for r in rows)),
               "class_accuracy": (sum(r["pred_class"] == r["true_class"] for r in known) / len(known))
               if known else None,
               "class_n": len(known),
               "median_s": float(np.median([r["seconds"] for r in rows])) if rows else 0.0}
    return {"summary": summary, "images": rows}
