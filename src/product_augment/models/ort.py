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
from typing import Any, Self

PRECISIONS = ("auto", "int8", "float32")
INT8_SUFFIX = ".int8.onnx"


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
    return session, f"onnxruntime {ort.__version__} cpu" + (" int8" if is_int8(path) else "")


def read_sidecar(onnx_file: str | Path) -> dict[str, Any]:
    """The JSON sidecar of a shipped ONNX model (``<stem>.json``), or a clear error naming it."""
    side = onnx_sidecar(onnx_file)
    if not side.exists():
        raise FileNotFoundError(f"{side}: the JSON sidecar of {Path(onnx_file).name} is missing")
    return json.loads(side.read_text())


def is_int8(path: str | Path) -> bool:
    """Whether ``path`` names an int8 copy (``<stem>.int8.onnx``)."""
    return Path(path).name.endswith(INT8_SUFFIX)


def onnx_sidecar(onnx_file: str | Path) -> Path:
    """The JSON sidecar an ONNX file shares with its safetensors weights: ``<stem>.json`` (also for
    the int8 copy ``<stem>.int8.onnx``, whose making the sidecar records in its ``int8`` section)."""
    p = Path(onnx_file)
    return p.with_name(p.name[: -len(INT8_SUFFIX)] + ".json") if is_int8(p) else p.with_suffix(".json")


def int8_beside(path: str | Path) -> Path:
    """``<stem>.int8.onnx`` beside ``<stem>.onnx`` or ``<stem>.safetensors``."""
    p = Path(path)
    return p if is_int8(p) else p.with_name(p.stem + INT8_SUFFIX)


def int8_problem(int8_file: Path) -> str | None:
    """Why the int8 copy cannot stand in for the float model (None when it can): missing, not
    recorded in the sidecar, or made from another float ONNX file than the one the sidecar records."""
    if not int8_file.exists():
        return "not found"
    side = onnx_sidecar(int8_file)
    meta = json.loads(side.read_text()) if side.exists() else {}
    made = (meta.get("int8") or {}).get("source_sha256")
    if made is None:
        return f"not recorded in {side.name} (no `int8` section)"
    if made != (meta.get("onnx") or {}).get("sha256"):
        return f"made from another float ONNX file than the one {side.name} records (re-exported since)"
    return None


def int8_by_default(int8_file: Path) -> bool:
    """Whether ``precision: auto`` runs this int8 copy: its sidecar's ``int8.auto`` (default true).
    A copy that costs more accuracy than its speed is worth is shipped with ``auto: false``."""
    side = onnx_sidecar(int8_file)
    meta = json.loads(side.read_text()) if side.exists() else {}
    return bool((meta.get("int8") or {}).get("auto", True))


def onnx_beside(path: str | Path, what: str, precision: str = "float32") -> Path:
    """The ONNX file to run for ``path`` (an ``.onnx`` file, used as given, or the ``.safetensors``
    weights with ``<stem>.onnx`` and maybe ``<stem>.int8.onnx`` beside).

    ``precision``: ``float32`` the float file; ``int8`` the int8 copy, an error when it is missing or
    stale; ``auto`` the int8 copy where one is shipped, current and meant for the default (its
    sidecar's ``int8.auto``, true unless it says otherwise), else the float file.
    """
    if precision not in PRECISIONS:
        raise ValueError(f"precision {precision!r}: use one of {', '.join(PRECISIONS)}")
    path = Path(path)
    if path.suffix == ".onnx":
        if not path.exists():
            raise FileNotFoundError(f"{path}: {what} ONNX file not found")
        return path
    onnx_file = path.with_suffix(".onnx")
    if precision != "float32":
        int8_file = int8_beside(path)
        problem = int8_problem(int8_file)
        if problem is None and (precision == "int8" or int8_by_default(int8_file)):
            return int8_file
        if precision == "int8":
            raise FileNotFoundError(
                f"{int8_file}: {what} int8 model {problem}; rebuild it with `augment export int8` "
                f"(models.quantize) or use `precision: float32`")
    if not onnx_file.exists():
        raise FileNotFoundError(f"{onnx_file}: {what} ONNX file not found")
    return onnx_file


class SidecarModel:
    """One ONNX model with its JSON sidecar on ONNX Runtime (CPU, ``threads`` intra-op threads; one per
    worker): ``path``, ``meta`` (the sidecar), ``session``, ``runtime`` and ``input_name``.
    Subclasses name themselves for messages (``WHAT``) and read their settings from ``meta``."""

    WHAT = "the model's"

    def __init__(self, onnx_file: str | Path, threads: int = 1, providers: list[str] | None = None) -> None:
        self.path = Path(onnx_file)
        self.meta: dict[str, Any] = read_sidecar(self.path)
        self.session, self.runtime = cpu_session(self.path, threads, providers)
        self.input_name = self.session.get_inputs()[0].name

    @classmethod
    def from_weights(cls, path: str | Path, precision: str = "float32", **kwargs: Any) -> Self:
        """``path``: the ``.onnx`` file or the ``.safetensors`` weights with ``<stem>.onnx`` (and maybe
        ``<stem>.int8.onnx``) beside; ``precision``: auto | int8 | float32 (`onnx_beside`)."""
        return cls(onnx_beside(path, cls.WHAT, precision), **kwargs)
