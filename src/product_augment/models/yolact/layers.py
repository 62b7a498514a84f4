"""Conv building blocks: weight-standardized conv and the factory that makes WS+GN one switch."""
from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import nn

from .spec import YolactConfig


class WSConv2d(nn.Conv2d):
    """Conv2d whose weight is standardized per output filter (mean 0, std 1) at every forward.

    Weight standardization (Qiao et al. 2019) smooths the loss landscape; paired with GroupNorm it
    trains well at the tiny per-core batch sizes we have on CPU, where BatchNorm statistics are noise.
    """

    def __init__(self, *args, eps: float = 1e-5, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.eps = eps

    def standardized_weight(self) -> torch.Tensor:
        w = self.weight
        var, mean = torch.var_mean(w, dim=(1, 2, 3), keepdim=True, unbiased=False)
        return (w - mean) * torch.rsqrt(var + self.eps)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.conv2d(x, self.standardized_weight(), self.bias, self.stride, self.padding,
                        self.dilation, self.groups)


ConvFactory = Callable[..., nn.Module]


def conv_factory(cfg: YolactConfig) -> ConvFactory:
    """Return `make(cin, cout, k=3, stride=1, act=True)` -> conv [+ norm] [+ ReLU] for this config."""
    conv_cls = WSConv2d if cfg.conv == "ws" else nn.Conv2d

    def make(cin: int, cout: int, k: int = 3, stride: int = 1, act: bool = True) -> nn.Module:
        layers: list[nn.Module] = [conv_cls(cin, cout, k, stride, k // 2, bias=cfg.norm == "none")]
        if cfg.norm == "gn":
            layers.append(nn.GroupNorm(min(cfg.gn_groups, cout), cout))
        elif cfg.norm == "bn":
            layers.append(nn.BatchNorm2d(cout))
        if act:
            layers.append(nn.ReLU(inplace=True))
        return nn.Sequential(*layers)

    return make
