"""Top-product IoU of the segmenter on an image + mask folder (the protocol of shared/tools/peer_rembg.py).

    python scripts/bench/eval_real_photos.py DATA_DIR [--weights W] [--out preds/] [--no-agnostic] [--json F]

DATA_DIR holds ``images/<stem>.jpg|png`` and ``masks/<stem>.png`` (product > 127), e.g. a shop-photo
set from ``augment data shop`` (then its ``annotations.json`` gives the product's class, and the
class accuracy of the pick is reported over the photos whose product is one of the 21 classes).
The prediction is the mask the pipeline keeps: the predictor's first detection, soft mask ≥ 0.5
(alpha > 127); no detection counts as IoU 0 ("not found"). One CPU thread unless --threads.
"""
from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path

import click
import numpy as np


@click.command()
@click.argument("data_dir", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("--weights", default="weights/yolact_ws_effnetlite0.safetensors", show_default=True)
@click.option("--out", "out_dir", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Write the predicted masks here (<stem>.png).")
@click.option("--agnostic/--no-agnostic", default=True, show_default=True,
              help="Class-agnostic candidates + product prior (the pipeline default) or per-class detection.")
@click.option("--score-threshold", default=0.3, show_default=True, help="As the segment step's default.")
@click.option("--pick-centre", type=float, default=None)
@click.option("--pick-border", type=float, default=None)
@click.option("--rescore-power", type=float, default=None)
@click.option("--input-size", type=int, default=None, help="Letterbox size (default: the model's).")
@click.option("--edge-refine", type=float, default=None, help="Guided-filter window fraction (0: off).")
@click.option("--refiner", default=None, help="Mask refiner weights, or 'none' (default: the one beside --weights).")
@click.option("--refine-top", type=int, default=None)
@click.option("--threads", default=1, show_default=True)
@click.option("--json", "json_out", type=click.Path(dir_okay=False, path_type=Path), default=None)
@click.option("--quiet", is_flag=True)
def main(data_dir: Path, weights: str, out_dir: Path | None, agnostic: bool, score_threshold: float,
         pick_centre, pick_border, rescore_power, input_size, edge_refine, refiner, refine_top,
         threads: int, json_out: Path | None, quiet: bool) -> None:
    os.environ.setdefault("OMP_NUM_THREADS", str(threads))
    import cv2
    import torch

    from product_augment.classes import CLASS_NAMES
    from product_augment.models.yolact.predict import Predictor

    torch.set_num_threads(threads)
    cv2.setNumThreads(threads)
    kw = {k: v for k, v in (("pick_centre", pick_centre), ("pick_border", pick_border),
                            ("rescore_power", rescore_power), ("input_size", input_size),
                            ("refine_radius", edge_refine), ("refine_top", refine_top)) if v is not None}
    if refiner is not None:
        kw["refiner"] = False if refiner == "none" else refiner
    pred = Predictor.from_weights(weights, agnostic=agnostic, **kw)
    classes: dict[str, int] = {}
    ann_path = data_dir / "annotations.json"
    if ann_path.exists():
        coco = json.loads(ann_path.read_text())
        by_id = {im["id"]: Path(im["file_name"]).stem for im in coco["images"]}
        for a in coco["annotations"]:
            if a.get("main"):
                classes[by_id[a["image_id"]]] = a["category_id"]
    rows = []
    for img_path in sorted((data_dir / "images").iterdir()):
        if img_path.suffix.lower() not in (".jpg", ".jpeg", ".png", ".webp"):
            continue
        mask_path = data_dir / "masks" / f"{img_path.stem}.png"
        if not mask_path.exists():
            continue
        image = cv2.cvtColor(cv2.imread(str(img_path), cv2.IMREAD_COLOR), cv2.COLOR_BGR2RGB)
        gt = cv2.imread(str(mask_path), cv2.IMREAD_GRAYSCALE) > 127
        t0 = time.perf_counter()
        soft = pred.soft(image, score_threshold=score_threshold)
        secs = time.perf_counter() - t0
        found = len(soft.masks) > 0
        top = soft.masks[0] >= 0.5 if found else np.zeros_like(gt)
        union = (top | gt).sum()
        iou = float((top & gt).sum() / union) if union else 0.0
        true_cls = classes.get(img_path.stem)
        pred_cls = int(soft.classes[0]) if found else None
        rows.append({"stem": img_path.stem, "iou": iou, "found": found, "seconds": secs, "true_class": true_cls,
                     "pred_class": pred_cls})
        if out_dir is not None:
            out_dir.mkdir(parents=True, exist_ok=True)
            cv2.imwrite(str(out_dir / f"{img_path.stem}.png"), top.astype(np.uint8) * 255)
        if not quiet:
            name = lambda c: CLASS_NAMES[c - 1] if c and c <= len(CLASS_NAMES) else ("product" if c else "-")
            print(f"{img_path.stem}\t{iou:.4f}\t{secs:.3f}s\t{name(true_cls)}\t{name(pred_cls)}")
    ious = np.array([r["iou"] for r in rows])
    known = [r for r in rows if r["true_class"] and r["true_class"] <= len(CLASS_NAMES)]
    summary = {"n": len(rows), "mean_iou": float(ious.mean()) if rows else 0.0,
               "median_iou": float(np.median(ious)) if rows else 0.0,
               "ge0.9": float((ious >= 0.9).mean()) if rows else 0.0, "lt0.5": int((ious < 0.5).sum()),
               "not_found": int(sum(not r["found"] for r in rows)),
               "class_accuracy": (sum(r["pred_class"] == r["true_class"] for r in known) / len(known)) if known else None,
               "class_n": len(known),
               "median_s": float(np.median([r["seconds"] for r in rows])) if rows else 0.0,
               "weights": weights, "agnostic": agnostic}
    print(f"yolact n={summary['n']} mean_IoU={summary['mean_iou']:.4f} median_IoU={summary['median_iou']:.4f} "
          f"ge0.9={summary['ge0.9']:.3f} lt0.5={summary['lt0.5']} not_found={summary['not_found']} "
          f"class_acc={summary['class_accuracy']} (n={summary['class_n']}) median_s={summary['median_s']:.3f}")
    if json_out:
        json_out.parent.mkdir(parents=True, exist_ok=True)
        json_out.write_text(json.dumps({"summary": summary, "images": rows}, indent=1))


if __name__ == "__main__":
    sys.exit(main())
