"""Export the YOLACT network (backbone → FPN → head + protonet) to ONNX for torch-free inference.

Needs the ``train`` extra (torch, onnx). The graph covers the network's forward only:

    image  1×S×S×3 uint8 RGB, the letterboxed frame (``data.Letterbox``), S = config input_size
    → cls 1×A×(C+1) logits, box 1×A×4 offsets, coef 1×A×k, protos 1×h×w×k

Anchors are not in the graph: ``postprocess.make_anchors`` rebuilds them from the sidecar config and
the grid sizes recorded at export. Weight-standardized convs are folded into plain convs first (the
standardized weight is a constant at inference), so the graph holds ordinary Conv nodes.
Everything after the network (softmax, decode, NMS, mask assembly, resampling, guided filter,
ranking) is numpy in ``postprocess.py``, shared by ``onnx_predict.OnnxPredictor``.
"""
from __future__ import annotations

import copy
import json
import os
import warnings
from collections.abc import Callable
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import torch
from torch import nn

from ...io import file_sha256
from .checkpoint import load_model, sidecar_path
from .layers import WSConv2d
from .model import Yolact

OPSET = 17
OUTPUTS = ("cls", "box", "coef", "protos")
FORMAT = "product_augment.yolact.onnx/1"


class NHWCImage(nn.Module):
    """A network of N×3×H×W float input behind the photo's own layout: uint8 N×H×W×3 RGB in."""

    def __init__(self, net: nn.Module) -> None:
        super().__init__()
        self.net = net

    def forward(self, image: torch.Tensor) -> torch.Tensor:
        return self.net(image.permute(0, 3, 1, 2).float())


def onnx_path(weights: str | Path) -> Path:
    """``<stem>.onnx`` beside the safetensors file (it shares the JSON sidecar)."""
    return Path(weights).with_suffix(".onnx")


def fold_weight_standardization(model: nn.Module) -> nn.Module:
    """A copy of ``model`` whose WSConv2d layers are plain Conv2d holding the standardized weight."""
    model = copy.deepcopy(model).eval()
    for parent in list(model.modules()):
        for name, child in list(parent.named_children()):
            if isinstance(child, WSConv2d):
                conv = nn.Conv2d(child.in_channels, child.out_channels, child.kernel_size, child.stride,
                                 child.padding, child.dilation, child.groups, child.bias is not None,
                                 child.padding_mode)
                with torch.no_grad():
                    conv.weight.copy_(child.standardized_weight())
                    if child.bias is not None:
                        conv.bias.copy_(child.bias)
                setattr(parent, name, conv)
    return model


class ExportWrapper(nn.Module):
    """uint8 NHWC letterboxed frame → the network's raw outputs (no anchors, no post-processing)."""

    def __init__(self, model: Yolact) -> None:
        super().__init__()
        self.model = model

    def forward(self, image: torch.Tensor) -> tuple[torch.Tensor, ...]:
        out = self.model(image.permute(0, 3, 1, 2).float())
        return tuple(out[k] for k in OUTPUTS)


def grid_sizes(model: Yolact) -> list[list[int]]:
    """Feature-map sizes of the pyramid levels at the model's input size (for the anchors)."""
    size = model.cfg.input_size
    with torch.no_grad():
        feats = model.fpn(model.backbone(torch.zeros(1, 3, size, size)))
    return [list(f.shape[-2:]) for f in feats]


def export_onnx(weights: str | Path, out: str | Path | None = None, opset: int = OPSET,
                update_sidecar: bool = True) -> dict[str, Any]:
    """Write ``out`` (default ``<stem>.onnx`` beside ``weights``) and return what it records.

    With ``update_sidecar`` the weights' JSON sidecar gets an ``onnx`` section: file, sha256 of the
    source safetensors and of the ONNX file, opset, input/outputs, grid sizes, exporter and versions.
    """
    weights = Path(weights)
    out = onnx_path(weights) if out is None else Path(out)
    model, meta, _ = load_model(weights, "cpu")
    model.eval()
    folded = fold_weight_standardization(model)
    wrapper = ExportWrapper(folded).eval()
    size = model.cfg.input_size
    example = torch.zeros(1, size, size, 3, dtype=torch.uint8)
    def export(tmp: Path) -> None:
        with torch.no_grad(), warnings.catch_warnings():
            # the tracer's notes (constant shapes, anchors it traces then drops) and the TorchScript
            # exporter's deprecation notice: the pinned torch 2.14 has it, and its graph is checked
            # against torch by tests/models/yolact/test_onnx.py
            warnings.simplefilter("ignore", torch.jit.TracerWarning)
            warnings.simplefilter("ignore", DeprecationWarning)
            torch.onnx.export(wrapper, (example,), str(tmp), input_names=["image"], output_names=list(OUTPUTS),
                              opset_version=opset, dynamo=False, do_constant_folding=True)
    written = write_onnx(out, export)
    info = {
        "format": FORMAT,
        "file": out.name,
        "what": "the YOLACT network's forward (EfficientNet-Lite0 backbone, FPN, prediction head, protonet) "
                "with weight standardization folded into plain convs; post-processing is numpy "
                "(models/yolact/postprocess.py)",
        "input": {"name": "image", "shape": [1, size, size, 3], "dtype": "uint8",
                  "layout": "NHWC RGB, letterboxed top-left, pad 127"},
        "outputs": {"cls": "1×A×(C+1) class logits (0: background)", "box": "1×A×4 anchor offsets",
                    "coef": "1×A×k mask coefficients", "protos": "1×h×w×k prototypes"},
        "grid_sizes": grid_sizes(model),
        "opset": opset,
        "source": weights.name,
        "source_sha256": file_sha256(weights),
        "sha256": written["sha256"],
        "bytes": written["bytes"],
        "made_by": "augment export onnx (product_augment.models.yolact.onnx_export.export_onnx): "
                   "torch.onnx.export, TorchScript exporter, constant folding",
        "torch": torch.__version__,
        "exported": datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
    }
    try:
        import onnx
        info["onnx"] = onnx.__version__
    except ImportError:  # pragma: no cover - torch.onnx needs it anyway
        pass
    if update_sidecar:
        side = sidecar_path(weights)
        meta = json.loads(side.read_text())
        meta["onnx"] = info
        tmp_side = side.with_name(side.name + ".tmp")
        tmp_side.write_text(json.dumps(meta, indent=2))
        os.replace(tmp_side, side)
    return info


def write_onnx(out: Path, export: Callable[[Path], None]) -> dict[str, Any]:
    """`export(tmp)` writes (and may check) the ONNX file at a temporary path beside `out`; its
    exporter's doc strings are dropped, it is made world-readable and moved over `out` atomically
    (the temporary is removed when anything fails, so `out` is the old file or the new one, never
    half of one). Returns the file's record: name, sha256, bytes."""
    tmp = out.with_name(out.name + ".tmp")
    try:
        export(tmp)
        _strip_doc_strings(tmp)
        os.chmod(tmp, 0o644)
        os.replace(tmp, out)
    finally:
        tmp.unlink(missing_ok=True)
    return {"file": out.name, "sha256": file_sha256(out), "bytes": out.stat().st_size}


def _strip_doc_strings(path: Path) -> None:
    """Drop the exporter's per-node stack traces (local paths) from the file."""
    try:
        import onnx
    except ImportError:  # pragma: no cover
        return
    m = onnx.load(str(path))
    for node in m.graph.node:
        node.doc_string = ""
    m.producer_name = "product_augment"
    onnx.save(m, str(path))
