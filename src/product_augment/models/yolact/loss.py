"""YOLACT training loss: matching, OHEM classification, smooth-L1 boxes, cropped mask BCE, semantic seg."""
from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F

from .anchors import box_iou, center_to_corners, encode


def crop_to_boxes(masks: torch.Tensor, boxes: torch.Tensor, soft_px: float = 0.0) -> torch.Tensor:
    """Zero masks (D×h×w) outside their boxes (D×4, xyxy in pixels of the mask grid): the loss's
    crop, differentiable (inference crops with `postprocess.crop_to_boxes`, the same arithmetic).

    soft_px > 0 ramps the box edge linearly over that many pixels instead of a hard cut.
    """
    _d, h, w = masks.shape
    xs = torch.arange(w, device=masks.device, dtype=masks.dtype) + 0.5
    ys = torch.arange(h, device=masks.device, dtype=masks.dtype) + 0.5
    x0, y0, x1, y1 = (boxes[:, i, None] for i in range(4))
    if soft_px > 0:
        wx = ((xs - x0) / soft_px + 0.5).clamp(0, 1) * ((x1 - xs) / soft_px + 0.5).clamp(0, 1)
        wy = ((ys - y0) / soft_px + 0.5).clamp(0, 1) * ((y1 - ys) / soft_px + 0.5).clamp(0, 1)
    else:
        wx = ((xs >= x0) & (xs < x1)).to(masks.dtype)
        wy = ((ys >= y0) & (ys < y1)).to(masks.dtype)
    return masks * wy[:, :, None] * wx[:, None, :]


@dataclass(frozen=True)
class LossConfig:
    pos_iou: float = 0.5
    neg_iou: float = 0.4
    negpos_ratio: int = 3
    cls_weight: float = 1.0
    box_weight: float = 1.5
    mask_weight: float = 6.125
    semantic_weight: float = 1.0
    max_masks_per_image: int = 100


@dataclass
class Target:
    """Ground truth of one image in the square input frame."""

    boxes: torch.Tensor  # G×4 xyxy normalised to [0, 1]
    labels: torch.Tensor  # G long, 1..num_classes
    masks: torch.Tensor  # G×S×S float {0, 1}


def match(anchors: torch.Tensor, gt_boxes: torch.Tensor, pos_iou: float, neg_iou: float
          ) -> tuple[torch.Tensor, torch.Tensor]:
    """Assign each anchor a GT index; returns (gt index per anchor, state: 1 pos, 0 neg, -1 ignore).

    Every GT also gets its best anchor as a positive, so small or odd-shaped objects are not lost.
    """
    a = anchors.shape[0]
    if gt_boxes.shape[0] == 0:
        return torch.zeros(a, dtype=torch.long, device=anchors.device), torch.zeros(
            a, dtype=torch.long, device=anchors.device)
    iou = box_iou(center_to_corners(anchors), gt_boxes)  # A×G
    best_iou, best_gt = iou.max(1)
    forced = iou.argmax(0)  # G
    best_iou[forced] = 2.0
    best_gt[forced] = torch.arange(gt_boxes.shape[0], device=anchors.device)
    state = torch.full((a,), -1, dtype=torch.long, device=anchors.device)
    state[best_iou >= pos_iou] = 1
    state[best_iou < neg_iou] = 0
    return best_gt, state


