"""The frozen architecture config that goes into every YOLACT module constructor."""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any, Literal

# Inference post-processing defaults, shared by Predictor, the `yolact` segment backend and the CLI.
EDGE_REFINE = 0.02  # guided-filter window as a fraction of the image's longer side (0: off)
REFINE_EPS = 1e-3  # guided-filter regularisation, guide intensities in [0, 1]
RESCORE_POWER = 2.0  # detections ordered by score × mask quality ** this (0: by score)
# Picking the product (the first detection): candidates from class-agnostic detection (objectness
# 1 − P(background), so a product of a class the model does not know is still found), ranked by
# objectness × quality ** RESCORE_POWER × a product-photo prior (see predict.product_prior).
AGNOSTIC = True
PICK_CENTRE = 2.0  # weight of the squared distance of the mask's centroid from the image centre
PICK_BORDER = 0.5  # penalty per image border the mask's box touches beyond the first
PICK_MIN_AREA = 0.002  # masks smaller than this fraction of the image are ranked last
REFINE_TOP = 3  # the learned mask refiner (when shipped) re-draws this many first masks

ConvType = Literal["ws", "plain"]
NormType = Literal["gn", "bn", "none"]


@dataclass(frozen=True)
class YolactConfig:
    """Architecture of the segmenter; stored in the checkpoint sidecar and rebuilt from it.

    Anchor sizes are fractions of `input_size`, one per pyramid level P3..P7, so the same config
    scales to another input size. `conv`/`norm` switch FPN, protonet and head between weight
    standardization + GroupNorm and plain conv (+BatchNorm); the pretrained backbone keeps its own
    (frozen) BatchNorm either way.
    """

    input_size: int = 320
    num_classes: int = 21  # foreground classes, ids 1..num_classes; 0 is background
    num_prototypes: int = 16
    fpn_channels: int = 64
    proto_channels: int = 64
    head_channels: int = 64
    anchor_fracs: tuple[float, ...] = (0.075, 0.15, 0.3, 0.6, 0.95)  # P3..P7
    aspect_ratios: tuple[float, ...] = (1.0, 0.5, 2.0)
    conv: ConvType = "ws"
    norm: NormType = "gn"
    gn_groups: int = 8
    backbone: str = "efficientnet_lite0"
    frozen_backbone_blocks: int = 3  # stem + this many MBConv blocks get no gradient
    box_variances: tuple[float, float] = (0.1, 0.2)

    @property
    def num_anchors_per_cell(self) -> int:
        return len(self.aspect_ratios)

    @property
    def strides(self) -> tuple[int, ...]:
        return (8, 16, 32, 64, 128)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @staticmethod
    def from_dict(d: dict[str, Any]) -> YolactConfig:
        names = {f.name for f in dataclasses.fields(YolactConfig)}
        unknown = set(d) - names
        if unknown:
            raise ValueError(f"unknown YolactConfig fields: {sorted(unknown)}")
        kw = {k: tuple(v) if isinstance(v, list) else v for k, v in d.items()}
        return YolactConfig(**kw)
