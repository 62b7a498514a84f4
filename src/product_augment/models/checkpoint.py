"""Training checkpoints of every model: safetensors + a JSON sidecar, optimizer state included; no pickle.

`<name>.safetensors` holds `model.*` tensors (and `optim.<param id>.<key>` for a training
checkpoint); `<name>.json` holds the architecture and everything else, plus the optimizer's
param groups. Each model's own `checkpoint.py` adds its sidecar fields and rebuilds its network.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import torch

from ..io import write_atomic


def sidecar_path(weights: str | Path) -> Path:
    return Path(weights).with_suffix(".json")


def write_checkpoint(path: str | Path, tensors: dict[str, torch.Tensor], sidecar: dict[str, Any], fmt: str,
                     optimizer: torch.optim.Optimizer | None = None) -> Path:
    """Write model `tensors` (+ the optimizer's state) and the sidecar, each replaced atomically."""
    from safetensors.torch import save

    path = Path(path)
    tensors, sidecar = dict(tensors), dict(sidecar)
    if optimizer is not None:
        state = optimizer.state_dict()
        for pid, st in state["state"].items():
            for key, val in st.items():
                tensors[f"optim.{pid}.{key}"] = torch.as_tensor(val).detach().cpu().contiguous()
        sidecar["optimizer_param_groups"] = state["param_groups"]
    write_atomic(path, save(tensors, metadata={"format": fmt}))
    write_atomic(sidecar_path(path), json.dumps(sidecar, indent=2, default=list).encode())
    return path


def load_optimizer_state(optimizer: torch.optim.Optimizer, tensors: dict[str, torch.Tensor],
                         meta: dict[str, Any]) -> None:
    """Restore what `write_checkpoint` stored for the optimizer."""
    state: dict[int, dict[str, torch.Tensor]] = {}
    for k, v in tensors.items():
        if k.startswith("optim."):
            _, pid, key = k.split(".", 2)
            state.setdefault(int(pid), {})[key] = v
    optimizer.load_state_dict({"state": state, "param_groups": meta["optimizer_param_groups"]})
