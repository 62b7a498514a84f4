"""ShadowNet weights: safetensors + a JSON sidecar (architecture, training data, metrics); no pickle."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import torch

from ..checkpoint import load_optimizer_state, sidecar_path, write_checkpoint
from .model import ShadowNet, ShadowNetConfig

__all__ = ["FORMAT", "load_model", "load_optimizer_state", "save_weights", "sidecar_path"]

FORMAT = "product_augment.shadow/1"


def save_weights(model: ShadowNet, path: str | Path, meta: dict[str, Any] | None = None,
                 optimizer: torch.optim.Optimizer | None = None) -> Path:
    tensors = {f"model.{k}": v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
    sidecar: dict[str, Any] = {"format": FORMAT, "config": model.cfg.to_dict(), **(meta or {})}
    return write_checkpoint(path, tensors, sidecar, FORMAT, optimizer)


def load_model(path: str | Path, device: str | torch.device = "cpu") -> tuple[ShadowNet, dict, dict]:
    """(model in eval mode, sidecar, all tensors) rebuilt from the sidecar's config."""
    from safetensors.torch import load_file

    meta = json.loads(sidecar_path(path).read_text())
    model = ShadowNet(ShadowNetConfig.from_dict(meta["config"]))
    tensors = load_file(str(path))
    model.load_state_dict({k[6:]: v for k, v in tensors.items() if k.startswith("model.")}, strict=True)
    return model.to(device).eval(), meta, tensors
