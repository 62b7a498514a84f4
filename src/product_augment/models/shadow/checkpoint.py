"""ShadowNet weights: safetensors + a JSON sidecar (architecture, training data, metrics); no pickle."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import torch

from ...io import write_atomic
from .model import ShadowNet, ShadowNetConfig

FORMAT = "product_augment.shadow/1"


def sidecar_path(weights: str | Path) -> Path:
    return Path(weights).with_suffix(".json")


def save_weights(model: ShadowNet, path: str | Path, meta: dict[str, Any] | None = None,
                 optimizer: torch.optim.Optimizer | None = None) -> Path:
    from safetensors.torch import save

    path = Path(path)
    tensors = {f"model.{k}": v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
    sidecar: dict[str, Any] = {"format": FORMAT, "config": model.cfg.to_dict(), **(meta or {})}
    if optimizer is not None:
        state = optimizer.state_dict()
        for pid, st in state["state"].items():
            for key, val in st.items():
                tensors[f"optim.{pid}.{key}"] = torch.as_tensor(val).detach().cpu().contiguous()
        sidecar["optimizer_param_groups"] = state["param_groups"]
    write_atomic(path, save(tensors, metadata={"format": FORMAT}))
    write_atomic(sidecar_path(path), json.dumps(sidecar, indent=2, default=list).encode())
    return path


def load_model(path: str | Path, device: str | torch.device = "cpu") -> tuple[ShadowNet, dict, dict]:
    """(model in eval mode, sidecar, all tensors) rebuilt from the sidecar's config."""
    from safetensors.torch import load_file

    meta = json.loads(sidecar_path(path).read_text())
    model = ShadowNet(ShadowNetConfig.from_dict(meta["config"]))
    tensors = load_file(str(path))
    model.load_state_dict({k[6:]: v for k, v in tensors.items() if k.startswith("model.")}, strict=True)
    return model.to(device).eval(), meta, tensors


def load_optimizer_state(optimizer: torch.optim.Optimizer, tensors: dict, meta: dict) -> None:
    state: dict[int, dict[str, torch.Tensor]] = {}
    for k, v in tensors.items():
        if k.startswith("optim."):
            _, pid, key = k.split(".", 2)
            state.setdefault(int(pid), {})[key] = v
    optimizer.load_state_dict({"state": state, "param_groups": meta["optimizer_param_groups"]})
