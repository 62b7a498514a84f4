"""Which runtime runs the segmenter: ONNX Runtime on the CPU (default install), torch on a GPU.

``load_predictor(weights, device=...)`` is what the segment step calls. On the CPU it loads
``<stem>.onnx`` beside the ``.safetensors`` weights (or a ``.onnx`` path as given) into
`OnnxPredictor`, importing no torch. ``device: cuda`` / ``auto`` use the torch `Predictor` when torch
is installed (the ``train`` extra) and sees a GPU, else ONNX on the CPU. Both give the same masks
to float rounding (tests/models/yolact/test_onnx.py).
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

from .spec import EDGE_REFINE


def _torch_or_none() -> Any:
    try:
        import torch
    except ImportError:
        return None
    return torch


def _onnxruntime_installed() -> bool:
    from ..ort import onnxruntime

    try:
        onnxruntime()
    except ImportError:
        return False
    return True


def load_predictor(weights: str | Path, device: str = "cpu", refine_radius: float = EDGE_REFINE,
                   precision: str = "float32", **kwargs: Any) -> Any:
    """A predictor with ``soft_masks(image, score_threshold=...)``, ``soft``, ``__call__`` and ``.meta``.

    ``weights``: the ``.safetensors`` file (its ``.onnx`` and ``.json`` beside it) or the ``.onnx`` file.
    ``precision`` (auto | int8 | float32) picks ``<stem>.int8.onnx`` on the CPU (`ort.onnx_beside`);
    torch always runs the float weights.
    """
    weights = Path(weights)
    onnx_file = weights if weights.suffix == ".onnx" else weights.with_suffix(".onnx")
    safetensors = weights.with_suffix(".safetensors")
    if device not in ("cpu", "cuda", "auto"):
        raise ValueError(f"device {device!r}: use cpu, cuda or auto")
    if device in ("cuda", "auto") and safetensors.exists():
        torch = _torch_or_none()
        if torch is not None and torch.cuda.is_available():
            from .predict import Predictor
            return Predictor.from_weights(safetensors, device="cuda", refine_radius=refine_radius, **kwargs)
    if onnx_file.exists() and _onnxruntime_installed():
        from .onnx_predict import OnnxPredictor
        # a `.onnx` path runs as given; beside the safetensors `precision` picks the float or int8 file
        return OnnxPredictor.from_weights(onnx_file if weights.suffix == ".onnx" else safetensors,
                                          precision=precision, refine_radius=refine_radius, **kwargs)
    if safetensors.exists() and _torch_or_none() is not None:  # no ONNX file (or runtime): torch on the CPU
        from .predict import Predictor
        return Predictor.from_weights(safetensors, device="cpu", refine_radius=refine_radius, **kwargs)
    if not onnx_file.exists():
        raise FileNotFoundError(
            f"{onnx_file}: the segmenter's ONNX model is missing, and torch (to run {safetensors.name} "
            f"directly) is not installed. Export it with `augment export onnx --weights {safetensors}` "
            f"(in Python: models.yolact.onnx_export.export_onnx) "
            f"(needs the training extra: pip install 'product-augment[train]'), or install that extra.")
    raise ImportError(f"{onnx_file}: onnxruntime is not installed (pip install onnxruntime), nor is torch")
