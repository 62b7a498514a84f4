"""Mask refinement at the product's own resolution: a small WS+GN U-Net on (crop RGB, coarse mask).

YOLACT assembles masks from 80×80 prototypes of a 320 px letterbox: on a 1000 px photo one
prototype cell spans ~12 px, so thin parts (legs, straps, handles) and the exact edge are lost.
The refiner looks again at the product at up to ``size`` px (its box, grown by ``margin``) with
the coarse soft mask as a fourth channel, and predicts a residual on the coarse mask's logit:
``logit(refined) = logit(coarse) + f(rgb, coarse)``. It learns from ground-truth masks degraded the
way prototype masks are wrong (low resolution, shifted edges, missing or extra pieces), so it needs
no YOLACT run to train (``refiner_train.py``).

Weights: ``<yolact weights stem>.refiner.safetensors`` + ``.json`` sidecar next to the YOLACT
weights; ``Predictor.from_weights`` loads it when present (no pickle).
"""
from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from ...io import write_atomic
from ...sample import mask_box
from .layers import WSConv2d

FORMAT = "product_augment.mask_refiner/1"


@dataclass(frozen=True)
class RefinerConfig:
    size: int = 192  # the crop's longer side at the network's input
    width: int = 24  # channels of the first stage (stages: w, 2w, 3w, 4w)
    margin: float = 0.15  # the crop is the mask's box grown by this fraction of its size per side
    gn_groups: int = 8


def _block(cin: int, cout: int, stride: int = 1, dilation: int = 1, groups: int = 8) -> nn.Sequential:
    return nn.Sequential(WSConv2d(cin, cout, 3, stride, dilation, dilation=dilation, bias=False),
                         nn.GroupNorm(math.gcd(groups, cout), cout), nn.ReLU(inplace=True))


class MaskRefiner(nn.Module):
    def __init__(self, cfg: RefinerConfig = RefinerConfig()) -> None:
        super().__init__()
        self.cfg = cfg
        w, g = cfg.width, cfg.gn_groups
        self.e1 = nn.Sequential(_block(4, w, groups=g), _block(w, w, groups=g))  # 1/1
        self.e2 = nn.Sequential(_block(w, 2 * w, 2, groups=g), _block(2 * w, 2 * w, groups=g))  # 1/2
        self.e3 = nn.Sequential(_block(2 * w, 3 * w, 2, groups=g), _block(3 * w, 3 * w, groups=g))  # 1/4
        self.e4 = nn.Sequential(_block(3 * w, 4 * w, 2, groups=g), _block(4 * w, 4 * w, dilation=2, groups=g),
                                _block(4 * w, 4 * w, dilation=4, groups=g))  # 1/8, wide context
        self.d3 = _block(4 * w + 3 * w, 3 * w, groups=g)
        self.d2 = _block(3 * w + 2 * w, 2 * w, groups=g)
        self.d1 = _block(2 * w + w, w, groups=g)
        self.out = nn.Conv2d(w, 1, 3, padding=1)
        nn.init.zeros_(self.out.weight)  # starts as the identity on the coarse mask
        nn.init.zeros_(self.out.bias)

    def forward(self, rgb: torch.Tensor, coarse: torch.Tensor) -> torch.Tensor:
        """rgb N×3×H×W in 0..255, coarse N×1×H×W probabilities; H, W multiples of 8. Returns logits."""
        x = torch.cat([(rgb - 127.0) / 128.0, coarse * 2 - 1], 1)
        f1 = self.e1(x)
        f2 = self.e2(f1)
        f3 = self.e3(f2)
        f4 = self.e4(f3)
        up = lambda a, b: F.interpolate(a, size=b.shape[-2:], mode="bilinear", align_corners=False)
        y = self.d3(torch.cat([up(f4, f3), f3], 1))
        y = self.d2(torch.cat([up(y, f2), f2], 1))
        y = self.d1(torch.cat([up(y, f1), f1], 1))
        c = coarse.clamp(1e-4, 1 - 1e-4)
        return torch.log(c) - torch.log1p(-c) + self.out(y)


