"""ShadowNet: a small encoder–decoder with a transformer bottleneck (torch).

    input  4×R×R: the product's premultiplied colour (3) and matte (1) in the canvas of `frame`
    light  5:     sin/cos azimuth, elevation/90, 3·size, floor tilt (`frame.light_vector`)
    output 2×R×R: the floor's cast shadow of the key light and its ambient occlusion, in [0, 1]

Encoder: four stride-2 conv stages (R → R/16), batch-normalised. Bottleneck: the R/16 × R/16 feature map becomes
patch tokens (+ learned positions) and, with two tokens made from the light vector, goes through
`depth` pre-norm transformer layers: self-attention lets each floor position look at the whole
object, which is what a cast shadow needs (the part that shades a floor pixel can be far away
in the picture). Decoder: upsampling stages with skip connections up to R/2, each modulated by the light
(FiLM: per-channel scale and shift from the light vector); a conv head, ×2 bilinear, sigmoid.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass

import torch
import torch.nn.functional as F
from torch import nn


@dataclass(frozen=True)
class ShadowNetConfig:
    res: int = 128
    widths: tuple[int, ...] = (16, 32, 64, 128)
    dim: int = 128
    depth: int = 4
    heads: int = 4
    mlp: int = 256
    light_dim: int = 5
    outputs: int = 2

    def to_dict(self) -> dict:
        return {**asdict(self), "widths": list(self.widths)}

    @classmethod
    def from_dict(cls, d: dict) -> ShadowNetConfig:
        return cls(**{**d, "widths": tuple(d["widths"])})


def _gn(c: int) -> nn.BatchNorm2d:
    return nn.BatchNorm2d(c)   # folds into the convs on export; cheaper than GroupNorm on a CPU


class ConvBlock(nn.Module):
    def __init__(self, cin: int, cout: int, stride: int = 1, double: bool = True) -> None:
        super().__init__()
        self.c1 = nn.Conv2d(cin, cout, 3, stride, 1)
        self.n1 = _gn(cout)
        self.c2 = nn.Conv2d(cout, cout, 3, 1, 1) if double else None
        self.n2 = _gn(cout) if double else None

    def forward(self, x: torch.Tensor, film: tuple[torch.Tensor, torch.Tensor] | None = None) -> torch.Tensor:
        x = self.n1(self.c1(x))
        if self.c2 is not None:
            x = self.n2(self.c2(F.relu(x)))
        if film is not None:
            x = x * (1.0 + film[0][..., None, None]) + film[1][..., None, None]
        return F.relu(x)


class Layer(nn.Module):
    """Pre-norm transformer layer (written out so the ONNX export is plain MatMul/Softmax)."""

    def __init__(self, dim: int, heads: int, mlp: int) -> None:
        super().__init__()
        self.heads = heads
        self.n1 = nn.LayerNorm(dim)
        self.qkv = nn.Linear(dim, 3 * dim)
        self.proj = nn.Linear(dim, dim)
        self.n2 = nn.LayerNorm(dim)
        self.f1 = nn.Linear(dim, mlp)
        self.f2 = nn.Linear(mlp, dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, n, d = x.shape
        h = self.heads
        qkv = self.qkv(self.n1(x)).reshape(b, n, 3, h, d // h).permute(2, 0, 3, 1, 4)
        q, k, v = qkv[0], qkv[1], qkv[2]
        att = torch.softmax(q @ k.transpose(-2, -1) * (d // h) ** -0.5, dim=-1)
        x = x + self.proj((att @ v).transpose(1, 2).reshape(b, n, d))
        return x + self.f2(F.gelu(self.f1(self.n2(x))))


class ShadowNet(nn.Module):
    def __init__(self, cfg: ShadowNetConfig = ShadowNetConfig()) -> None:
        super().__init__()
        self.cfg = cfg
        w = cfg.widths
        self.enc = nn.ModuleList()
        cin = 4
        for i, c in enumerate(w):
            self.enc.append(ConvBlock(cin, c, stride=2, double=i > 0))   # one conv at R/2
            cin = c
        g = cfg.res // 2 ** len(w)
        self.grid = g
        self.to_tok = nn.Conv2d(w[-1], cfg.dim, 1)
        self.pos = nn.Parameter(torch.zeros(1, g * g, cfg.dim))
        nn.init.trunc_normal_(self.pos, std=0.02)
        self.light = nn.Sequential(nn.Linear(cfg.light_dim, 128), nn.GELU(), nn.Linear(128, 128), nn.GELU())
        self.light_tok = nn.Linear(128, 2 * cfg.dim)
        self.layers = nn.ModuleList(Layer(cfg.dim, cfg.heads, cfg.mlp) for _ in range(cfg.depth))
        self.norm = nn.LayerNorm(cfg.dim)
        self.from_tok = nn.Conv2d(cfg.dim, w[-1], 1)
        # decoder: from R/16 up to R/2, skip from the encoder stage of the same size; the head's
        # output is upsampled ×2 (floor shadows are soft at that scale)
        dec_in = [w[-1] + w[-2], w[-2] + w[-3], w[-3] + w[-4]]
        dec_out = [w[-2], w[-3], 24]
        self.dec = nn.ModuleList(ConvBlock(i, o, double=k < len(dec_in) - 1)
                                 for k, (i, o) in enumerate(zip(dec_in, dec_out)))
        self.films = nn.ModuleList(nn.Linear(128, 2 * o) for o in dec_out)
        for f in self.films:
            nn.init.zeros_(f.weight)
            nn.init.zeros_(f.bias)
        self.head = nn.Conv2d(24, cfg.outputs, 3, 1, 1)
        nn.init.constant_(self.head.bias, -3.0)   # most of the canvas is lit: start near 0

    def forward(self, x: torch.Tensor, light: torch.Tensor) -> torch.Tensor:
        skips = []
        h = x
        for blk in self.enc:
            h = blk(h)
            skips.append(h)
        b = x.shape[0]
        lf = self.light(light)
        tok = self.to_tok(h).flatten(2).transpose(1, 2) + self.pos
        lt = self.light_tok(lf).reshape(b, 2, self.cfg.dim)
        t = torch.cat([lt, tok], 1)
        for layer in self.layers:
            t = layer(t)
        t = self.norm(t[:, 2:])
        h = h + self.from_tok(t.transpose(1, 2).reshape(b, self.cfg.dim, self.grid, self.grid))
        for i, (blk, film) in enumerate(zip(self.dec, self.films)):
            h = F.interpolate(h, scale_factor=2.0, mode="bilinear", align_corners=False)
            h = torch.cat([h, skips[-2 - i]], 1)
            gb = film(lf)
            h = blk(h, (gb[:, : gb.shape[1] // 2], gb[:, gb.shape[1] // 2:]))
        out = F.interpolate(self.head(h), scale_factor=2.0, mode="bilinear", align_corners=False)
        return torch.sigmoid(out)


def count_parameters(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())
