"""The product classifier at run time: ONNX Runtime + numpy, no torch.

``ProductClassifier.classify(image, mask)`` crops the product (its mask's box, square, a margin
around it), greys out everything that is not product, resizes it to the network's input and returns
the 21 class probabilities. `crop_on_grey` is the one crop, used by training/evaluation too.
"""
from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from ..ort import SidecarModel

GREY = 128
MARGIN = 0.08  # of the box's longer side, on each side
# below this total probability of the 21 classes the classifier has no opinion (YOLACT's class stays);
# 0: chosen on the labelled real photos (val half + pool), where every threshold above 0 lost accuracy
MIN_MASS = 0.0


def crop_on_grey(image: np.ndarray, mask: np.ndarray, size: int, margin: float = MARGIN) -> np.ndarray:
    """The product of an RGB uint8 ``image`` (its boolean ``mask``) on grey, in a square around its
    box with ``margin`` on each side, resized to ``size``²."""
    ys, xs = np.nonzero(mask)
    if ys.size == 0:
        raise ValueError("empty mask: nothing to classify")
    y0, y1, x0, x1 = int(ys.min()), int(ys.max()) + 1, int(xs.min()), int(xs.max()) + 1
    side = max(1, round(max(y1 - y0, x1 - x0) * (1 + 2 * margin)))
    sy, sx = (y0 + y1) // 2 - side // 2, (x0 + x1) // 2 - side // 2
    fy0, fx0 = max(0, sy), max(0, sx)
    fy1, fx1 = min(image.shape[0], sy + side), min(image.shape[1], sx + side)
    out = np.full((side, side, 3), GREY, np.uint8)
    region = image[fy0:fy1, fx0:fx1]
    out[fy0 - sy:fy1 - sy, fx0 - sx:fx1 - sx] = np.where(mask[fy0:fy1, fx0:fx1, None], region, GREY)
    interp = cv2.INTER_AREA if side > size else cv2.INTER_LINEAR
    return cv2.resize(out, (size, size), interpolation=interp)


class ProductClassifier(SidecarModel):
    """One loaded classifier on ONNX Runtime (CPU, ``threads`` intra-op threads). One per worker."""

    WHAT = "the product classifier's"

    def __init__(self, onnx_file: str | Path, threads: int = 1, providers: list[str] | None = None) -> None:
        super().__init__(onnx_file, threads, providers)
        self.size = int(self.meta["config"]["input_size"])
        self.min_mass = float(self.meta.get("postprocess", {}).get("min_mass", MIN_MASS))

    def probabilities(self, image: np.ndarray, mask: np.ndarray) -> np.ndarray:
        """The 21 class probabilities (float32, class-id order; they sum to the mass, ≤ 1)."""
        crop = crop_on_grey(image, mask, self.size)
        return self.session.run(None, {self.input_name: crop[None]})[0][0]

    def classify(self, image: np.ndarray, mask: np.ndarray) -> tuple[int, float] | None:
        """(class id, probability) of the product, or None when the 21 classes together are below
        ``min_mass`` (the cut-out is none of them, as far as the network can tell)."""
        p = self.probabilities(image, mask)
        if float(p.sum()) < self.min_mass or not p.any():
            return None
        k = int(np.argmax(p))
        return k + 1, float(p[k])
