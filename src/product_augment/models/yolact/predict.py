"""Inference with torch: `Predictor.from_weights(path)(image_rgb_uint8) -> list[Instance]`, plus soft
masks. The network runs in torch (on the GPU with `device="cuda"`, batched); everything after it is
`postprocess` (numpy), the same code as the ONNX Runtime path."""
from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import torch

from .checkpoint import load_model
from .model import Yolact
from .postprocess import (
    PredictorAPI,
    SoftDetections,
    product_prior,  # noqa: F401  (re-exported: callers import it from here)
)
from .refiner import Refiner, refiner_path
from .spec import (
    AGNOSTIC,
    EDGE_REFINE,
    PICK_BORDER,
    PICK_CENTRE,
    REFINE_EPS,
    REFINE_TOP,
    RESCORE_POWER,
)


class Predictor(PredictorAPI):
    """One loaded YOLACT model. Not thread-safe; create one per worker."""

    def __init__(self, model: Yolact, meta: dict[str, Any] | None = None, device: str = "cpu",
                 score_threshold: float = 0.3, top_k: int = 10, nms_iou: float = 0.5,
                 box_margin: float = 0.02, refine_radius: float = EDGE_REFINE, refine_eps: float = REFINE_EPS,
                 rescore_power: float = RESCORE_POWER, agnostic: bool = AGNOSTIC, pick_centre: float = PICK_CENTRE,
                 pick_border: float = PICK_BORDER, input_size: int | None = None, refiner: Refiner | None = None,
                 refine_top: int = REFINE_TOP) -> None:
        self.model = model.eval().to(device)
        self.cfg = model.cfg
        self.meta = meta or {}
        self.device = torch.device(device)
        self.runtime = f"torch {torch.__version__} {self.device}"  # what ran the network (for manifests)
        self.size = model.cfg.input_size if input_size is None else int(input_size)
        self.score_threshold = score_threshold
        self.top_k = top_k
        self.nms_iou = nms_iou
        self.box_margin = box_margin  # crop masks to the box grown by this fraction: boxes run a bit tight
        # guided-filter edge refinement: window radius as a fraction of the image's longer side (0: off)
        self.refine_radius = refine_radius
        self.refine_eps = refine_eps
        # order detections by score × mask quality ** power (0: by score alone); see soft()
        self.rescore_power = rescore_power
        # class-agnostic candidates and the product-photo prior in the ranking (see config.AGNOSTIC)
        self.agnostic = agnostic
        self.pick_centre = pick_centre
        self.pick_border = pick_border
        # learned full-resolution edge refinement of the first `refine_top` masks (refiner.py)
        self.refiner = refiner
        self.refine_top = refine_top

    @staticmethod
    def from_weights(path: str | Path, device: str = "cpu", **kwargs: Any) -> Predictor:
        """Load YOLACT weights and, when ``<stem>.refiner.safetensors`` lies beside them (and ``refiner``
        is not given), the mask refiner; ``refiner=False`` loads none."""
        model, meta, _ = load_model(path, device)
        refiner = kwargs.pop("refiner", None)
        if refiner is None and refiner_path(path).exists():
            refiner = refiner_path(path)
        if refiner:
            kwargs["refiner"] = refiner if isinstance(refiner, Refiner) else Refiner.load(refiner, device)
        return Predictor(model, meta, device, **kwargs)

    @torch.no_grad()
    def soft(self, image: np.ndarray, score_threshold: float | None = None,
             top_k: int | None = None, agnostic: bool | None = None) -> SoftDetections:
        """Detections with float32 masks in [0, 1] at the image's resolution, best first.

        Mask logits are assembled at prototype resolution, resampled bilinearly straight to full
        resolution, then passed through the sigmoid, so edges are smooth and anti-aliased. With
        ``refine_radius`` > 0 each mask is then refined by a guided filter on the image, which moves
        the (prototype-resolution, hence blurry) edge onto the image's own edges. "Best first"
        is by score × q ** ``rescore_power``, q being the mask quality (mean probability over the
        mask's own pixels: near 1 for a confident, crisp mask, near 0.5 for a hesitant one), so the
        first detection, the pipeline's "top product", is the best-formed confident mask; with
        ``rescore_power`` 0 it is the highest class score. ``scores`` stay the class scores either way
        (COCO AP ranks by them).

        With ``agnostic`` (default: the predictor's setting) candidates come from class-agnostic
        detection and ``scores`` are objectness (1 − P(background)); the order then also weighs
        ``product_prior`` (centrality, borders touched, size). ``agnostic=False`` is the COCO-style
        per-class detection that AP is measured on.
        """
        return self.soft_batch([image], score_threshold, top_k, agnostic)[0]

    @torch.no_grad()
    def soft_batch(self, images: list[np.ndarray], score_threshold: float | None = None,
                   top_k: int | None = None, agnostic: bool | None = None,
                   max_batch: int = 32) -> list[SoftDetections]:
        """`soft` of several images (any sizes): the letterboxed frames go through the network as
        one batch (chunks of ``max_batch``), then each image is post-processed as in `soft`. On a
        GPU this keeps the device busy; the masks equal one-at-a-time ones to float rounding
        (a convolution may sum in another order at another batch size)."""
        agnostic, thr, k, boxes = self._batch_settings(images, score_threshold, top_k, agnostic)
        keep_coarse = self.refiner is not None and self.refine_top > 0
        result = []
        for i in range(0, len(images), max_batch):
            chunk, lbs = images[i:i + max_batch], boxes[i:i + max_batch]
            frames = np.stack([lb.image(im) for lb, im in zip(lbs, chunk)])
            x = torch.from_numpy(frames).permute(0, 3, 1, 2).float().to(self.device)
            out = self.model(x)
            raw = {k_: out[k_].float().cpu().numpy() for k_ in ("cls", "box", "coef", "protos")}
            anchors = out["anchors"].cpu().numpy()
            for j, (image, lb) in enumerate(zip(chunk, lbs)):
                soft = self.post_process(image, lb, {k_: v[j] for k_, v in raw.items()}, anchors, agnostic, thr,
                                         k, keep_coarse)
                result.append(self._refined(image, soft))
        return result

    def _refined(self, image: np.ndarray, soft: SoftDetections) -> SoftDetections:
        """The first `refine_top` masks re-drawn by the learned refiner from their coarse copies."""
        if soft.coarse is None:
            return soft
        masks = soft.masks.copy()
        for j in range(min(self.refine_top, len(masks))):
            masks[j] = self.refiner(image, soft.coarse[j])
        return SoftDetections(soft.boxes, soft.classes, soft.scores, masks, soft.quality)