def yolact_loss(out: dict[str, torch.Tensor], targets: list[Target], num_classes: int,
                variances: tuple[float, float], cfg: LossConfig = LossConfig()) -> dict[str, torch.Tensor]:
    anchors = out["anchors"]
    out["cls"].shape[0]
    device = out["cls"].device
    labels_all, offsets_all, pos_all = [], [], []
    matched_gt = []
    for i, t in enumerate(targets):
        gt_idx, state = match(anchors, t.boxes, cfg.pos_iou, cfg.neg_iou)
        labels = torch.zeros_like(gt_idx)
        if t.boxes.shape[0]:
            labels = torch.where(state == 1, t.labels[gt_idx], labels)
            offsets_all.append(encode(t.boxes[gt_idx], anchors, variances))
        else:
            offsets_all.append(torch.zeros_like(anchors))
        labels = torch.where(state == -1, torch.full_like(labels, -1), labels)
        labels_all.append(labels)
        pos_all.append(state == 1)
        matched_gt.append(gt_idx)
    labels = torch.stack(labels_all)  # N×A, -1 ignore
    pos = torch.stack(pos_all)
    num_pos = pos.sum().clamp(min=1).float()

    # Classification with online hard negative mining: all positives + the 3×num_pos hardest negatives.
    logits = out["cls"]
    log_probs = F.log_softmax(logits, -1)
    with torch.no_grad():
        neg_loss = -log_probs[..., 0]
        neg_loss = torch.where(labels == 0, neg_loss, torch.full_like(neg_loss, -1.0))
        num_neg = (pos.sum(1, keepdim=True) * cfg.negpos_ratio).clamp(min=cfg.negpos_ratio)
        rank = neg_loss.argsort(1, descending=True).argsort(1)
        hard_neg = (rank < num_neg) & (labels == 0)
    chosen = pos | hard_neg
    # Positives of a generic product (label num_classes + 1, class unknown) learn only "not
    # background": -log(1 - p_bg) = -logsumexp over the foreground log-probabilities.
    generic = chosen & (labels > num_classes)
    known = chosen & ~generic
    cls_loss = F.nll_loss(log_probs[known], labels[known], reduction="sum")
    if generic.any():
        cls_loss = cls_loss - torch.logsumexp(log_probs[generic][:, 1:], -1).sum()
    cls_loss = cls_loss / num_pos

    offsets = torch.stack(offsets_all)
    box_loss = F.smooth_l1_loss(out["box"][pos], offsets[pos], reduction="sum") / num_pos

    protos = out["protos"]  # N×h×w×k
    ph, pw = protos.shape[1:3]
    mask_terms = []
    for i, t in enumerate(targets):
        idx = pos[i].nonzero().squeeze(1)
        if idx.numel() == 0:
            continue
        if idx.numel() > cfg.max_masks_per_image:
            idx = idx[torch.randperm(idx.numel(), device=device)[: cfg.max_masks_per_image]]
        gt = matched_gt[i][idx]
        gt_masks = F.interpolate(t.masks[None].float(), size=(ph, pw), mode="area")[0][gt]  # D×h×w
        logits_m = torch.einsum("hwk,dk->dhw", protos[i], out["coef"][i, idx])
        bce = F.binary_cross_entropy_with_logits(logits_m, gt_masks, reduction="none")
        boxes_px = t.boxes[gt] * torch.tensor([pw, ph, pw, ph], device=device, dtype=protos.dtype)
        bce = crop_to_boxes(bce, boxes_px)
        area = ((boxes_px[:, 2] - boxes_px[:, 0]) * (boxes_px[:, 3] - boxes_px[:, 1])).clamp(min=1.0)
        mask_terms.append(bce.sum((1, 2)) / area)
    mask_loss = torch.cat(mask_terms).mean() if mask_terms else protos.sum() * 0.0

    seg = out.get("seg")
    if seg is not None:
        sh, sw = seg.shape[-2:]
        seg_targets, seg_weights = [], []
        for t in targets:
            tgt = torch.zeros(num_classes, sh, sw, device=device)
            care = torch.ones(sh, sw, device=device)
            if t.labels.numel():
                small = F.interpolate(t.masks[None].float(), size=(sh, sw), mode="area")[0]
                for j, label in enumerate(t.labels.tolist()):
                    if label > num_classes:  # generic product: its class map is unknown, ignore its pixels
                        care = care * (1 - small[j])
                        continue
                    tgt[label - 1] = torch.maximum(tgt[label - 1], small[j])
            seg_targets.append(tgt)
            seg_weights.append(care)
        sem_loss = F.binary_cross_entropy_with_logits(seg, torch.stack(seg_targets), reduction="none")
        sem_loss = (sem_loss.sum(1) * torch.stack(seg_weights)).mean()
    else:
        sem_loss = torch.zeros((), device=device)

    losses = {"cls": cfg.cls_weight * cls_loss, "box": cfg.box_weight * box_loss,
              "mask": cfg.mask_weight * mask_loss, "sem": cfg.semantic_weight * sem_loss}
    losses["total"] = sum(losses.values())
    return losses
