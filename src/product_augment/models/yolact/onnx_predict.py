"""Torch-free inference: the exported network on ONNX Runtime + numpy post-processing.

`OnnxPredictor` has `Predictor`'s interface (`soft`, `soft_masks`, `__call__`, `.meta`) and gives
the same detections and masks to float rounding (tests/models/yolact/test_onnx.py). It imports no
torch, so the default install needs neither torch nor the CUDA stack. The learned mask refiner
(torch, not shipped) is not supported here.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from ..ort import onnx_sidecar
from .postprocess import PredictorAPI, SoftDetections, make_anchors
from .spec import (
    AGNOSTIC,
    EDGE_REFINE,
    PICK_BORDER,
    PICK_CENTRE,
    REFINE_EPS,
    RESCORE_POWER,
    YolactConfig,
)


def _grid_sizes(meta: dict[str, Any], cfg: YolactConfig) -> list[tuple[int, int]]:
    recorded = (meta.get("onnx") or {}).get("grid_sizes")
    if recorded:
        return [tuple(g) for g in recorded]
    s = cfg.input_size  # a stride-2 3×3 conv with padding 1 halves a side, rounding up
    for _ in range(3):
        s = -(-s // 2)
    sizes = []
    for _ in cfg.strides:
        sizes.append((s, s))
        s = -(-s // 2)
    return sizes


class OnnxPredictor(PredictorAPI):
    """One loaded YOLACT model on ONNX Runtime (CPU). Not thread-safe; create one per worker.

    ``threads`` is ONNX Runtime's intra-op thread count: 1 by default, like every worker of the
    runner, so results do not depend on the number of workers or cores.
    """

    def __init__(self, onnx_file: str | Path, meta: dict[str, Any] | None = None, score_threshold: float = 0.3,
                 top_k: int = 10, nms_iou: float = 0.5, box_margin: float = 0.02,
                 refine_radius: float = EDGE_REFINE, refine_eps: float = REFINE_EPS,
                 rescore_power: float = RESCORE_POWER, agnostic: bool = AGNOSTIC, pick_centre: float = PICK_CENTRE,
                 pick_border: float = PICK_BORDER, threads: int = 1, providers: list[str] | None = None) -> None:
        from ..ort import cpu_session

        self.path = Path(onnx_file)
        if meta is None:
            side = onnx_sidecar(self.path)
            meta = json.loads(side.read_text()) if side.exists() else {}
        if "config" not in meta:
            raise ValueError(f"{onnx_sidecar(self.path)}: no model config (the JSON sidecar of {self.path.name})")
        self.meta = meta
        self.cfg = YolactConfig.from_dict(meta["config"])
        self.size = self.cfg.input_size
        self.score_threshold = score_threshold
        self.top_k = top_k
        self.nms_iou = nms_iou
        self.box_margin = box_margin
        self.refine_radius = refine_radius
        self.refine_eps = refine_eps
        self.rescore_power = rescore_power
        self.agnostic = agnostic
        self.pick_centre = pick_centre
        self.pick_border = pick_border
        # what ran the network (for manifests)
        self.session, self.runtime = cpu_session(self.path, threads, providers)
        self.input_name = self.session.get_inputs()[0].name
        self.output_names = [o.name for o in self.session.get_outputs()]
        self.anchors = make_anchors(_grid_sizes(meta, self.cfg), self.cfg.anchor_fracs, self.cfg.aspect_ratios)

    @staticmethod
    def from_weights(path: str | Path, precision: str = "float32", **kwargs: Any) -> OnnxPredictor:
        """Load ``path`` (a ``.onnx`` file, or the ``.safetensors`` weights with ``<stem>.onnx`` and maybe
        ``<stem>.int8.onnx`` beside; ``precision``: auto | int8 | float32, `ort.onnx_beside`)."""
        from ..ort import onnx_beside

        return OnnxPredictor(onnx_beside(path, "the segmenter's", precision), **kwargs)

    def raw(self, frame: np.ndarray) -> dict[str, np.ndarray]:
        """The network's outputs for one letterboxed S×S×3 uint8 frame (batch dimension dropped)."""
        outs = self.session.run(self.output_names, {self.input_name: frame[None]})
        return {k: v[0] for k, v in zip(self.output_names, outs)}

    @property
    def batch_dim_fixed(self) -> bool:
        """Whether the exported network takes exactly one frame per call (a fixed batch axis)."""
        dim = self.session.get_inputs()[0].shape[0]
        return isinstance(dim, int)

    def raw_batch(self, frames: list[np.ndarray]) -> list[dict[str, np.ndarray]]:
        """The network's outputs for N letterboxed frames: one call on a dynamic batch axis, else
        one call per frame (the shipped export has a fixed batch of 1), so the numbers are those of
        `raw` either way."""
        if self.batch_dim_fixed or len(frames) == 1:
            return [self.raw(f) for f in frames]
        outs = self.session.run(self.output_names, {self.input_name: np.stack(frames)})
        return [{k: v[i] for k, v in zip(self.output_names, outs)} for i in range(len(frames))]

    def soft(self, image: np.ndarray, score_threshold: float | None = None,
             top_k: int | None = None, agnostic: bool | None = None) -> SoftDetections:
        """Detections with float32 masks in [0, 1] at the image's resolution, best first
        (see `Predictor.soft`)."""
        return self.soft_batch([image], score_threshold, top_k, agnostic)[0]

    def soft_batch(self, images: list[np.ndarray], score_threshold: float | None = None,
                   top_k: int | None = None, agnostic: bool | None = None) -> list[SoftDetections]:
        """`soft` of several images (any sizes) with one network pass where the export allows."""
        agnostic, thr, k, boxes = self._batch_settings(images, score_threshold, top_k, agnostic)
        outs = self.raw_batch([lb.image(image) for lb, image in zip(boxes, images)])
        return [self.post_process(image, lb, out, self.anchors, agnostic, thr, k)
                for image, lb, out in zip(images, boxes, outs)]
