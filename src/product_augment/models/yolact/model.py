"""YOLACT: backbone → FPN → (protonet, shared prediction head). Anchors and detection come from
`postprocess` (numpy), the one post-processing of the torch and ONNX runtimes."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from . import postprocess
from .backbone import INPUT_MEAN, INPUT_STD, EfficientNetLite0
from .fpn import FPN
from .head import PredictionHead
from .layers import conv_factory
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
    objectness: torch.Tensor  # D, 1 − P(background) of each detection's anchor


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
            self._anchor_cache[key] = torch.from_numpy(postprocess.make_anchors(
                grid_sizes, self.cfg.anchor_fracs, self.cfg.aspect_ratios)).to(device)
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
        """Per image, `postprocess.detect` (the one detection of both runtimes, in numpy) on these
        outputs, as tensors on the outputs' device: softmax → candidates → Fast NMS → top `max_dets`.

        With ``agnostic`` the score of an anchor is its objectness 1 − P(background) and NMS runs
        once over all classes (a product of unknown class spreads its probability over the classes,
        so no single class score may pass the threshold); the class is the most probable one.
        """
        raw = {k: out[k].detach().float().cpu().numpy() for k in ("cls", "box", "coef")}
        anchors = out["anchors"].cpu().numpy()
        device = out["protos"].device
        results = []
        for i in range(raw["cls"].shape[0]):
            d = postprocess.detect(raw["cls"][i], raw["box"][i], raw["coef"][i], anchors, self.cfg.box_variances,
                                   score_threshold, nms_iou, top_k, max_dets, agnostic)
            t = {k: torch.from_numpy(np.ascontiguousarray(v)).to(device) for k, v in vars(d).items()}
            results.append(Detections(t["boxes"], t["classes"], t["scores"], t["coefs"], out["protos"][i],
                                      t["objectness"]))
        return results
