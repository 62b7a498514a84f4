"""ONNX Runtime, imported one way: with its telemetry off.

ONNX Runtime 1.2x+ on Linux writes a device id under ``~/.cache/Microsoft/DeveloperTools`` and may
send usage events unless told not to before it initialises; a tool that promises to write nothing
outside ``--output`` and to work offline sets the opt-out (both spellings the runtime has used)
unless the user set it already.
"""
from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any


def onnxruntime() -> Any:
    """The `onnxruntime` module, its telemetry switched off for this process."""
    os.environ.setdefault("ORT_DISABLE_TELEMETRY", "1")
    os.environ.setdefault("ORT_TELEMETRY_DISABLED", "1")
    import onnxruntime as ort

    return ort


def cpu_session(path: str | Path, threads: int = 1, providers: list[str] | None = None) -> tuple[Any, str]:
    """(InferenceSession, runtime description) for one model: `threads` intra-op threads, sequential,
    quiet, no memory arena — every model of the pipeline runs this way, so results do not depend on
    the core count."""
    ort = onnxruntime()
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = int(threads)
    opts.inter_op_num_threads = 1
    opts.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    opts.log_severity_level = 3
    # no memory arena: it keeps each model's largest activations for good (≈ 30 MB a worker for the
    # three models of the segment step) for no time measured on these small networks
    opts.enable_cpu_mem_arena = False
    session = ort.InferenceSession(str(path), opts, providers=providers or ["CPUExecutionProvider"])
    return session, f"onnxruntime {ort.__version__} cpu"


def read_sidecar(onnx_file: str | Path) -> dict[str, Any]:
    """The JSON sidecar of a shipped ONNX model (``<stem>.json``), or a clear error naming it."""
    side = onnx_sidecar(onnx_file)
    if not side.exists():
        raise FileNotFoundError(f"{side}: the JSON sidecar of {Path(onnx_file).name} is missing")
    return json.loads(side.read_text())


def onnx_sidecar(onnx_file: str | Path) -> Path:
    """The JSON sidecar an ONNX file shares with its safetensors weights: ``<stem>.json``."""
    return Path(onnx_file).with_suffix(".json")


def onnx_beside(path: str | Path, what: str) -> Path:
    """The ``.onnx`` file of ``path`` (itself, or ``<stem>.onnx`` beside the ``.safetensors`` weights)."""
    path = Path(path)
    onnx_file = path if path.suffix == ".onnx" else path.with_suffix(".onnx")
    if not onnx_file.exists():
        raise FileNotFoundError(f"{onnx_file}: {what} ONNX file not found")
    return onnx_file
