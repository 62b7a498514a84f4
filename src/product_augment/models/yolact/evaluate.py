"""COCO mask/box AP (pycocotools), per-class AP and top-product mean IoU of a Predictor on a set dir."""
from __future__ import annotations

import contextlib
import io
import json
from pathlib import Path
from typing import Any

import numpy as np

from ...annotations import mask_to_rle
from ...classes import CLASS_NAMES
from ...io import read_image
from .data import category_mapping, resolve_image_path


def _coco_eval(gt, dt, iou_type: str, img_ids: list[int], use_cats: bool = True):
    from pycocotools.cocoeval import COCOeval

    ev = COCOeval(gt, dt, iou_type)
    ev.params.imgIds = img_ids
    ev.params.useCats = int(use_cats)
    with contextlib.redirect_stdout(io.StringIO()):
        ev.evaluate()
        ev.accumulate()
        ev.summarize()
    return ev


def _per_class_ap(ev, cat_ids: list[int]) -> dict[int, float]:
    prec = ev.eval["precision"]  # T×R×K×A×M
    out = {}
    for k, cid in enumerate(ev.params.catIds):
        p = prec[:, :, k, 0, -1]
        p = p[p > -1]
        if cid in cat_ids and p.size:
            out[cid] = float(p.mean())
    return out


def evaluate_predictor(predictor, data_dir: str | Path, limit: int | None = None,
                       progress: bool = False, skip: int = 0) -> dict[str, Any]:
    """Run `predictor` (a Predictor) over the set (annotated images by id, from `skip`, at most `limit`)."""
    from pycocotools.coco import COCO
    from tqdm import tqdm

    data_dir = Path(data_dir)
    with contextlib.redirect_stdout(io.StringIO()):
        gt = COCO(str(data_dir / "annotations.json"))
    to_product = category_mapping(gt.loadCats(gt.getCatIds()))
    to_dataset = {v: k for k, v in to_product.items()}
    img_ids = sorted(i for i in gt.getImgIds() if gt.getAnnIds(imgIds=i, iscrowd=False))
    img_ids = img_ids[skip:]
    if limit is not None:
        img_ids = img_ids[:limit]
    results, ious = [], []
    for img_id in tqdm(img_ids, disable=not progress, desc="eval", leave=False):
        info = gt.loadImgs(img_id)[0]
        image = read_image(resolve_image_path(data_dir, info["file_name"]))[0]
        # top 20 per image: products are few per picture, and 100 full-resolution masks cost too much RAM
        soft = predictor.soft(image, score_threshold=0.05, top_k=20, agnostic=False)
        masks = soft.masks >= 0.5
        for box, cls, score, m in zip(soft.boxes, soft.classes, soft.scores, masks):
            if int(cls) not in to_dataset:
                continue
            rle = mask_to_rle(m)
            x0, y0, x1, y1 = (float(v) for v in box)
            results.append({"image_id": img_id, "category_id": to_dataset[int(cls)], "score": float(score),
                            "segmentation": rle, "bbox": [x0, y0, x1 - x0, y1 - y0]})
        anns = [a for a in gt.loadAnns(gt.getAnnIds(imgIds=img_id, iscrowd=False))]
        if getattr(predictor, "agnostic", False):  # the pipeline's pick comes from its own ranking
            pick = predictor.soft(image, score_threshold=0.05, top_k=20)
            masks = pick.masks >= 0.5
        if len(masks) == 0:
            ious.append(0.0)
            continue
        top = masks[0]  # the predictor's first detection: the product the pipeline would keep
        best = 0.0
        mains = [a for a in anns if a.get("main")]
        for a in mains or anns:  # shop photos name their product; other sets: any instance
            g = gt.annToMask(a).astype(bool)
            union = np.logical_or(top, g).sum()
            best = max(best, float(np.logical_and(top, g).sum() / union) if union else 0.0)
        ious.append(best)
    metrics: dict[str, Any] = {"images": len(img_ids), "top_product_mean_iou": float(np.mean(ious)) if ious else 0.0}
    if not results:
        metrics.update({"mask_ap": 0.0, "mask_ap50": 0.0, "box_ap": 0.0, "box_ap50": 0.0})
        return metrics
    with contextlib.redirect_stdout(io.StringIO()):
        dt = gt.loadRes(results)
    segm = _coco_eval(gt, dt, "segm", img_ids)
    bbox = _coco_eval(gt, dt, "bbox", img_ids)
    agnostic = _coco_eval(gt, dt, "segm", img_ids, use_cats=False)
    present = sorted({a["category_id"] for a in gt.loadAnns(gt.getAnnIds(imgIds=img_ids, iscrowd=False))})
    per_class = _per_class_ap(segm, present)
    metrics.update({
        "mask_ap": float(segm.stats[0]), "mask_ap50": float(segm.stats[1]), "mask_ap75": float(segm.stats[2]),
        "box_ap": float(bbox.stats[0]), "box_ap50": float(bbox.stats[1]),
        "class_agnostic_mask_ap": float(agnostic.stats[0]), "class_agnostic_mask_ap50": float(agnostic.stats[1]),
        "per_class_mask_ap": {CLASS_NAMES[to_product[c] - 1]: round(v, 4) for c, v in per_class.items()
                              if c in to_product and to_product[c] <= len(CLASS_NAMES)},
    })
    return metrics


def write_metrics(metrics: dict[str, Any], path: str | Path) -> None:
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    Path(path).write_text(json.dumps(metrics, indent=2))
