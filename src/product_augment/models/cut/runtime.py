"""CutNet at run time: ONNX Runtime + numpy, no torch.

``CutPredictor.alpha(image)`` is the product's soft cut at the image's resolution: the photo resized
to the network's square input, logits at half that size resampled to the full image, a sigmoid, and
the guided filter that snaps the edge onto the photo's own edges (as YOLACT's masks get). `cut_mask`
turns it into the product's mask: above 0.5, fragments much smaller than the largest part dropped.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from ...ops.matte import GuidedFilter

REFINE_RADIUS = 0.01  # guided-filter window as a fraction of the longer side (weights' sidecar may say)
REFINE_EPS = 1e-3
MIN_FRAGMENT = 0.02  # parts smaller than this fraction of the largest part are specks, not product


def sidecar(path: str | Path) -> Path:
    return Path(path).with_suffix(".json")


class CutPredictor:
    """One loaded CutNet on ONNX Runtime (CPU, ``threads`` intra-op threads). One per worker."""

    def __init__(self, onnx_file: str | Path, threads: int = 1, refine_radius: float | None = None,
                 refine_eps: float = REFINE_EPS, providers: list[str] | None = None) -> None:
        from ..ort import onnxruntime
        ort = onnxruntime()

        self.path = Path(onnx_file)
        side = sidecar(self.path)
        if not side.exists():
            raise FileNotFoundError(f"{side}: the JSON sidecar of {self.path.name} is missing")
        self.meta: dict[str, Any] = json.loads(side.read_text())
        self.size = int(self.meta["config"]["input_size"])
        # the guided-filter window tuned for these weights (sidecar `postprocess`), unless given
        post = self.meta.get("postprocess", {})
        self.refine_radius = float(post.get("refine_radius", REFINE_RADIUS) if refine_radius is None
                                   else refine_radius)
        self.min_fragment = float(post.get("min_fragment", MIN_FRAGMENT))
        self.refine_eps = refine_eps
        opts = ort.SessionOptions()
        opts.intra_op_num_threads = int(threads)
        opts.inter_op_num_threads = 1
        opts.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        opts.log_severity_level = 3
        self.runtime = f"onnxruntime {ort.__version__} cpu"
        self.session = ort.InferenceSession(str(self.path), opts, providers=providers or ["CPUExecutionProvider"])
        self.input_name = self.session.get_inputs()[0].name

    @staticmethod
    def from_weights(path: str | Path, **kwargs: Any) -> CutPredictor:
        """``path``: the ``.onnx`` file or the ``.safetensors`` weights with ``<stem>.onnx`` beside."""
        path = Path(path)
        onnx_file = path if path.suffix == ".onnx" else path.with_suffix(".onnx")
        if not onnx_file.exists():
            raise FileNotFoundError(f"{onnx_file}: the cut model's ONNX file is missing")
        return CutPredictor(onnx_file, **kwargs)

    def frame(self, image: np.ndarray) -> np.ndarray:
        """The network's input: the RGB uint8 photo resized to S×S (aspect not kept)."""
        h, w = image.shape[:2]
        interp = cv2.INTER_AREA if max(h, w) > self.size else cv2.INTER_LINEAR
        return cv2.resize(np.ascontiguousarray(image), (self.size, self.size), interpolation=interp)

    def logits(self, image: np.ndarray) -> np.ndarray:
        """Logits at half the network's input size (s×s float32)."""
        if image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
            raise ValueError(f"expected H×W×3 uint8 RGB, got {image.shape} {image.dtype}")
        out = self.session.run(None, {self.input_name: self.frame(image)[None]})[0]
        return out[0, 0]

    def alpha(self, image: np.ndarray) -> np.ndarray:
        """The product's soft cut (H×W float32 in [0, 1]) at the image's resolution."""
        h, w = image.shape[:2]
        up = cv2.resize(self.logits(image), (w, h), interpolation=cv2.INTER_LINEAR)
        p = 1.0 / (1.0 + np.exp(-np.clip(up, -30, 30)))
        if self.refine_radius > 0:
            side = max(h, w)
            gf = GuidedFilter(image, max(1, round(self.refine_radius * side)), self.refine_eps,
                              subsample=max(1, side // 512))
            p = gf(p)
        return p.astype(np.float32)


def drop_fragments(mask: np.ndarray, min_fraction: float = MIN_FRAGMENT) -> np.ndarray:
    """``mask`` without connected parts smaller than ``min_fraction`` of its largest part."""
    n, labels, stats, _ = cv2.connectedComponentsWithStats(mask.astype(np.uint8), connectivity=8)
    if n <= 2:
        return mask.astype(bool)
    areas = stats[1:, cv2.CC_STAT_AREA]
    keep = np.zeros(n, bool)
    keep[1:] = areas >= min_fraction * areas.max()
    return keep[labels]


def cut_mask(alpha: np.ndarray, min_fraction: float = MIN_FRAGMENT) -> np.ndarray:
    """The product's boolean mask from its soft cut."""
    return drop_fragments(alpha > 0.5, min_fraction)


def merge_with_detections(found: list[Any], soft: np.ndarray, alpha: np.ndarray, default_class: int,
                          keep_all: bool = False, min_fraction: float = MIN_FRAGMENT
                          ) -> list[tuple[Any, np.ndarray]]:
    """The kept (Instance, soft mask) pairs when the cut makes the product's mask.

    ``found``/``soft``: YOLACT's instances and soft masks, best first; ``alpha``: the cut. The product
    is the cut's mask; its class and score are those of the detection that overlaps it most (IoU),
    or ``default_class`` with the cut's mean confidence when none overlaps (IoU < 0.1). With
    ``keep_all`` the other detections follow, less the product's pixels, when they are not the same
    object (IoU < 0.5) and keep at least half their area. An empty cut gives YOLACT's result.
    """
    from ...sample import Instance

    mask = cut_mask(alpha, min_fraction)
    if not mask.any():
        kept = [(i, m) for i, m in zip(found, soft) if (m > 0.5).any()]
        return kept if keep_all else kept[:1]
    # the soft cut outside the kept parts is no product (dropped specks)
    reach = cv2.dilate(mask.view(np.uint8), np.ones((5, 5), np.uint8)).view(bool)
    product_soft = np.where(reach, alpha, 0.0).astype(np.float32)
    product_soft[(product_soft > 0.5) & ~mask] = 0.5  # a dropped speck beside the product: not product
    area = mask.sum()
    best, best_iou = None, 0.1
    ious = []
    for inst, m in zip(found, soft):
        mi = m > 0.5
        inter = np.logical_and(mi, mask).sum()
        iou = inter / max(area + mi.sum() - inter, 1)
        ious.append(iou)
        if iou > best_iou:
            best, best_iou = inst, iou
    if best is not None:
        cls, score = best.class_id, best.score
    else:
        cls, score = default_class, float(alpha[mask].mean())
    kept = [(Instance.from_mask(cls, mask, score), product_soft)]
    if keep_all:
        for inst, m, iou in zip(found, soft, ious):
            if inst is best or iou >= 0.5:
                continue
            rest = (m > 0.5) & ~mask
            if rest.sum() >= 0.5 * max((m > 0.5).sum(), 1):
                kept.append((Instance.from_mask(inst.class_id, rest, inst.score), np.where(mask, 0.0, m)))
    return kept
