"""IoU and boundary scores of predicted masks against ground truth, for any number of methods.

    python scripts/bench/mask_metrics.py DATA_DIR PRED_DIR[=NAME] ... [--stems FILE] [--json F] [--per-image]

DATA_DIR holds ``masks/<stem>.png`` (product > 127); each PRED_DIR holds ``<stem>.png`` predictions
(> 127 is product; a missing prediction counts as empty). Per method: mean / median / worst IoU, images
below 0.8, and two boundary measures: boundary IoU (IoU of the masks restricted to a band of ±d px
around each mask's edge, d = 5 px at 1000 px, scaled with the image diagonal) and boundary F-score
(precision/recall of edge pixels matched within d px). ``--stems`` restricts to the stems listed in a
file (one per line; a split such as val.txt/test.txt).
"""
from __future__ import annotations

import json
import sys
from pathlib import Path

import click
import cv2
import numpy as np


def _edge(m: np.ndarray) -> np.ndarray:
    k = np.ones((3, 3), np.uint8)
    return (m & ~cv2.erode(m.astype(np.uint8), k).astype(bool))


def _band_px(shape: tuple[int, ...]) -> int:
    return max(1, round(5 * float(np.hypot(*shape[:2])) / np.hypot(1000, 750)))


def scores(pred: np.ndarray, gt: np.ndarray) -> dict[str, float]:
    """IoU, boundary IoU and boundary F of two boolean masks of the same shape."""
    union = (pred | gt).sum()
    iou = float((pred & gt).sum() / union) if union else 1.0
    d = _band_px(gt.shape)
    ep, eg = _edge(pred), _edge(gt)
    # distance of every pixel to the nearest edge pixel of each mask
    dp = cv2.distanceTransform((~ep).astype(np.uint8), cv2.DIST_L2, 3)
    dg = cv2.distanceTransform((~eg).astype(np.uint8), cv2.DIST_L2, 3)
    bp, bg = pred & (dp <= d), gt & (dg <= d)
    bu = (bp | bg).sum()
    biou = float((bp & bg).sum() / bu) if bu else 1.0
    prec = float((dg[ep] <= d).mean()) if ep.any() else 0.0
    rec = float((dp[eg] <= d).mean()) if eg.any() else 0.0
    bf = 2 * prec * rec / (prec + rec) if prec + rec else 0.0
    return {"iou": iou, "boundary_iou": biou, "boundary_f": bf,
            "missed": float((gt & ~pred).sum() / max(gt.sum(), 1)),
            "extra": float((pred & ~gt).sum() / max(gt.sum(), 1))}


def summary(rows: list[dict[str, float]]) -> dict[str, float]:
    iou = np.array([r["iou"] for r in rows])
    return {"n": len(rows), "mean_iou": float(iou.mean()), "median_iou": float(np.median(iou)),
            "min_iou": float(iou.min()), "below_0.8": int((iou < 0.8).sum()),
            "boundary_iou": float(np.mean([r["boundary_iou"] for r in rows])),
            "boundary_f": float(np.mean([r["boundary_f"] for r in rows])),
            "missed": float(np.mean([r["missed"] for r in rows])),
            "extra": float(np.mean([r["extra"] for r in rows]))}


def evaluate(data_dir: Path, pred_dirs: dict[str, Path], stems: list[str] | None = None
             ) -> tuple[dict[str, dict], dict[str, dict[str, dict]]]:
    """(summary per method, per-image scores per method) over the ground-truth masks in data_dir."""
    gts = sorted((data_dir / "masks").glob("*.png"))
    if stems is not None:
        keep = set(stems)
        gts = [g for g in gts if g.stem in keep]
    per: dict[str, dict[str, dict]] = {n: {} for n in pred_dirs}
    for g in gts:
        gt = cv2.imread(str(g), cv2.IMREAD_GRAYSCALE) > 127
        for name, d in pred_dirs.items():
            p = d / g.name
            pred = cv2.imread(str(p), cv2.IMREAD_GRAYSCALE) if p.exists() else None
            if pred is None:
                pred = np.zeros(gt.shape, np.uint8)
            if pred.shape != gt.shape:
                pred = cv2.resize(pred, gt.shape[::-1], interpolation=cv2.INTER_LINEAR)
            per[name][g.stem] = scores(pred > 127, gt)
    return {n: summary(list(r.values())) for n, r in per.items() if r}, per


@click.command()
@click.argument("data_dir", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.argument("preds", nargs=-1, required=True)
@click.option("--stems", "stems_file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--json", "json_out", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--per-image", is_flag=True, help="Print every image's IoU per method.")
def main(data_dir: Path, preds: tuple[str, ...], stems_file: Path | None, json_out: Path | None,
         per_image: bool) -> None:
    pred_dirs = {}
    for p in preds:
        path, _, name = p.partition("=")
        pred_dirs[name or Path(path).name] = Path(path)
    stems = stems_file.read_text().split() if stems_file else None
    summ, per = evaluate(data_dir, pred_dirs, stems)
    if per_image:
        names = list(per)
        print("stem\t" + "\t".join(names))
        for stem in next(iter(per.values())):
            print(stem + "\t" + "\t".join(f"{per[n][stem]['iou']:.4f}" for n in names))
    print("method\tn\tmean IoU\tmedian\tmin\t<0.8\tboundary IoU\tboundary F\tmissed\textra")
    for n, s in summ.items():
        print(f"{n}\t{s['n']}\t{s['mean_iou']:.4f}\t{s['median_iou']:.4f}\t{s['min_iou']:.4f}\t{s['below_0.8']}\t"
              f"{s['boundary_iou']:.4f}\t{s['boundary_f']:.4f}\t{s['missed']:.4f}\t{s['extra']:.4f}")
    if json_out:
        json_out.parent.mkdir(parents=True, exist_ok=True)
        json_out.write_text(json.dumps({"summary": summ, "images": per}, indent=1))


if __name__ == "__main__":
    sys.exit(main())
