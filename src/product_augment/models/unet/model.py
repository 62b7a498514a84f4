"""A small U-Net for binary product segmentation (the benchmark model, not the product segmenter)."""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import torch
from torch import nn


@dataclass(frozen=True)
class UNetConfig:
    in_channels: int = 3
    widths: tuple[int, ...] = (16, 32, 64, 128)
    groups: int = 8

    def to_dict(self) -> dict:
        return asdict(self)


def _block(cin: int, cout: int, groups: int) -> nn.Sequential:
    g = math.gcd(groups, cout)  # GroupNorm needs groups dividing the channels (any widths work)
    return nn.Sequential(
        nn.Conv2d(cin, cout, 3, padding=1, bias=False), nn.GroupNorm(g, cout), nn.ReLU(inplace=True),
        nn.Conv2d(cout, cout, 3, padding=1, bias=False), nn.GroupNorm(g, cout), nn.ReLU(inplace=True))


class UNet(nn.Module):
    """Encoder–decoder with skip connections; returns foreground logits at input resolution."""

    def __init__(self, cfg: UNetConfig = UNetConfig()):
        super().__init__()
        self.cfg = cfg
        w = cfg.widths
        self.down = nn.ModuleList([_block(cfg.in_channels if i == 0 else w[i - 1], w[i], cfg.groups)
                                   for i in range(len(w))])
        self.up = nn.ModuleList([nn.ConvTranspose2d(w[i], w[i - 1], 2, stride=2) for i in range(len(w) - 1, 0, -1)])
        self.dec = nn.ModuleList([_block(2 * w[i - 1], w[i - 1], cfg.groups) for i in range(len(w) - 1, 0, -1)])
        self.out = nn.Conv2d(w[0], 1, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        skips = []
        for i, block in enumerate(self.down):
            x = block(x)
            if i < len(self.down) - 1:
                skips.append(x)
                x = nn.functional.max_pool2d(x, 2)
        for up, dec in zip(self.up, self.dec):
            x = up(x)
            x = dec(torch.cat([x, skips.pop()], dim=1))
        return self.out(x)[:, 0]
