"""Feature pyramid P3..P7 from backbone C3..C5 (YOLACT: P6, P7 by stride-2 convs on P5)."""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from .layers import ConvFactory


class FPN(nn.Module):
    def __init__(self, in_channels: tuple[int, ...], channels: int, make: ConvFactory) -> None:
        super().__init__()
        self.lateral = nn.ModuleList(make(c, channels, 1, act=False) for c in in_channels)
        self.smooth = nn.ModuleList(make(channels, channels, 3) for _ in in_channels)
        self.down = nn.ModuleList([make(channels, channels, 3, stride=2), make(channels, channels, 3, stride=2)])

    def forward(self, feats: list[torch.Tensor]) -> list[torch.Tensor]:
        laterals = [lat(f) for lat, f in zip(self.lateral, feats)]
        for i in range(len(laterals) - 1, 0, -1):
            laterals[i - 1] = laterals[i - 1] + F.interpolate(
                laterals[i], size=laterals[i - 1].shape[-2:], mode="bilinear", align_corners=False)
        outs = [s(x) for s, x in zip(self.smooth, laterals)]
        x = outs[-1]
        for down in self.down:
            x = down(x)
            outs.append(x)
        return outs
