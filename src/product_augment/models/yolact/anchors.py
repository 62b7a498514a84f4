"""The SSD-style box encoding of training targets (anchors and the decoding that inverts it are
`postprocess.make_anchors` / `postprocess.decode`, shared with inference)."""
from __future__ import annotations

import torch


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
