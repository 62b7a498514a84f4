"""Segment the product: alpha matte + instances.

Backends: `yolact` (the project's trained model), `alpha` (RGBA input), `masks` (provided mask
folder or COCO JSON) and `classical` (packshots on plain backgrounds).
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

from ...folders import CocoMasks, MaskFolder
from .base import (
    CLASSIFY_SIDE,
    DETECT_SIDE,
    SHIPPED_CLASSIFIER,
    SHIPPED_CUT,
    WORK_SIDE,
    AlphaConfig,
    AlphaSegment,
    ClassicalConfig,
    ClassicalSegment,
    Config,
    MasksConfig,
    MasksSegment,
    YolactConfig,
    _fit,
    _from_alpha,
    _Segment,
)
from .yolact import YolactSegment, classifier_weights, cut_weights

__all__ = ["CLASSIFY_SIDE", "DETECT_SIDE", "SHIPPED_CLASSIFIER", "SHIPPED_CUT", "WORK_SIDE", "AlphaConfig",
           "AlphaSegment", "ClassicalConfig", "ClassicalSegment", "Config", "MasksConfig", "MasksSegment",
           "YolactConfig", "YolactSegment", "_Segment", "_fit", "_from_alpha", "build", "classifier_weights",
           "cut_weights", "step_class"]


BACKENDS: dict[type, type[_Segment]] = {
    AlphaConfig: AlphaSegment, ClassicalConfig: ClassicalSegment, MasksConfig: MasksSegment,
    YolactConfig: YolactSegment}


def step_class(config: Any) -> type[_Segment]:
    """The step class of a validated config (its requires/provides/uses, without building it)."""
    return BACKENDS[type(config)]


def build(config: Any, ctx: Any = None) -> _Segment:
    """The segment step; a mask folder is indexed and a COCO file parsed here, once."""
    if isinstance(config, MasksConfig):
        path = Path(config.path)
        return MasksSegment(config, MaskFolder(path) if path.is_dir() else CocoMasks(path))
    if isinstance(config, YolactConfig) and config.mask == "cut":
        onnx_file = cut_weights(config).with_suffix(".onnx")
        if not onnx_file.exists():
            raise FileNotFoundError(f"{onnx_file}: the cut model is missing (segment `cut_weights`); "
                                    f"name one, or draw the mask with YOLACT alone (`mask: yolact`)")
    if isinstance(config, YolactConfig) and config.precision == "int8" and config.device == "cpu":
        _check_int8(config)
    return step_class(config)(config)


def _check_int8(config: YolactConfig) -> None:
    """`precision: int8`: every model the step runs has a current int8 copy (before any work)."""
    from ...models.ort import onnx_beside

    models = [(Path(config.weights), "the segmenter's")]
    if config.mask == "cut":
        models.append((cut_weights(config), "the cut model's"))
    if config.class_from == "classifier":
        models.append((classifier_weights(config), "the product classifier's"))
    for weights, what in models:
        if weights.suffix != ".onnx":  # a named .onnx file runs as given
            onnx_beside(weights, what, "int8")
