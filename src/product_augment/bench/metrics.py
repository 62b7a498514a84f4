"""The benchmark's metrics, each defined once (docs/BENCHMARKS.md, "U-Net benchmark", repeats this).

All are computed in the bench frame on the valid (unpadded) region of each image; a pixel is
predicted foreground when its probability is > 0.5 (logit > 0).

- pixel accuracy: per image, the fraction of valid pixels whose prediction equals the truth; the
  mean over images.
- foreground IoU, image mean: per image |P ∩ T| / |P ∪ T|; the mean over the images whose union is
  non-empty. An image with an empty truth *and* an empty prediction has no IoU (0/0): it is left out
  of this mean and counted in `n_empty_agree` (it still counts in pixel accuracy). An empty truth
  with any predicted pixel scores 0.
- foreground IoU, set: Σ|P ∩ T| / Σ|P ∪ T| over all images of the set (large objects weigh more).
- component mAP (`component_ap`, `component_ap50`): COCO mask AP where the objects are the
  8-connected components of the truth and of the binarised prediction; each predicted component is
  scored by the mean probability over its pixels. Truth components smaller than `crowd_frac` of the
  valid area are "crowd" (ignored: a prediction on them is neither a hit nor a false positive).
  pycocotools COCOeval (iouType segm, maxDets 100, area "all") gives AP = mean over IoU thresholds
  0.50:0.05:0.95 (one class) and AP50. Touching products are one component on both sides, so this
  is *not* the paper's instance mAP.
- instance mAP (`instance_ap`, `instance_ap50`), only for test sets with COCO instance annotations:
  the same COCOeval, but the truth objects are the annotated instances (in the bench frame; those
  smaller than `crowd_frac` are crowd). The U-Net has no instance head, so its detections are still
  the components of its mask: two touching products predicted as one blob match at most one of them.
- epochs to converge: the first epoch (1-based) whose validation IoU (image mean) is within 1 % of
  the run's best, i.e. ≥ 0.99 × best.
- mean ± std over seeds: the sample standard deviation (ddof 1); 0 with one seed.
"""
from __future__ import annotations

import contextlib
import io
import math
from collections.abc import Sequence

import cv2
import numpy as np

from .data import aspect_bucket, valid_box

CROWD_FRAC = 0.0025


def _crop(a: np.ndarray, valid: np.ndarray | None) -> np.ndarray:
    if valid is None:
        return a
    y0, y1, x0, x1 = valid_box(valid)
    return a[y0:y1, x0:x1]


def image_counts(pred: np.ndarray, truth: np.ndarray) -> tuple[int, int, int, int]:
    """(intersection, union, correct pixels, pixels) of two boolean masks."""
    inter = int(np.count_nonzero(pred & truth))
    union = int(np.count_nonzero(pred | truth))
    return inter, union, int(np.count_nonzero(pred == truth)), int(pred.size)


def components(mask: np.ndarray) -> list[np.ndarray]:
    """The 8-connected components of a boolean mask, as boolean masks."""
    n, labels = cv2.connectedComponents(mask.astype(np.uint8), connectivity=8)
    return [labels == k for k in range(1, n)]


