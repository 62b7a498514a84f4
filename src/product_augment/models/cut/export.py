"""Export CutNet to ONNX (uint8 1×S×S×3 RGB → 1×1×S/2×S/2 logits); weight standardization folded."""
from __future__ import annotations

import json
import os
import warnings
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import torch

from ...io import file_sha256
from ..yolact.onnx_export import OPSET, NHWCImage, fold_weight_standardization, write_onnx
from .model import CutConfig, CutNet

FORMAT = "product_augment.cut.onnx/1"


def load_cut(weights: str | Path) -> tuple[CutNet, dict[str, Any]]:
    """CutNet from ``<stem>.safetensors`` + ``<stem>.json`` (no pickle)."""
    from safetensors.torch import load_file

    weights = Path(weights)
    meta = json.loads(weights.with_suffix(".json").read_text())
    net = CutNet(CutConfig.from_dict(meta["config"]))
    state = load_file(str(weights))
    net.load_state_dict({k[6:]: v for k, v in state.items() if k.startswith("model.")})
    return net.eval(), meta


def export_cut(weights: str | Path, out: str | Path | None = None) -> dict[str, Any]:
    """Write ``<stem>.onnx`` beside the weights and record it in their sidecar's ``onnx`` section."""
    weights = Path(weights)
    out = weights.with_suffix(".onnx") if out is None else Path(out)
    net, meta = load_cut(weights)
    size = net.cfg.input_size
    def export(tmp: Path) -> None:
        with torch.no_grad(), warnings.catch_warnings():
            warnings.simplefilter("ignore", torch.jit.TracerWarning)
            warnings.simplefilter("ignore", DeprecationWarning)
            torch.onnx.export(NHWCImage(fold_weight_standardization(net)).eval(),
                              (torch.zeros(1, size, size, 3, dtype=torch.uint8),), str(tmp),
                              input_names=["image"], output_names=["logits"], opset_version=OPSET, dynamo=False,
                              do_constant_folding=True)
    written = write_onnx(out, export)
    info = {"format": FORMAT, "file": out.name,
            "input": {"name": "image", "shape": [1, size, size, 3], "dtype": "uint8",
                      "layout": "NHWC RGB, the photo resized to S×S"},
            "outputs": {"logits": f"1×1×{size // 2}×{size // 2} product logits"},
            "opset": OPSET, "source": weights.name, "source_sha256": file_sha256(weights),
            "sha256": written["sha256"], "bytes": written["bytes"], "torch": torch.__version__,
            "exported": datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")}
    meta["onnx"] = info
    side = weights.with_suffix(".json")
    tmp_side = side.with_name(side.name + ".tmp")
    tmp_side.write_text(json.dumps(meta, indent=2))
    os.replace(tmp_side, side)
    return info


def publish(checkpoint: str | Path, out: str | Path, extra: dict[str, Any] | None = None) -> Path:
    """The model tensors of a training checkpoint (no optimizer) and its sidecar (plus ``extra``:
    post-processing, metrics, training data) as shipped weights, then their ONNX file beside them."""
    from ..checkpoint import publish_weights

    checkpoint = Path(checkpoint)
    meta = json.loads(checkpoint.with_suffix(".json").read_text())
    meta.setdefault("format", "product_augment.cut/1")
    out = publish_weights(checkpoint, out, meta, extra)
    export_cut(out)
    return out


def main() -> None:
    import click

    @click.command()
    @click.option("--checkpoint", required=True, type=click.Path(exists=True, dir_okay=False))
    @click.option("--out", default="weights/cut_effnetlite0.safetensors", show_default=True)
    @click.option("--extra", "extra_json", type=click.Path(exists=True, dir_okay=False),
                  help="JSON object merged into the sidecar (postprocess, metrics, training data).")
    def cli(checkpoint: str, out: str, extra_json: str | None) -> None:
        from ..checkpoint import read_extra
        try:
            extra = read_extra(extra_json) if extra_json else None
        except (ValueError, TypeError) as e:
            raise click.ClickException(f"--extra {e}") from e
        path = publish(checkpoint, out, extra)
        click.echo(f"wrote {path}, {path.with_suffix('.json')}, {path.with_suffix('.onnx')}")

    cli()


if __name__ == "__main__":
    main()
