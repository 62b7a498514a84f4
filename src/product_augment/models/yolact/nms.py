"""Fast NMS (Bolya et al., YOLACT 2019) and a brute-force greedy NMS used as the test reference.

Fast NMS sorts detections by score, computes the IoU matrix, keeps its strict upper triangle (IoU of
each box with every higher-scoring box) and keeps a box iff its column maximum is <= threshold. All
in one matrix op, per class. It differs from greedy NMS in one documented way: a box that is itself
suppressed can still suppress a lower-scoring one (greedy NMS would have let that one survive). So
Fast NMS keeps a subset of what greedy NMS keeps; they agree whenever no suppressed box overlaps a
lower-scoring survivor of greedy NMS by more than the threshold.
"""
from __future__ import annotations

import torch

from .anchors import box_iou


def fast_nms(boxes: torch.Tensor, scores: torch.Tensor, iou_threshold: float = 0.5,
             top_k: int = 200) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-class Fast NMS.

    boxes: C×A×4 (class-specific) or A×4 (shared by all classes) xyxy; scores: C×A.
    Returns (class index, anchor index) of kept detections, each a 1-D long tensor, ordered by class
    then descending score.
    """
    num_classes, num = scores.shape
    k = min(top_k, num)
    _top_scores, idx = scores.topk(k, dim=1)  # C×k, sorted descending
    if boxes.dim() == 2:
        cand = boxes[idx]  # C×k×4
    else:
        cand = torch.gather(boxes, 1, idx[..., None].expand(-1, -1, 4))
    iou = box_iou(cand, cand).triu(diagonal=1)  # C×k×k, row i (higher score) vs column j
    max_iou = iou.max(dim=1).values  # per column: max IoU with any higher-scoring box
    keep = max_iou <= iou_threshold
    cls_idx = torch.arange(num_classes, device=scores.device)[:, None].expand_as(keep)
    return cls_idx[keep], idx[keep]


def greedy_nms(boxes: torch.Tensor, scores: torch.Tensor, iou_threshold: float = 0.5) -> torch.Tensor:
    """Reference single-class greedy NMS, O(n^2) Python loop. Returns kept indices by descending score."""
    order = torch.argsort(scores, descending=True).tolist()
    kept: list[int] = []
    for i in order:
        if all(box_iou(boxes[i : i + 1], boxes[j : j + 1]).item() <= iou_threshold for j in kept):
            kept.append(i)
    return torch.tensor(kept, dtype=torch.long)