def mask_ap(probs: Sequence[np.ndarray], truths: Sequence[np.ndarray], threshold: float = 0.5,
            crowd_frac: float = CROWD_FRAC, instances: Sequence[Sequence[np.ndarray]] | None = None
            ) -> tuple[float | None, float | None]:
    """(AP@[.50:.95], AP50) of the predicted components against the truth's components, or against
    `instances` (per image, the truth's instance masks) when given (see the module doc); None when
    the truth has no object at all."""
    from pycocotools import mask as mask_utils
    from pycocotools.coco import COCO
    from pycocotools.cocoeval import COCOeval

    def rle(m: np.ndarray) -> dict:
        r = mask_utils.encode(np.asfortranarray(m.astype(np.uint8)))
        r["counts"] = r["counts"].decode("ascii")
        return r

    images, anns, dets = [], [], []
    for i, (p, t) in enumerate(zip(probs, truths)):
        h, w = t.shape
        images.append({"id": i + 1, "height": h, "width": w})
        for c in (components(t) if instances is None else [m for m in instances[i] if m.any()]):
            area = int(c.sum())
            anns.append({"id": len(anns) + 1, "image_id": i + 1, "category_id": 1, "segmentation": rle(c),
                         "area": area, "bbox": [float(b) for b in mask_utils.toBbox(rle(c))],
                         "iscrowd": int(area < crowd_frac * t.size)})
        for c in components(p > threshold):
            dets.append({"image_id": i + 1, "category_id": 1, "segmentation": rle(c),
                         "score": float(p[c].mean())})
    if not any(a["iscrowd"] == 0 for a in anns):
        return None, None
    if not dets:
        return 0.0, 0.0
    with contextlib.redirect_stdout(io.StringIO()):
        gt = COCO()
        gt.dataset = {"images": images, "annotations": anns, "categories": [{"id": 1, "name": "product"}]}
        gt.createIndex()
        dt = gt.loadRes(dets)
        ev = COCOeval(gt, dt, "segm")
        ev.evaluate()
        ev.accumulate()
        ev.summarize()
    return float(ev.stats[0]), float(ev.stats[1])


def segmentation_metrics(probs: np.ndarray, truths: np.ndarray, valids: np.ndarray | None = None,
                         aspects: np.ndarray | None = None, threshold: float = 0.5,
                         with_ap: bool = True, instances: Sequence[Sequence[np.ndarray]] | None = None) -> dict:
    """Every per-set metric of the module doc from probability maps (N×H×W), truths (N×H×W bool),
    valid regions (N×H×W bool, None = all valid), the originals' aspect ratios (for `by_aspect`) and,
    where the set has them, the truth's instance masks per image (for the instance mAP)."""
    accs, ious, empty_agree = [], [], 0
    inter_sum = union_sum = 0
    crops_p, crops_t, crops_i = [], [], []
    buckets: dict[str, list[float]] = {}
    for i in range(len(probs)):
        v = None if valids is None else valids[i]
        p, t = _crop(probs[i], v), _crop(truths[i], v)
        pred = p > threshold
        inter, union, correct, total = image_counts(pred, t)
        accs.append(correct / total if total else math.nan)
        inter_sum += inter
        union_sum += union
        if union:
            ious.append(inter / union)
            if aspects is not None:
                buckets.setdefault(aspect_bucket(float(aspects[i])), []).append(inter / union)
        else:
            empty_agree += 1
        crops_p.append(p)
        crops_t.append(t)
        if instances is not None:
            crops_i.append([_crop(m, v) for m in instances[i]])
    out = {
        "n": len(probs),
        "pixel_accuracy": float(np.nanmean(accs)) if accs else None,
        "iou_image": float(np.mean(ious)) if ious else None,
        "iou_set": inter_sum / union_sum if union_sum else None,
        "n_empty_agree": empty_agree,
    }
    if with_ap:
        out["component_ap"], out["component_ap50"] = mask_ap(crops_p, crops_t, threshold)
        if instances is not None:
            out["instance_ap"], out["instance_ap50"] = mask_ap(crops_p, crops_t, threshold, instances=crops_i)
    if aspects is not None:
        out["by_aspect"] = {k: {"n": len(v), "iou_image": float(np.mean(v))} for k, v in sorted(buckets.items())}
    return out


def converge_epoch(values: Sequence[float], tol: float = 0.01) -> int | None:
    """First epoch (1-based) whose value is ≥ (1 − tol) × the best value."""
    vals = [v for v in values if v is not None and not math.isnan(v)]
    if not vals:
        return None
    best = max(vals)
    for e, v in enumerate(values, 1):
        if v is not None and not math.isnan(v) and v >= (1 - tol) * best:
            return e
    return None


def mean_std(values: Sequence[float | None]) -> dict:
    """{mean, std (ddof 1; 0 for one value), n, values}; None entries are skipped."""
    vals = [float(v) for v in values if v is not None and not (isinstance(v, float) and math.isnan(v))]
    if not vals:
        return {"mean": None, "std": None, "n": 0, "values": []}
    std = float(np.std(vals, ddof=1)) if len(vals) > 1 else 0.0
    return {"mean": float(np.mean(vals)), "std": std, "n": len(vals), "values": vals}
