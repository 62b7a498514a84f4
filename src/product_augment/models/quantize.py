"""Int8 copies of the shipped ONNX models (ONNX Runtime static quantization, QDQ format).

``quantize(model, pool_dir)`` writes ``weights/<stem>.int8.onnx`` beside the float ``<stem>.onnx``
of one of the segment step's three models (`yolact`, `cut`, `classify`) and records in the shared
sidecar ``<stem>.json`` (section ``int8``) how it was made: the calibration photos, the settings,
the nodes kept in float and the SHA-256 of both files. Weights are int8 per output channel
(symmetric), activations uint8 (asymmetric), ranges from the min/max the float model reaches on the
calibration frames. Calibration uses photos of the training pool only (``data/real/pool``: images
and their teacher masks, the classifier's crops need the mask), never the val/test photos. Same
inputs, same file: no randomness anywhere.

The safetensors stay the source of truth: float ONNX from them (`augment export onnx`), int8 from
the float ONNX (`augment export int8`). Needs the ``train`` extra (the ``onnx`` package); running an
int8 file needs only ONNX Runtime.
"""
from __future__ import annotations

import json
import tempfile
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import cv2
import numpy as np

STEMS = {"yolact": "yolact_ws_effnetlite0", "cut": "cut_effnetlite0", "classify": "classify_effnetlite0"}
CALIBRATION_COUNT = 96  # photos of the pool, every k-th in name order


# the ops that get QDQ pairs: the convolutions and what sits between them, so ONNX Runtime fuses each
# conv with its ReLU6 and keeps int8 from one conv to the next (quantizing the convs alone left a
# Dequantize/Quantize pair around every activation: a third of the int8 model's time)
OP_TYPES = ("Conv", "Clip", "Relu", "Gemm", "Add", "Mul", "Concat", "Resize", "Transpose", "Reshape", "Sigmoid")


@dataclass(frozen=True)
class Recipe:
    """How one model is quantized (recorded in its sidecar)."""

    op_types: tuple[str, ...] = OP_TYPES
    exclude: tuple[str, ...] = ()  # node names kept in float
    method: str = "MinMax"  # MinMax | Entropy | Percentile
    per_channel: bool = True
    calibration_count: int = CALIBRATION_COUNT
    extra: dict[str, Any] = field(default_factory=dict)


