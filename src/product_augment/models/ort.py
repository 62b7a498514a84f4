"""ONNX Runtime, imported one way: with its telemetry off.

ONNX Runtime 1.2x+ on Linux writes a device id under ``~/.cache/Microsoft/DeveloperTools`` and may
send usage events unless told not to before it initialises; a tool that promises to write nothing
outside ``--output`` and to work offline sets the opt-out (both spellings the runtime has used)
unless the user set it already.
"""
from __future__ import annotations

import os
from typing import Any


def onnxruntime() -> Any:
    """The `onnxruntime` module, its telemetry switched off for this process."""
    os.environ.setdefault("ORT_DISABLE_TELEMETRY", "1")
    os.environ.setdefault("ORT_TELEMETRY_DISABLED", "1")
    import onnxruntime as ort

    return ort
