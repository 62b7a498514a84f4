"""The U-Net benchmark (`augment bench`): does data made by this pipeline make a segmenter better?

The same small U-Net (models/unet) is trained on the base set and on the control and augmented arms
and evaluated on held-out test sets. The pieces:

- data.py     reading COCO and image+mask folders (through io.read_image) into one square frame:
              the resize policy shared by training and testing (edge-replicated padding, padding
              marked invalid), aspect-ratio buckets
- augment.py  the arms' augmentations: this pipeline (runner, masks backend on the base set's own
              masks), copy-paste, classical augmentation on the fly
- train.py    the one training loop (BCE + Dice over valid pixels, AdamW, one-cycle) and prediction
- metrics.py  pixel accuracy, foreground IoU (image mean, set), COCO mask AP, epochs to converge
- run.py      arms × seeds → results.json; report.py → report.md (beside the paper) and curves.png
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from .data import ArraySet, fit_square, load_set
from .metrics import converge_epoch, mask_ap, segmentation_metrics
from .run import ARMS, PAPER, run_bench
from .train import TrainSpec, evaluate, predict, train

__all__ = ["ARMS", "PAPER", "ArraySet", "TrainSpec", "converge_epoch", "evaluate", "fit_square", "load_coco_set",
           "load_set", "mask_ap", "predict", "run_bench", "segmentation_metrics", "train"]


def load_coco_set(root: Path, size: int, limit: int | None = None,
                  pad: str = "replicate") -> tuple[np.ndarray, np.ndarray]:
    """Images (N×size×size×3 uint8) and foreground masks (N×size×size bool) of a COCO folder in the
    bench frame (see data.py for the resize policy)."""
    s = load_set(root, size, "coco", limit, pad)
    return s.x, s.y
