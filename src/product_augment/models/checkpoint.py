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


def model_tensors(net: torch.nn.Module) -> dict[str, torch.Tensor]:
    """A network's state as checkpoint tensors (``model.<name>``, on the CPU)."""
    return {f"model.{k}": v.detach().cpu().contiguous() for k, v in net.state_dict().items()}


def model_state(tensors: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """The ``model.*`` tensors of a checkpoint as a state dict (the prefix dropped)."""
    return {k[6:]: v for k, v in tensors.items() if k.startswith("model.")}


def resume_checkpoint(path: str | Path, net: torch.nn.Module, optimizer: torch.optim.Optimizer) -> dict[str, Any]:
    """Load a training checkpoint written by `write_checkpoint` into `net` and `optimizer`; its sidecar."""
    from safetensors.torch import load_file

    tensors = load_file(str(path))
    meta = json.loads(sidecar_path(path).read_text())
    net.load_state_dict(model_state(tensors))
    load_optimizer_state(optimizer, tensors, meta)
    return meta


def keep_weights(net: torch.nn.Module, path: str | Path) -> None:
    """The network's weights alone (no optimizer, no sidecar: ``train --keep-every``), written atomically."""
    from safetensors.torch import save

    write_atomic(Path(path), save(model_tensors(net)))


def read_extra(path: str | Path) -> dict[str, Any]:
    """The JSON object a ``publish --extra`` file holds (merged into the shipped sidecar), or an
    error naming the file (ValueError: unreadable; TypeError: not an object)."""
    path = Path(path)
    try:
        extra = json.loads(path.read_text())
    except (OSError, ValueError) as e:
        raise ValueError(f"{path}: not a readable JSON file ({e})") from e
    if not isinstance(extra, dict):
        raise TypeError(f"{path}: must hold a JSON object (sidecar fields), not {type(extra).__name__}")
    return extra


def publish_weights(checkpoint: str | Path, out: str | Path, meta: dict[str, Any],
                    extra: dict[str, Any] | None = None) -> Path:
    """The ``model.*`` tensors of a training checkpoint (no optimizer state) as shipped weights at
    `out`, with `meta` (the checkpoint's record) plus `extra` (post-processing, metrics, training
    data) as their sidecar; both written atomically. The caller exports the ONNX file beside them."""
    from safetensors.torch import load_file, save

    tensors = {k: v for k, v in load_file(str(checkpoint)).items() if k.startswith("model.")}
    meta = {k: v for k, v in meta.items() if k not in ("optimizer_param_groups", "onnx")}
    meta.update(extra or {})
    out = Path(out)
    write_atomic(out, save(tensors, metadata={"format": str(meta.get("format", ""))}))
    write_atomic(sidecar_path(out), json.dumps(meta, indent=2).encode())
    return out


def average_weights(paths: list[str | Path], shares: list[float] | None = None) -> dict[str, torch.Tensor]:
    """The weighted mean of the ``model.*`` tensors of checkpoints of one architecture (a "model
    soup": fine-tunes of one start, averaged in weight space; the network runs once, as before).

    ``shares`` default to equal and are normalised. Floating tensors are averaged in float64 and
    stored in their own dtype; any other tensor (a counter) must be equal in every checkpoint.
    Checkpoints that do not match (another key set, a shape) raise ``ValueError`` naming the file."""
    from safetensors.torch import load_file

    if not paths:
        raise ValueError("average_weights: no checkpoints given")
    shares = [1.0] * len(paths) if shares is None else [float(s) for s in shares]
    if len(shares) != len(paths) or min(shares) < 0 or sum(shares) <= 0:
        raise ValueError(f"average_weights: {len(paths)} checkpoints need as many shares ≥ 0, not all 0; got {shares}")
    total = sum(shares)
    acc: dict[str, torch.Tensor] = {}
    first: dict[str, torch.Tensor] = {}
    for i, (path, share) in enumerate(zip(paths, shares)):
        state = {k: v for k, v in load_file(str(path)).items() if k.startswith("model.")}
        if not state:
            raise ValueError(f"{path}: no model.* tensors")
        if i == 0:
            first = state
            acc = {k: v.double() * (share / total) for k, v in state.items() if v.is_floating_point()}
            continue
        if set(state) != set(first):
            diff = sorted(set(state) ^ set(first))
            raise ValueError(f"{path}: its tensors differ from {paths[0]}'s ({len(diff)} keys, e.g. {diff[0]})")
        for k, v in state.items():
            if v.shape != first[k].shape:
                raise ValueError(f"{path}: {k} has shape {tuple(v.shape)}, {paths[0]} {tuple(first[k].shape)}")
            if k in acc:
                acc[k] += v.double() * (share / total)
            elif not torch.equal(v, first[k]):
                raise ValueError(f"{path}: {k} ({v.dtype}) differs from {paths[0]}'s and cannot be averaged")
    return {k: (acc[k].to(v.dtype) if k in acc else v).contiguous() for k, v in first.items()}


def load_optimizer_state(optimizer: torch.optim.Optimizer, tensors: dict[str, torch.Tensor],
                         meta: dict[str, Any]) -> None:
    """Restore what `write_checkpoint` stored for the optimizer."""
    state: dict[int, dict[str, torch.Tensor]] = {}
    for k, v in tensors.items():
        if k.startswith("optim."):
            _, pid, key = k.split(".", 2)
            state.setdefault(int(pid), {})[key] = v
    optimizer.load_state_dict({"state": state, "param_groups": meta["optimizer_param_groups"]})
