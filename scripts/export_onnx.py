"""Export the shipped YOLACT weights to ONNX for the torch-free default install (needs `.[train]`).

    python scripts/export_onnx.py                       # weights/yolact_ws_effnetlite0.safetensors → .onnx
    python scripts/export_onnx.py --weights runs/x/best.safetensors --out /tmp/x.onnx --no-sidecar
    python scripts/export_onnx.py --no-export --no-check --bench 5   # ONNX vs torch latency, one thread
    python scripts/export_onnx.py --cut                 # weights/cut_effnetlite0.safetensors → .onnx (+ parity)

Writes ``<stem>.onnx`` beside the weights and records in their JSON sidecar (section ``onnx``) what
the file is, its opset, how it was made and the sha256 of the safetensors it came from; then checks
ONNX Runtime against torch on the segmenter fixtures (same top pick, top-mask IoU, score gap).
Re-run it whenever the safetensors change (export_yolact.py rewrites the sidecar).
"""
from __future__ import annotations

import json
from pathlib import Path

import click

ROOT = Path(__file__).resolve().parents[1]


@click.command()
@click.option("--weights", default=str(ROOT / "weights" / "yolact_ws_effnetlite0.safetensors"), show_default=True,
              type=click.Path(exists=True, dir_okay=False))
@click.option("--out", default=None, help="ONNX file (default: <stem>.onnx beside the weights).")
@click.option("--opset", default=17, show_default=True)
@click.option("--sidecar/--no-sidecar", default=True, show_default=True,
              help="Record the export in the weights' JSON sidecar.")
@click.option("--check/--no-check", default=True, show_default=True,
              help="Compare ONNX Runtime with torch on tests/fixtures/yolact.")
@click.option("--export/--no-export", default=True, show_default=True, help="--no-export: use the existing file.")
@click.option("--bench", default=0, show_default=True,
              help="Time torch vs ONNX (whole soft(), one thread) this many rounds over examples/.")
@click.option("--cut", is_flag=True, help="Export the cut model (CutNet) instead: weights/cut_effnetlite0.safetensors "
                                          "unless --weights names another; checks its logits against torch.")
def main(weights: str, out: str | None, opset: int, sidecar: bool, check: bool, export: bool, bench: int,
         cut: bool) -> None:
    if cut:
        return export_cut_model(weights if "yolact" not in Path(weights).name else
                                str(ROOT / "weights" / "cut_effnetlite0.safetensors"), check)
    from product_augment.models.yolact.onnx_export import export_onnx, onnx_path

    target = Path(out) if out else onnx_path(weights)
    if export:
        info = export_onnx(weights, out, opset=opset, update_sidecar=sidecar)
        click.echo(f"wrote {target} ({info['bytes'] / 1e6:.1f} MB, opset {opset}, sha256 {info['sha256'][:12]})")
    if check:
        for line in parity(weights, target):
            click.echo(line)
    if bench:
        click.echo(latency(weights, target, bench))


def export_cut_model(weights: str, check: bool) -> None:
    """CutNet → ONNX beside its weights; the largest logit difference vs torch on examples/."""
    import cv2
    import numpy as np
    import torch

    from product_augment.models.cut.export import export_cut, load_cut
    from product_augment.models.cut.runtime import CutPredictor

    info = export_cut(weights)
    click.echo(f"wrote {Path(weights).with_suffix('.onnx')} ({info['bytes'] / 1e6:.1f} MB, sha256 {info['sha256'][:12]})")
    if not check:
        return
    net, _ = load_cut(weights)
    onx = CutPredictor.from_weights(weights)
    for p in sorted((ROOT / "examples").glob("*.jpg"))[:4]:
        image = cv2.cvtColor(cv2.imread(str(p)), cv2.COLOR_BGR2RGB)
        frame = onx.frame(image)
        with torch.no_grad():
            ref = net(torch.from_numpy(frame).permute(2, 0, 1)[None].float())[0, 0].numpy()
        click.echo(f"{p.name}: max |Δlogit| torch vs onnx {float(np.abs(ref - onx.logits(image)).max()):.1e}")


def latency(weights: str | Path, onnx_file: str | Path, rounds: int) -> str:
    """Median seconds per image of `soft()` (network + post-processing), torch and ONNX interleaved."""
    import time

    import cv2
    import numpy as np
    import torch

    from product_augment.models.yolact.checkpoint import read_sidecar
    from product_augment.models.yolact.onnx_predict import OnnxPredictor
    from product_augment.models.yolact.predict import Predictor

    torch.set_num_threads(1)
    cv2.setNumThreads(1)
    ref = Predictor.from_weights(weights, refiner=False)
    onx = OnnxPredictor(onnx_file, read_sidecar(weights))
    images = [cv2.cvtColor(cv2.imread(str(p)), cv2.COLOR_BGR2RGB) for p in sorted((ROOT / "examples").glob("*.jpg"))]
    times: dict[str, list[float]] = {"torch": [], "onnx": []}
    for _ in range(rounds + 1):  # the first round warms up and is dropped
        for image in images:
            for name, pred in (("torch", ref), ("onnx", onx)):
                t0 = time.perf_counter()
                pred.soft(image)
                times[name].append(time.perf_counter() - t0)
    t, o = (float(np.median(times[k][len(images):])) for k in ("torch", "onnx"))
    return (f"{len(images)} images × {rounds} rounds, median s/image: torch {t:.3f}, onnx {o:.3f} "
            f"({t / o:.2f}× faster)")


def parity(weights: str | Path, onnx_file: str | Path) -> list[str]:
    import cv2
    import numpy as np
    import torch

    from product_augment.models.yolact.checkpoint import read_sidecar
    from product_augment.models.yolact.onnx_predict import OnnxPredictor
    from product_augment.models.yolact.predict import Predictor

    torch.set_num_threads(1)
    fixtures = ROOT / "tests" / "fixtures" / "yolact"
    ref = Predictor.from_weights(weights, refiner=False)
    onx = OnnxPredictor(onnx_file, read_sidecar(weights))
    lines = []
    for item in json.loads((fixtures / "fixtures.json").read_text()):
        image = cv2.cvtColor(cv2.imread(str(fixtures / item["image"])), cv2.COLOR_BGR2RGB)
        a, b = ref.soft(image), onx.soft(image)
        if not len(a.scores) or not len(b.scores):
            lines.append(f"{item['image']}: torch {len(a.scores)} / onnx {len(b.scores)} detections")
            continue
        ma, mb = a.masks[0] >= 0.5, b.masks[0] >= 0.5
        iou = (ma & mb).sum() / max((ma | mb).sum(), 1)
        lines.append(f"{item['image']}: top class {a.classes[0]}/{b.classes[0]}, top-mask IoU {iou:.5f}, "
                     f"score gap {abs(float(a.scores[0]) - float(b.scores[0])):.1e}, "
                     f"max |Δmask| {float(np.abs(a.masks[0] - b.masks[0]).max()):.1e}")
    return lines


if __name__ == "__main__":
    main()
