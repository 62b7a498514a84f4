"""YOLACT: backbone → FPN → (protonet, shared prediction head); detection post-processing."""
from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from .anchors import decode, make_anchors
from .backbone import INPUT_MEAN, INPUT_STD, EfficientNetLite0
from .fpn import FPN
from .head import PredictionHead
from .layers import conv_factory
from .nms import fast_nms
from .protonet import ProtoNet, SemanticHead
from .spec import YolactConfig


@dataclass
class Detections:
    """Detections of one image in the square input frame; boxes xyxy normalised to [0, 1]."""

    boxes: torch.Tensor  # D×4
    classes: torch.Tensor  # D, 1..num_classes
    scores: torch.Tensor  # D
    coefs: torch.Tensor  # D×k
    protos: torch.Tensor  # h×w×k
    objectness: torch.Tensor | None = None  # D, 1 − P(background) of each detection's anchor


class Yolact(nn.Module):
    def __init__(self, cfg: YolactConfig) -> None:
        super().__init__()
        if cfg.backbone != "efficientnet_lite0":
            raise ValueError(f"unknown backbone {cfg.backbone!r} (only efficientnet_lite0)")
        self.cfg = cfg
        make = conv_factory(cfg)
        self.backbone = EfficientNetLite0(cfg.frozen_backbone_blocks)
        self.fpn = FPN(self.backbone.out_channels, cfg.fpn_channels, make)
        self.protonet = ProtoNet(cfg.fpn_channels, cfg.proto_channels, cfg.num_prototypes, make)
        self.head = PredictionHead(cfg.fpn_channels, cfg.head_channels, cfg.num_anchors_per_cell,
                                   cfg.num_classes, cfg.num_prototypes, make)
        self.semantic = SemanticHead(cfg.fpn_channels, cfg.num_classes)
        self.register_buffer("input_mean", torch.tensor(INPUT_MEAN), persistent=False)
        self.register_buffer("input_std", torch.tensor(INPUT_STD), persistent=False)
        self._anchor_cache: dict[tuple, torch.Tensor] = {}

    def anchors_for(self, grid_sizes: list[tuple[int, int]], device: torch.device) -> torch.Tensor:
        key = (tuple(grid_sizes), str(device))
        if key not in self._anchor_cache:
            self._anchor_cache[key] = make_anchors(grid_sizes, self.cfg.anchor_fracs,
                                                   self.cfg.aspect_ratios).to(device)
        return self._anchor_cache[key]

    def forward(self, images: torch.Tensor) -> dict[str, torch.Tensor]:
        """images: N×3×S×S float RGB in 0..255. Returns raw head outputs, prototypes and anchors."""
        x = (images - self.input_mean) / self.input_std
        feats = self.fpn(self.backbone(x))
        cls, box, coef = self.head(feats)
        protos = self.protonet(feats[0]).permute(0, 2, 3, 1).contiguous()  # N×h×w×k
        out = {"cls": cls, "box": box, "coef": coef, "protos": protos,
               "anchors": self.anchors_for([tuple(f.shape[-2:]) for f in feats], images.device)}
        if self.training:
            out["seg"] = self.semantic(feats[0])
        return out

    @torch.no_grad()
    def detect(self, out: dict[str, torch.Tensor], score_threshold: float = 0.05, nms_iou: float = 0.5,
               top_k: int = 200, max_dets: int = 100, agnostic: bool = False) -> list[Detections]:
        """Per image: softmax scores → candidate filter → per-class Fast NMS → top `max_dets`.

        With ``agnostic`` the score of an anchor is its objectness 1 − P(background) and NMS runs
        once over all classes (a product of unknown class spreads its probability over the classes,
        so no single class score may pass the threshold); the class is the most probable one.
        """
        results = []
        probs = out["cls"].softmax(-1)
        for i in range(probs.shape[0]):
            boxes = decode(out["box"][i], out["anchors"], self.cfg.box_variances).clamp(0, 1)
            if agnostic:
                results.append(self._detect_agnostic(out, i, probs[i], boxes, score_threshold, nms_iou,
                                                     top_k, max_dets))
                continue
            fg = probs[i, :, 1:]  # A×C
            cand = fg.max(1).values > score_threshold
            k = out["coef"].shape[-1]
            if not cand.any():
                empty = boxes.new_zeros((0, 4))
                results.append(Detections(empty, torch.zeros(0, dtype=torch.long, device=boxes.device),
                                          boxes.new_zeros(0), boxes.new_zeros((0, k)), out["protos"][i]))
                continue
            cand_idx = cand.nonzero().squeeze(1)
            scores = fg[cand_idx]  # M×C
            classes = (scores.max(0).values > score_threshold).nonzero().squeeze(1)  # skip empty classes
            scores = scores[:, classes].t()  # C'×M
            cls_i, anchor_j = fast_nms(boxes[cand_idx], scores, nms_iou, top_k)
            det_scores = scores[cls_i, anchor_j]
            valid = det_scores > score_threshold
            cls_i, anchor_j, det_scores = cls_i[valid], anchor_j[valid], det_scores[valid]
            order = det_scores.argsort(descending=True)[:max_dets]
            a = cand_idx[anchor_j[order]]
            results.append(Detections(boxes[a], classes[cls_i[order]] + 1, det_scores[order], out["coef"][i, a],
                                      out["protos"][i], 1 - probs[i, a, 0]))
        return results

    def _detect_agnostic(self, out, i: int, probs: torch.Tensor, boxes: torch.Tensor, score_threshold: float,
                         nms_iou: float, top_k: int, max_dets: int) -> Detections:
        obj = 1 - probs[:, 0]
        cand = (obj > score_threshold).nonzero().squeeze(1)
        if cand.numel() == 0:
            k = out["coef"].shape[-1]
            e = boxes.new_zeros(0)
            return Detections(boxes.new_zeros((0, 4)), torch.zeros(0, dtype=torch.long, device=boxes.device), e,
                              boxes.new_zeros((0, k)), out["protos"][i], e)
        _, anchor_j = fast_nms(boxes[cand], obj[cand][None], nms_iou, top_k)
        a = cand[anchor_j]
        a = a[obj[a].argsort(descending=True)][:max_dets]
        fg = probs[a, 1:]
        return Detections(boxes[a], fg.argmax(1) + 1, obj[a], out["coef"][i, a], out["protos"][i], obj[a])


def assemble_mask_logits(protos: torch.Tensor, coefs: torch.Tensor) -> torch.Tensor:
    """Linear combination of prototypes: h×w×k @ k×D -> D×h×w mask logits."""
    return torch.einsum("hwk,dk->dhw", protos, coefs)


def crop_to_boxes(masks: torch.Tensor, boxes: torch.Tensor, soft_px: float = 0.0) -> torch.Tensor:
    """Zero masks (D×h×w) outside their boxes (D×4, xyxy in pixels of the mask grid).

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