def calibration_photos(pool_dir: str | Path, count: int = CALIBRATION_COUNT) -> list[tuple[Path, Path]]:
    """(image, mask) pairs of the pool: the labelled photos in name order, every k-th, ``count`` of them."""
    pool_dir = Path(pool_dir)
    masks = {p.stem: p for p in sorted((pool_dir / "masks").glob("*.png"))}
    pairs = [(p, masks[p.stem]) for p in sorted((pool_dir / "images").iterdir()) if p.stem in masks]
    if not pairs:
        raise FileNotFoundError(f"{pool_dir}: no photos with masks (images/, masks/) to calibrate on")
    step = max(1, len(pairs) // count)
    return pairs[::step][:count]


def _read(image: Path, mask: Path) -> tuple[np.ndarray, np.ndarray]:
    from ..io import read_image

    rgb = read_image(image)[0]
    m = cv2.imread(str(mask), cv2.IMREAD_GRAYSCALE)
    if m.shape != rgb.shape[:2]:
        m = cv2.resize(m, rgb.shape[1::-1], interpolation=cv2.INTER_NEAREST)
    return rgb, m > 127


def model_input(model: str, image: np.ndarray, mask: np.ndarray, size: int) -> np.ndarray:
    """The network input the segment step would give ``model`` for this photo (1×S×S×3 uint8)."""
    from ..io import shrunk
    from ..steps.segment.base import CLASSIFY_SIDE, DETECT_SIDE, WORK_SIDE

    if model == "yolact":
        from .yolact.data import Letterbox
        small = shrunk(image, DETECT_SIDE)
        return Letterbox.for_shape(*small.shape[:2], size).image(small)[None]
    if model == "cut":
        small = shrunk(image, WORK_SIDE)
        interp = cv2.INTER_AREA if max(small.shape[:2]) > size else cv2.INTER_LINEAR
        return cv2.resize(small, (size, size), interpolation=interp)[None]
    if model == "classify":
        from .classify.runtime import crop_on_grey
        small = shrunk(image, CLASSIFY_SIDE)
        m = cv2.resize(mask.view(np.uint8), small.shape[1::-1], interpolation=cv2.INTER_NEAREST).view(bool)
        return crop_on_grey(small, m, size)[None]
    raise ValueError(f"model {model!r}: one of {', '.join(STEMS)}")


class _Frames:
    """ONNX Runtime's CalibrationDataReader over the calibration photos (read lazily, in order)."""

    def __init__(self, model: str, photos: Sequence[tuple[Path, Path]], input_name: str, size: int):
        self.model, self.photos, self.input_name, self.size = model, list(photos), input_name, size
        self._it: Iterator[tuple[Path, Path]] = iter(self.photos)

    def get_next(self) -> dict[str, np.ndarray] | None:
        pair = next(self._it, None)
        if pair is None:
            return None
        return {self.input_name: model_input(self.model, *_read(*pair), self.size)}

    def rewind(self) -> None:
        self._it = iter(self.photos)


def quantize_file(model: str, src: Path, dst: Path, photos: Sequence[tuple[Path, Path]], recipe: Recipe) -> None:
    """The int8 copy of the float ONNX ``src`` at ``dst`` (pre-processed, then static QDQ)."""
    import onnx
    from onnxruntime.quantization import CalibrationMethod, QuantFormat, QuantType, quantize_static
    from onnxruntime.quantization.shape_inference import quant_pre_process

    from .ort import onnxruntime

    onnxruntime()  # telemetry off before the quantizer starts sessions
    graph = onnx.load(str(src)).graph
    inp = graph.input[0]
    size = int(inp.type.tensor_type.shape.dim[1].dim_value)
    with tempfile.TemporaryDirectory() as tmp:
        pre = Path(tmp) / "pre.onnx"
        quant_pre_process(str(src), str(pre), skip_symbolic_shape=False)
        quantize_static(
            str(pre), str(dst), _Frames(model, photos, inp.name, size), quant_format=QuantFormat.QDQ,
            op_types_to_quantize=list(recipe.op_types), per_channel=recipe.per_channel, reduce_range=False,
            activation_type=QuantType.QUInt8, weight_type=QuantType.QInt8,
            nodes_to_exclude=list(recipe.exclude) or None,
            calibrate_method=getattr(CalibrationMethod, recipe.method),
            extra_options=dict(recipe.extra))


def quantize(model: str, pool_dir: str | Path, weights_dir: str | Path | None = None,
             recipe: Recipe | None = None, out: str | Path | None = None,
             record: bool = True) -> dict[str, Any]:
    """Write ``<stem>.int8.onnx`` for ``model`` (yolact | cut | classify) and, with ``record``,
    its ``int8`` section in ``<stem>.json``; returns that section."""
    from ..io import file_sha256
    from ..resources import asset_dir
    from .ort import int8_beside

    if model not in STEMS:
        raise ValueError(f"model {model!r}: one of {', '.join(STEMS)}")
    recipe = recipe or RECIPES[model]
    wdir = Path(weights_dir) if weights_dir else asset_dir("weights")
    src = wdir / f"{STEMS[model]}.onnx"
    dst = Path(out) if out else int8_beside(src)
    photos = calibration_photos(pool_dir, recipe.calibration_count)
    quantize_file(model, src, dst, photos, recipe)
    info = {"file": dst.name, "bytes": dst.stat().st_size, "sha256": file_sha256(dst),
            "source": src.name, "source_sha256": file_sha256(src), "format": "QDQ",
            "weights": "int8 per channel, symmetric" if recipe.per_channel else "int8 per tensor, symmetric",
            "activations": "uint8 asymmetric", "recipe": asdict(recipe),
            "calibration": {"set": f"{_shown(pool_dir)} (the real-photo training pool)",
                            "photos": len(photos), "first": photos[0][0].name, "last": photos[-1][0].name}}
    if record:
        side = src.with_suffix(".json")
        meta = json.loads(side.read_text())
        meta["int8"] = {**info, **({"metrics": meta["int8"]["metrics"]}
                                   if "metrics" in meta.get("int8", {}) else {})}
        side.write_text(json.dumps(meta, indent=2))
    return info


def _shown(folder: str | Path) -> str:
    """``folder`` relative to the checkout when inside it (what the sidecar records)."""
    from ..resources import checkout_root

    root, p = checkout_root(), Path(folder).absolute()
    try:
        return p.relative_to(root).as_posix() if root else p.as_posix()
    except ValueError:
        return p.as_posix()


# what ships for each model (chosen on the real-photo validation half; docs/BENCHMARKS.md, session 8):
# the first conv stays float everywhere (it sees the normalised photo); the cut's 1-channel head
# (its logits) stays float; the classifier's 1000-way fc and the category → class table after the
# softmax stay float (the table sums probabilities: quantized, small classes would vanish)
RECIPES: dict[str, Recipe] = {
    "yolact": Recipe(exclude=("/model/backbone/_conv_stem/Conv",)),
    "cut": Recipe(exclude=("/net/_conv_stem/Conv", "/net/head/Conv")),
    "classify": Recipe(exclude=("/net/_conv_stem/Conv", "/net/fc/Gemm")),
}


def record_metrics(model: str, metrics: dict[str, Any], weights_dir: str | Path | None = None) -> None:
    """Add what the int8 copy scored (e.g. real val IoU, float vs int8) to its sidecar's ``int8`` section."""
    from ..resources import asset_dir

    side = (Path(weights_dir) if weights_dir else asset_dir("weights")) / f"{STEMS[model]}.json"
    meta = json.loads(side.read_text())
    if "int8" not in meta:
        raise ValueError(f"{side}: no int8 section; build the int8 model first (augment export int8)")
    meta["int8"]["metrics"] = metrics
    side.write_text(json.dumps(meta, indent=2))
