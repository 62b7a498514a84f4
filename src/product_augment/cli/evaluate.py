"""`augment eval segmenter`: COCO mask/box AP, AP50, per-class AP and top-product mIoU."""
from __future__ import annotations

from pathlib import Path

import click

from ..models.yolact.spec import EDGE_REFINE, REFINE_EPS, RESCORE_POWER


@click.group()
def evaluate() -> None:
    """Evaluate the project's models."""


@evaluate.command()
@click.option("--weights", required=True, type=click.Path(exists=True, dir_okay=False),
              help="YOLACT .safetensors with its .json sidecar next to it.")
@click.option("--data", "data_dir", required=True, type=click.Path(exists=True, file_okay=False),
              help="COCO set dir with annotations.json and the images.")
@click.option("--limit", type=int, default=None, help="Evaluate only the first N annotated images.")
@click.option("--skip", type=int, default=0, help="Skip the first N annotated images (e.g. ones used for model selection).")
@click.option("--out", "out_json", type=click.Path(dir_okay=False), default=None,
              help="Metrics JSON (default: <weights stem>.eval.<set name>.json next to the weights).")
@click.option("--threads", type=int, default=None, help="torch CPU threads.")
@click.option("--edge-refine", type=click.FloatRange(0, 0.1), default=EDGE_REFINE, show_default=True,
              help="Guided-filter edge refinement window as a fraction of the longer image side (0: off).")
@click.option("--refine-eps", type=click.FloatRange(min=0, min_open=True), default=REFINE_EPS, show_default=True,
              help="Guided-filter regularisation (guide intensities in [0, 1]).")
@click.option("--rescore-power", type=click.FloatRange(min=0), default=RESCORE_POWER, show_default=True,
              help="Top product = best score × mask quality ** this (0: best score); AP is unaffected.")
def segmenter(weights: str, data_dir: str, limit: int | None, skip: int, out_json: str | None,
              threads: int | None, edge_refine: float, refine_eps: float, rescore_power: float) -> None:
    """Evaluate a YOLACT segmenter on a COCO set dir."""
    import torch

    from ..models.yolact.evaluate import evaluate_predictor, write_metrics
    from ..models.yolact.predict import Predictor

    if threads:
        torch.set_num_threads(threads)
    predictor = Predictor.from_weights(weights, refine_radius=edge_refine, refine_eps=refine_eps,
                                       rescore_power=rescore_power)
    metrics = evaluate_predictor(predictor, data_dir, limit=limit, skip=skip, progress=True)
    metrics["skip"] = skip
    metrics["edge_refine"] = edge_refine
    metrics["refine_eps"] = refine_eps
    metrics["rescore_power"] = rescore_power
    metrics["weights"] = weights
    metrics["data"] = data_dir
    name = "_".join(Path(data_dir).resolve().parts[-2:])
    out = Path(out_json) if out_json else Path(weights).with_suffix(f".eval.{name}.json")
    write_metrics(metrics, out)
    click.echo(f"images            {metrics['images']}")
    for key in ("mask_ap", "mask_ap50", "mask_ap75", "box_ap", "box_ap50", "class_agnostic_mask_ap",
                "class_agnostic_mask_ap50", "top_product_mean_iou"):
        if key in metrics:
            click.echo(f"{key:<26}{metrics[key]:.4f}")
    for cls, ap in metrics.get("per_class_mask_ap", {}).items():
        click.echo(f"  AP[{cls}]{'':<{14 - len(cls)}}{ap:.4f}")
    click.echo(f"metrics written to {out}")


@evaluate.command()
@click.option("--weights", default="weights/shadow_net.onnx", show_default=True,
              type=click.Path(exists=True, dir_okay=False), help="ShadowNet .onnx (ONNX Runtime) or .safetensors (torch).")
@click.option("--data", "data_dir", default="data/shadow_pairs", show_default=True,
              type=click.Path(exists=True, file_okay=False), help="`augment data shadow-pairs` output.")
@click.option("--split", type=click.Choice(["train", "val", "test"]), default="test", show_default=True)
@click.option("--limit", type=int, default=None, help="Only the first N pairs of the split.")
@click.option("--out", "out_json", type=click.Path(dir_okay=False), default=None,
              help="Metrics JSON (default: <weights stem>.eval.<split>.json).")
def shadow(weights: str, data_dir: str, split: str, limit: int | None, out_json: str | None) -> None:
    """Learned shadow vs the geometric drop shadow on held-out objects: RMSE, RMSE in the shadow, BER."""
    import json

    from ..io import write_atomic
    from ..models.shadow.evaluate import evaluate as run_eval

    metrics = run_eval(weights, data_dir, split, limit)
    out = Path(out_json) if out_json else Path(weights).with_suffix(f".eval.{split}.json")
    write_atomic(out, json.dumps(metrics, indent=1).encode())
    click.echo(f"{metrics['pairs']} pairs of {metrics['objects']} held-out objects ({split})")
    click.echo(f"{'':<12}{'RMSE':>9}{'RMSE shadow':>13}{'BER %':>9}")
    for name in ("realistic", "drop"):
        m = metrics[name]
        click.echo(f"{name:<12}{m['rmse']:>9.4f}{m['rmse_shadow']:>13.4f}{m['ber']:>9.2f}")
    g = metrics["gain_percent"]
    click.echo(f"{'gain %':<12}{g['rmse']:>9.1f}{g['rmse_shadow']:>13.1f}{g['ber']:>9.1f}")
    click.echo(f"metrics written to {out}")


if __name__ == "__main__":
    evaluate()
