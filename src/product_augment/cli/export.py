"""`augment export`: a run folder as one dataset (coco, yolo), and the models as shipped files
(onnx: the ONNX files of the torch-free install; segmenter: a checkpoint as shipped weights)."""
from __future__ import annotations

from pathlib import Path

import click

from ..formats import ANNOTATION_FORMATS


@click.group("export")
def export() -> None:
    """Export a run's dataset (coco, yolo) or a model (onnx, segmenter)."""


def _dataset(fmt: str, out: str, run_dir: str) -> None:
    from ..export import ExportError, export_coco, export_yolo

    try:
        if fmt == "coco":
            r = export_coco(run_dir, out)
            click.echo(f"{r['images']} images, {r['annotations']} annotations → {out}")
        else:
            r = export_yolo(run_dir, out)
            click.echo(f"{r['train']} train, {r['val']} val images → {out}")
    except ExportError as e:
        raise click.ClickException(str(e)) from None


def _dataset_command(fmt: str, doc: str) -> None:
    @export.command(fmt, help=doc)
    @click.argument("out")
    @click.option("--run", "run_dir", required=True, help="The output folder (or URL) of `augment run`.")
    def command(out: str, run_dir: str) -> None:
        _dataset(fmt, out, run_dir)


_DOCS = {"coco": "A run folder's dataset as one COCO file at OUT (checked with pycocotools).",
         "yolo": "A run folder's dataset as a YOLO-seg folder at OUT, split train/val by source photo."}
for _fmt in ANNOTATION_FORMATS:
    _dataset_command(_fmt, _DOCS[_fmt])


def _weights(name: str) -> str:
    from ..resources import asset_dir

    return str(asset_dir("weights") / name)


def _repo_folder(*parts: str) -> Path:
    """A folder of the repository (examples/, tests/fixtures/): only in a checkout."""
    from ..resources import checkout_root

    root = checkout_root()
    if root is None:
        raise click.UsageError(f"{'/'.join(parts)} is in the repository, not in an installed package: "
                               f"name the photos (--photos) or use --no-check")
    return root.joinpath(*parts)


@export.command("onnx")
@click.option("--weights", default=None, type=click.Path(exists=True, dir_okay=False),
              help="Weights to export (default: the shipped segmenter, or with --cut the shipped cut model).")
@click.option("--out", default=None, help="ONNX file (default: <stem>.onnx beside the weights).")
@click.option("--opset", default=17, show_default=True)
@click.option("--sidecar/--no-sidecar", default=True, show_default=True,
              help="Record the export in the weights' JSON sidecar.")
@click.option("--check/--no-check", default=True, show_default=True,
              help="Compare ONNX Runtime with torch (the segmenter on tests/fixtures/yolact, the cut model on "
                   "--photos).")
@click.option("--export/--no-export", "do_export", default=True, show_default=True,
              help="--no-export: use the existing file.")
@click.option("--bench", default=0, show_default=True,
              help="Time torch vs ONNX (whole soft(), one thread) this many rounds over --photos.")
@click.option("--photos", type=click.Path(exists=True, file_okay=False), default=None,
              help="Photos (*.jpg) for --bench and the cut model's check (default: the repository's examples/).")
@click.option("--cut", is_flag=True, help="Export the cut model (CutNet) instead of the segmenter.")
def onnx(weights, out, opset, sidecar, check, do_export, bench, photos, cut):
    """Export the segmenter (or the cut model) to ONNX for the torch-free default install (needs
    `.[train]`). Re-run it whenever the safetensors change: the weights' JSON sidecar records the
    sha256 of the safetensors the ONNX file came from."""
    if cut:
        from ..models.cut.export import export_cut
        from ..models.yolact.onnx_check import cut_parity

        weights = weights or _weights("cut_effnetlite0.safetensors")
        info = export_cut(weights)
        click.echo(f"wrote {Path(weights).with_suffix('.onnx')} ({info['bytes'] / 1e6:.1f} MB, "
                   f"sha256 {info['sha256'][:12]})")
        for line in cut_parity(weights, photos or _repo_folder("examples")) if check else []:
            click.echo(line)
        return
    from ..models.yolact.onnx_check import latency, parity
    from ..models.yolact.onnx_export import export_onnx, onnx_path

    weights = weights or _weights("yolact_ws_effnetlite0.safetensors")
    target = Path(out) if out else onnx_path(weights)
    if do_export:
        info = export_onnx(weights, out, opset=opset, update_sidecar=sidecar)
        click.echo(f"wrote {target} ({info['bytes'] / 1e6:.1f} MB, opset {opset}, sha256 {info['sha256'][:12]})")
    if check:
        for line in parity(weights, target, _repo_folder("tests", "fixtures", "yolact")):
            click.echo(line)
    if bench:
        click.echo(latency(weights, target, photos or _repo_folder("examples"), bench))


@export.command("int8")
@click.option("--model", "models", multiple=True, type=click.Choice(["yolact", "cut", "classify"]),
              help="Which model (repeatable; default: all three).")
@click.option("--pool", default=None, type=click.Path(exists=True, file_okay=False),
              help="Calibration photos: the real-photo training pool (images/, masks/; default data/real/pool).")
@click.option("--weights-dir", default=None, type=click.Path(exists=True, file_okay=False),
              help="Folder of the float ONNX files and sidecars (default: the shipped weights/).")
def int8(models, pool, weights_dir):
    """The int8 copies of the segment step's ONNX models (<stem>.int8.onnx, static QDQ calibrated on the
    training pool; needs `.[train]`). Re-run after `augment export onnx`: a copy made from an older float
    file is not used (`precision: auto` runs the float file, `precision: int8` stops)."""
    from ..models.quantize import STEMS, quantize

    if pool is None:
        from ..resources import checkout_root

        root = checkout_root()
        pool = root / "data" / "real" / "pool" if root else None
        if pool is None or not pool.is_dir():
            raise click.UsageError("name the calibration photos with --pool (data/real/pool in a checkout)")
    for model in models or tuple(STEMS):
        info = quantize(model, pool, weights_dir)
        click.echo(f"wrote {info['file']} ({info['bytes'] / 1e6:.1f} MB, sha256 {info['sha256'][:12]}; "
                   f"calibrated on {info['calibration']['photos']} photos of {pool})")


@export.command("segmenter")
@click.option("--checkpoint", required=True, type=click.Path(exists=True, dir_okay=False))
@click.option("--out", default="weights/yolact_ws_effnetlite0.safetensors", show_default=True)
@click.option("--metrics", "metric_files", multiple=True, help="NAME=path/to/metrics.json (repeatable).")
@click.option("--half", is_flag=True, help="Store fp16 (inference upcasts to fp32).")
@click.option("--note", default="", help="Free-text training data description to add.")
def segmenter(checkpoint, out, metric_files, half, note):
    """A YOLACT training checkpoint as shipped weights (model only, no optimizer) and JSON sidecar;
    then `augment export onnx` for its ONNX file."""
    from ..models.yolact.ship import ship_checkpoint

    metrics = {}
    for spec in metric_files:
        name, sep, path = spec.partition("=")
        if not sep:
            raise click.BadParameter(f"{spec!r}: use NAME=path/to/metrics.json", param_hint="--metrics")
        metrics[name] = path
    path = ship_checkpoint(checkpoint, out, metrics, half=half, note=note)
    click.echo(f"wrote {path} ({path.stat().st_size / 1e6:.1f} MB) and {path.with_suffix('.json')}")
