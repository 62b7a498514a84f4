"""Torch-free ShadowNet inference on ONNX Runtime (one intra-op thread, like every worker)."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from .frame import light_vector

DEFAULT_WEIGHTS = "shadow_net.onnx"


class ShadowPredictor:
    """The shadow network loaded once; `__call__(inputs, lights)` → (cast, ao) float32 in [0, 1].

    Not thread-safe; create one per worker process.
    """

    def __init__(self, onnx_file: str | Path, threads: int = 1) -> None:
        from ..ort import cpu_session

        self.path = Path(onnx_file)
        self.session, _ = cpu_session(self.path, threads)
        sidecar = self.path.with_suffix(".json")
        self.meta = json.loads(sidecar.read_text()) if sidecar.exists() else {}
        self.res = int(self.session.get_inputs()[0].shape[2])

    def predict(self, inputs: np.ndarray, lights: np.ndarray) -> np.ndarray:
        """B×4×R×R network inputs and B×5 light vectors → B×2×R×R (cast, ambient occlusion)."""
        return self.session.run(["shadow"], {"image": np.ascontiguousarray(inputs, np.float32),
                                             "light": np.ascontiguousarray(lights, np.float32)})[0]

    def __call__(self, inputs: np.ndarray, azimuth: float, elevation: float, size: float,
                 floor_tilt: float) -> tuple[np.ndarray, np.ndarray]:
        out = self.predict(inputs[None], light_vector(azimuth, elevation, size, floor_tilt)[None])[0]
        return out[0], out[1]
