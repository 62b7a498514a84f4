"""CutNet: EfficientNet-Lite0 encoder + a U-Net decoder with weight-standardized convs and GroupNorm.

The network answers one question for the whole image: which pixels belong to the product the photo
is about. It sees the photo resized (not letterboxed) to ``input_size``² and returns logits at half
that resolution; `runtime.CutPredictor` resamples them to the full image and snaps the edge to the
image with the guided filter. YOLACT keeps naming the product's class and finding instances; the cut
replaces its 80×80-prototype mask, which loses thin parts, white or specular areas and the top of
boxes it crops (issue 20).
"""
from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from ..yolact.backbone import INPUT_MEAN, INPUT_STD, EfficientNetLite0
from ..yolact.layers import WSConv2d

# last block of each stride in EfficientNet-Lite0: 2, 4, 8, 16, 32 and their channels
SKIP_BLOCKS = (0, 2, 4, 10, 15)
SKIP_CHANNELS = (16, 24, 40, 112, 320)


@dataclass(frozen=True)
class CutConfig:
    input_size: int = 320
    decoder_channels: tuple[int, ...] = (96, 64, 48, 32, 24)  # at strides 32, 16, 8, 4, 2
    gn_groups: int = 8
    frozen_backbone_blocks: int = 1

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @staticmethod
    def from_dict(d: dict[str, Any]) -> CutConfig:
        return CutConfig(**{k: tuple(v) if isinstance(v, list) else v for k, v in d.items()})


def _block(cin: int, cout: int, groups: int) -> nn.Sequential:
    return nn.Sequential(WSConv2d(cin, cout, 3, 1, 1, bias=False), nn.GroupNorm(min(groups, cout), cout),
                         nn.ReLU(inplace=True))


class CutNet(nn.Module):
    """uint8-range RGB N×3×S×S float input → N×1×(S/2)×(S/2) logits (and a stride-8 auxiliary in training)."""

    def __init__(self, cfg: CutConfig = CutConfig()) -> None:
        super().__init__()
        self.cfg = cfg
        self.backbone = EfficientNetLite0(frozen_blocks=cfg.frozen_backbone_blocks)
        dec = cfg.decoder_channels
        self.lateral = nn.ModuleList(
            nn.Conv2d(c, d, 1) for c, d in zip(SKIP_CHANNELS[::-1], dec))
        self.fuse = nn.ModuleList(
            _block(dec[i - 1] + dec[i] if i else dec[0], dec[i], cfg.gn_groups) for i in range(len(dec)))
        self.head = nn.Conv2d(dec[-1], 1, 3, 1, 1)
        self.aux = nn.Conv2d(dec[2], 1, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor | tuple[torch.Tensor, torch.Tensor]:
        x = (x - INPUT_MEAN) / INPUT_STD
        feats = self.backbone.features_at(x, SKIP_BLOCKS)[::-1]  # stride 32 first
        y = None
        aux = None
        for i, (f, lat, fuse) in enumerate(zip(feats, self.lateral, self.fuse)):
            f = lat(f)
            if y is not None:
                y = F.interpolate(y, size=f.shape[-2:], mode="bilinear", align_corners=False)
                f = torch.cat([y, f], 1)
            y = fuse(f)
            if i == 2:
                aux = y
        logits = self.head(y)
        if self.training:
            return logits, self.aux(aux)
        return logits
