"""Anchors (centre-size, normalised to the square input) and the SSD-style box encoding."""
from __future__ import annotations

import math

import torch


def make_anchors(grid_sizes: list[tuple[int, int]], anchor_fracs: tuple[float, ...],
                 aspect_ratios: tuple[float, ...]) -> torch.Tensor:
    """A×4 (cx, cy, w, h) in [0, 1], ordered level → row → column → aspect ratio like the head output."""
    out = []
    for (h, w), frac in zip(grid_sizes, anchor_fracs):
        ys, xs = torch.meshgrid(torch.arange(h, dtype=torch.float32), torch.arange(w, dtype=torch.float32),
                                indexing="ij")
        cx = ((xs + 0.5) / w).reshape(-1, 1).expand(-1, len(aspect_ratios))
        cy = ((ys + 0.5) / h).reshape(-1, 1).expand(-1, len(aspect_ratios))
        ws = torch.tensor([frac * math.sqrt(a) for a in aspect_ratios]).expand_as(cx)
        hs = torch.tensor([frac / math.sqrt(a) for a in aspect_ratios]).expand_as(cx)
        out.append(torch.stack([cx, cy, ws, hs], -1).reshape(-1, 4))
    return torch.cat(out, 0)


def center_to_corners(b: torch.Tensor) -> torch.Tensor:
    return torch.cat([b[..., :2] - b[..., 2:] / 2, b[..., :2] + b[..., 2:] / 2], -1)


def corners_to_center(b: torch.Tensor) -> torch.Tensor:
    return torch.cat([(b[..., :2] + b[..., 2:]) / 2, b[..., 2:] - b[..., :2]], -1)


def box_iou(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Pairwise IoU of xyxy boxes: (..., N, 4) × (..., M, 4) -> (..., N, M)."""
    lt = torch.maximum(a[..., :, None, :2], b[..., None, :, :2])
    rb = torch.minimum(a[..., :, None, 2:], b[..., None, :, 2:])
    inter = (rb - lt).clamp(min=0).prod(-1)
    area_a = (a[..., 2:] - a[..., :2]).clamp(min=0).prod(-1)
    area_b = (b[..., 2:] - b[..., :2]).clamp(min=0).prod(-1)
    return inter / (area_a[..., :, None] + area_b[..., None, :] - inter).clamp(min=1e-9)


def encode(gt_xyxy: torch.Tensor, anchors: torch.Tensor, variances: tuple[float, float]) -> torch.Tensor:
    g = corners_to_center(gt_xyxy)
    d_xy = (g[:, :2] - anchors[:, :2]) / (variances[0] * anchors[:, 2:])
    d_wh = torch.log(g[:, 2:].clamp(min=1e-6) / anchors[:, 2:]) / variances[1]
    return torch.cat([d_xy, d_wh], 1)


def decode(offsets: torch.Tensor, anchors: torch.Tensor, variances: tuple[float, float]) -> torch.Tensor:
    """Offsets (..., A, 4) -> xyxy boxes in [0, 1] coordinates of the square input."""
    xy = anchors[:, :2] + offsets[..., :2] * variances[0] * anchors[:, 2:]
    wh = anchors[:, 2:] * torch.exp((offsets[..., 2:] * variances[1]).clamp(max=6.0))
    return center_to_corners(torch.cat([xy, wh], -1))
