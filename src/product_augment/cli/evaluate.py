"""`augment eval segmenter`: COCO mask/box AP, AP50, per-class AP and top-product mIoU."""
from __future__ import annotations

from pathlib import Path

import click

from ..models.yolact.spec import EDGE_REFINE, REFINE_EPS, RESCORE_POWER


@click.group()
def evaluate() -> None:
    """Evaluate the project's models."""


@evaluate.command()
@click.option("--weights", default=None, type=click.Path(exists=True, dir_okay=False),
              help="YOLACT .safetensors with its .json sidecar next to it (default: the shipped one).")
@click.option("--data", "data_dir", default=None, type=click.Path(exists=True, file_okay=False),
              help="COCO set dir with annotations.json and the images: COCO AP and top-product mIoU.")
@click.option("--photos", "photos_dir", default=None, type=click.Path(exists=True, file_okay=False),
              help="Real photos instead: DIR/images/<stem>.jpg|png and DIR/masks/<stem>.png (product > 127), "
                   "e.g. a set from `augment data shop`: top-product IoU, not-found count, class accuracy.")
@click.option("--masks-out", type=click.Path(file_okay=False), default=None,
              help="With --photos: write the predicted masks here (<stem>.png).")
@click.option("--agnostic/--no-agnostic", default=True, show_default=True,
              help="With --photos: class-agnostic candidates + product prior (the pipeline's) or per-class.")
@click.option("--score-threshold", default=0.3, show_default=True, help="With --photos: as the segment step's.")
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
def segmenter(weights: str | None, data_dir: str | None, photos_dir: str | None, masks_out: str | None,
              agnostic: bool, score_threshold: float, limit: int | None, skip: int, out_json: str | None,
              threads: int | None, edge_refine: float, refine_eps: float, rescore_power: float) -> None:
    """Evaluate a YOLACT segmenter on a COCO set dir (--data) or on real photos with masks (--photos)."""
    if (data_dir is None) == (photos_dir is None):
        raise click.UsageError("give --data (a COCO set) or --photos (images/ and masks/), one of the two")
    import torch

    from ..models.yolact.evaluate import evaluate_predictor, write_metrics
    from ..models.yolact.predict import Predictor

    if weights is None:
        from ..resources import asset_dir

        weights = str(asset_dir("weights") / "yolact_ws_effnetlite0.safetensors")
    if threads:
        torch.set_num_threads(threads)
    if photos_dir is not None:
        _photos(weights, photos_dir, masks_out, agnostic, score_threshold, edge_refine, rescore_power, out_json)
        return
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


def _photos(weights: str, photos_dir: str, masks_out: str | None, agnostic: bool, score_threshold: float,
            edge_refine: float, rescore_power: float, out_json: str | None) -> None:
    import json

    from ..classes import CLASS_NAMES
    from ..models.yolact.photos import evaluate_photos
    from ..models.yolact.predict import Predictor

    def name(c: int | None) -> str:
        return CLASS_NAMES[c - 1] if c and c <= len(CLASS_NAMES) else ("product" if c else "-")

    def show(r: dict) -> None:
        click.echo(f"{r['stem']}\t{r['iou']:.4f}\t{r['seconds']:.3f}s\t{name(r['true_class'])}\t{name(r['pred_class'])}")

    predictor = Predictor.from_weights(weights, agnostic=agnostic, refine_radius=edge_refine,
                                       rescore_power=rescore_power)
    result = evaluate_photos(predictor, photos_dir, score_threshold, masks_out, progress=show)
    s = {**result["summary"], "weights": weights, "agnostic": agnostic}
    result["summary"] = s
    click.echo(f"yolact n={s['n']} mean_IoU={s['mean_iou']:.4f} median_IoU={s['median_iou']:.4f} "
               f"ge0.9={s['ge0.9']:.3f} lt0.5={s['lt0.5']} not_found={s['not_found']} "
               f"class_acc={s['class_accuracy']} (n={s['class_n']}) median_s={s['median_s']:.3f}")
    if out_json:
        Path(out_json).parent.mkdir(parents=True, exist_ok=True)
        Path(out_json).write_text(json.dumps(result, indent=1))