def crop_box(mask: np.ndarray, margin: float) -> tuple[int, int, int, int] | None:
    """(x0, y0, x1, y1) of mask ≥ 0.5 grown by margin × its size per side, clipped; None if empty."""
    x0, y0, x1, y1 = mask_box(mask >= 0.5)
    if x1 == 0:
        return None
    h, w = mask.shape
    gy, gx = margin * (y1 - y0) + 4, margin * (x1 - x0) + 4
    return (max(0, int(x0 - gx)), max(0, int(y0 - gy)), min(w, int(np.ceil(x1 + gx))), min(h, int(np.ceil(y1 + gy))))


def network_input(rgb: np.ndarray, mask: np.ndarray, size: int) -> tuple[np.ndarray, np.ndarray, tuple[int, int]]:
    """Resize a crop so its longer side is ≤ size, pad right/bottom (edge) to multiples of 8."""
    ch, cw = mask.shape
    s = min(1.0, size / max(ch, cw))
    nw, nh = max(8, round(cw * s)), max(8, round(ch * s))
    interp = cv2.INTER_AREA if s < 1 else cv2.INTER_LINEAR
    r = cv2.resize(rgb, (nw, nh), interpolation=interp)
    m = cv2.resize(mask.astype(np.float32), (nw, nh), interpolation=cv2.INTER_LINEAR)
    ph, pw = (-nh) % 8, (-nw) % 8
    if ph or pw:
        r = cv2.copyMakeBorder(r, 0, ph, 0, pw, cv2.BORDER_REPLICATE)
        m = cv2.copyMakeBorder(m, 0, ph, 0, pw, cv2.BORDER_REPLICATE)
    return r, m, (nh, nw)


class Refiner:
    """A loaded refiner: ``refiner(image_rgb_uint8, soft_mask) -> refined soft mask`` (same shape)."""

    def __init__(self, model: MaskRefiner, meta: dict[str, Any] | None = None, device: str = "cpu") -> None:
        self.model = model.eval().to(device)
        self.meta = meta or {}
        self.device = torch.device(device)

    @staticmethod
    def load(path: str | Path, device: str = "cpu") -> Refiner:
        from safetensors.torch import load_file

        meta = json.loads(Path(path).with_suffix(".json").read_text())
        model = MaskRefiner(RefinerConfig(**meta["config"]))
        tensors = load_file(str(path))
        model.load_state_dict({k[len("model."):]: v.float() for k, v in tensors.items()}, strict=True)
        return Refiner(model, meta, device)

    @torch.no_grad()
    def __call__(self, image: np.ndarray, mask: np.ndarray) -> np.ndarray:
        cfg = self.model.cfg
        box = crop_box(mask, cfg.margin)
        if box is None:
            return mask
        x0, y0, x1, y1 = box
        crop_rgb, crop_m = image[y0:y1, x0:x1], mask[y0:y1, x0:x1]
        r, m, (nh, nw) = network_input(crop_rgb, crop_m, cfg.size)
        rt = torch.from_numpy(r).permute(2, 0, 1)[None].float().to(self.device)
        mt = torch.from_numpy(m)[None, None].to(self.device)
        logits = self.model(rt, mt)[:, :, :nh, :nw]
        logits = F.interpolate(logits, size=(y1 - y0, x1 - x0), mode="bilinear", align_corners=False)
        out = mask.copy()
        out[y0:y1, x0:x1] = logits[0, 0].sigmoid().cpu().numpy()
        return out


def refiner_path(yolact_weights: str | Path) -> Path:
    p = Path(yolact_weights)
    return p.with_name(p.stem + ".refiner.safetensors")


def save_refiner(model: MaskRefiner, path: str | Path, meta: dict[str, Any] | None = None) -> Path:
    from safetensors.torch import save

    path = Path(path)
    write_atomic(path, save({f"model.{k}": v.detach().cpu().contiguous() for k, v in model.state_dict().items()},
                            metadata={"format": FORMAT}))
    side = {"format": FORMAT, "config": asdict(model.cfg), **(meta or {})}
    write_atomic(path.with_suffix(".json"), json.dumps(side, indent=2, default=list).encode())
    return path
