"""Weights as safetensors + a JSON sidecar; no pickle anywhere.

`<name>.safetensors` holds the model state (and, for training checkpoints, optimizer tensors under
`optim/`); `<name>.json` holds the architecture config, classes and everything else.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import torch

from ...classes import PRODUCT_CLASSES
from ..checkpoint import load_optimizer_state, sidecar_path, write_checkpoint
from .spec import YolactConfig

__all__ = ["FORMAT", "load_model", "load_optimizer_state", "read_sidecar", "save_weights", "sidecar_path"]
FORMAT = "product_augment.yolact/1"


def save_weights(model: torch.nn.Module, path: str | Path, meta: dict[str, Any] | None = None,
                 half: bool = False, optimizer: torch.optim.Optimizer | None = None) -> Path:
    """Write model (+ optional optimizer) tensors and the sidecar; both files are replaced atomically."""
    tensors = {}
    for k, v in model.state_dict().items():
        v = v.detach().cpu()
        tensors[f"model.{k}"] = (v.half() if half and v.is_floating_point() else v).contiguous()
    sidecar: dict[str, Any] = {
        "format": FORMAT,
        "config": model.cfg.to_dict(),
        "classes": [{"id": c.id, "name": c.name} for c in PRODUCT_CLASSES],
        "dtype": "float16" if half else "float32",
        **(meta or {}),
    }
    return write_checkpoint(path, tensors, sidecar, FORMAT, optimizer)


def read_sidecar(path: str | Path) -> dict[str, Any]:
    return json.loads(sidecar_path(path).read_text())


def load_model(path: str | Path, device: str | torch.device = "cpu"):
    """Rebuild the model from the sidecar config and load the weights (fp16 storage is upcast)."""
    from safetensors.torch import load_file

    from .model import Yolact

    meta = read_sidecar(path)
    model = Yolact(YolactConfig.from_dict(meta["config"]))
    tensors = load_file(str(path))
    state = {k[len("model."):]: v.float() if v.is_floating_point() else v
             for k, v in tensors.items() if k.startswith("model.")}
    model.load_state_dict(state, strict=True)
    return model.to(device), meta, tensors
