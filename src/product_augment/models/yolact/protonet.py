"""Protonet: k prototype masks at stride 4 from P3, plus the auxiliary semantic-segmentation head."""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from .layers import ConvFactory


class ProtoNet(nn.Module):
    def __init__(self, cin: int, channels: int, num_prototypes: int, make: ConvFactory) -> None:
        super().__init__()
        self.pre = nn.Sequential(make(cin, channels), make(channels, channels), make(channels, channels))
        self.post = make(channels, channels)
        self.out = nn.Conv2d(channels, num_prototypes, 1)

    def forward(self, p3: torch.Tensor) -> torch.Tensor:
        x = self.pre(p3)
        x = F.interpolate(x, scale_factor=2.0, mode="bilinear", align_corners=False)
        # ReLU on prototypes as in YOLACT: masks are non-negative mixtures, coefficients give the sign.
        return F.relu(self.out(self.post(x)))


class SemanticHead(nn.Module):
    """1x1 conv on P3 predicting per-class masks; used only by the training loss."""

    def __init__(self, cin: int, num_classes: int) -> None:
        super().__init__()
        self.conv = nn.Conv2d(cin, num_classes, 1)
        nn.init.constant_(self.conv.bias, -4.6)  # prior 1%: most pixels of most class maps are empty

    def forward(self, p3: torch.Tensor) -> torch.Tensor:
        return self.conv(p3)
