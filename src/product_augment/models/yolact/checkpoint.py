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
from ...io import write_atomic
from .spec import YolactConfig


def sidecar_path(weights: str | Path) -> Path:
    return Path(weights).with_suffix(".json")


def save_weights(model: torch.nn.Module, path: str | Path, meta: dict[str, Any] | None = None,
                 half: bool = False, optimizer: torch.optim.Optimizer | None = None) -> Path:
    """Write model (+ optional optimizer) tensors and the sidecar; both files are replaced atomically."""
    from safetensors.torch import save

    path = Path(path)
    tensors = {}
    for k, v in model.state_dict().items():
        v = v.detach().cpu()
        tensors[f"model.{k}"] = (v.half() if half and v.is_floating_point() else v).contiguous()
    sidecar: dict[str, Any] = {
        "format": "product_augment.yolact/1",
        "config": model.cfg.to_dict(),
        "classes": [{"id": c.id, "name": c.name} for c in PRODUCT_CLASSES],
        "dtype": "float16" if half else "float32",
        **(meta or {}),
    }
    if optimizer is not None:
        state = optimizer.state_dict()
        for pid, st in state["state"].items():
            for key, val in st.items():
                tensors[f"optim.{pid}.{key}"] = torch.as_tensor(val).detach().cpu().contiguous()
        sidecar["optimizer_param_groups"] = state["param_groups"]
    write_atomic(path, save(tensors, metadata={"format": "product_augment.yolact/1"}))
    write_atomic(sidecar_path(path), json.dumps(sidecar, indent=2, default=list).encode())
    return path


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


def load_optimizer_state(optimizer: torch.optim.Optimizer, tensors: dict[str, torch.Tensor],
                         meta: dict[str, Any]) -> None:
    state: dict[int, dict[str, torch.Tensor]] = {}
    for k, v in tensors.items():
        if k.startswith("optim."):
            _, pid, key = k.split(".", 2)
            state.setdefault(int(pid), {})[key] = v
    optimizer.load_state_dict({"state": state, "param_groups": meta["optimizer_param_groups"]})
