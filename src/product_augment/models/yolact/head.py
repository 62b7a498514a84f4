"""Prediction head shared across pyramid levels: class scores, box offsets, mask coefficients."""
from __future__ import annotations

import torch
from torch import nn

from .layers import ConvFactory


class PredictionHead(nn.Module):
    def __init__(self, cin: int, channels: int, num_anchors: int, num_classes: int, num_prototypes: int,
                 make: ConvFactory) -> None:
        super().__init__()
        self.num_classes = num_classes + 1  # + background
        self.num_prototypes = num_prototypes
        self.num_anchors = num_anchors
        self.shared = make(cin, channels)
        self.cls = nn.Conv2d(channels, num_anchors * self.num_classes, 3, padding=1)
        self.box = nn.Conv2d(channels, num_anchors * 4, 3, padding=1)
        self.coef = nn.Conv2d(channels, num_anchors * num_prototypes, 3, padding=1)
        # Start with a confident background prior so early training is not swamped by negatives.
        with torch.no_grad():
            bias = self.cls.bias.view(num_anchors, self.num_classes)
            bias.zero_()
            bias[:, 0] = 4.0

    def _flat(self, x: torch.Tensor, d: int) -> torch.Tensor:
        n = x.shape[0]
        return x.permute(0, 2, 3, 1).reshape(n, -1, d)

    def forward(self, feats: list[torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Return (class logits N×A×(C+1), box offsets N×A×4, coefficients N×A×k in [-1, 1])."""
        cls, box, coef = [], [], []
        for f in feats:
            x = self.shared(f)
            cls.append(self._flat(self.cls(x), self.num_classes))
            box.append(self._flat(self.box(x), 4))
            coef.append(self._flat(self.coef(x), self.num_prototypes))
        return torch.cat(cls, 1), torch.cat(box, 1), torch.tanh(torch.cat(coef, 1))
