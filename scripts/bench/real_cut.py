"""The segment step on real photographs, beside the peers: IoU, boundary scores, class, time.

    python scripts/bench/real_cut.py DATA_DIR [--stems test.txt] [--mask cut|yolact] [--cut-weights W]
                                     [--weights W] [--classifier-weights W] [--precision auto|int8|float32]
                                     [--peer NAME=PRED_DIR ...] [--out PRED_DIR] [--json F] [--sheet PNG]

DATA_DIR holds ``images/<stem>.png|jpg`` and ``masks/<stem>.png`` (the product > 127) and optionally
``classes.json`` ({stem: class name} for the photos of the 21 classes). The prediction is what the
pipeline keeps: the `yolact` segment step's first instance (its mask, and its class), built from a
preset dict exactly as `augment run` builds it, one thread. Peers are folders of masks made by other
tools on the same photos (e.g. ``shared/tools/peer_rembg.py --out``); their seconds come from their
own logs. ``--sheet`` draws the worst ten photos (ours vs the first peer vs the truth).
"""
from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path

import click
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from mask_metrics import scores, summary


def _read_rgb(path: Path) -> np.ndarray:
    import cv2
    return cv2.cvtColor(cv2.imread(str(path), cv2.IMREAD_COLOR), cv2.COLOR_BGR2RGB)


def build_step(mask: str, cut_weights: str | None, weights: str, classifier_weights: str | None = None,
               precision: str = "auto"):
    from product_augment.steps import segment
    cfg = {"backend": "yolact", "weights": weights, "mask": mask, "precision": precision}
    if cut_weights:
        cfg["cut_weights"] = cut_weights
    if classifier_weights:
        cfg["classifier_weights"] = classifier_weights
    config = segment.YolactConfig.model_validate(cfg, context={"base_dir": "."})
    return segment.build(config)


@click.command()
@click.argument("data_dir", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("--stems", "stems_file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--mask", type=click.Choice(["cut", "yolact"]), default="cut", show_default=True)
@click.option("--cut-weights", default=None, help="CutNet weights (default: the shipped ones).")
@click.option("--weights", default="weights/yolact_ws_effnetlite0.safetensors", show_default=True)
@click.option("--classifier-weights", default=None, help="Product classifier weights (default: the shipped ones).")
@click.option("--precision", type=click.Choice(["auto", "int8", "float32"]), default="auto", show_default=True,
              help="The segment step's `precision` (a named .onnx file runs as given).")
@click.option("--peer", "peers", multiple=True, help="NAME=PRED_DIR: another tool's masks on the same photos.")
@click.option("--out", "out_dir", type=click.Path(file_okay=False, path_type=Path))
@click.option("--json", "json_out", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--sheet", type=click.Path(dir_okay=False, path_type=Path),
              help="Contact sheet of the worst photos (needs --out): photo | ours | first peer | truth.")
@click.option("--sheet-count", default=10, show_default=True, help="How many photos the sheet shows, worst first.")
@click.option("--name", default="ours", show_default=True)
def main(data_dir, stems_file, mask, cut_weights, weights, classifier_weights, precision, peers, out_dir, json_out,
         sheet, sheet_count, name) -> None:
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    import cv2

    from product_augment.classes import class_name
    from product_augment.sample import Sample

    cv2.setNumThreads(1)
    step = build_step(mask, cut_weights, weights, classifier_weights, precision)
    stems = stems_file.read_text().split() if stems_file else sorted(p.stem for p in (data_dir / "masks").glob("*.png"))
    classes = json.loads((data_dir / "classes.json").read_text()) if (data_dir / "classes.json").exists() else {}
    peer_dirs = dict(p.split("=", 1) for p in peers)
    per: dict[str, dict[str, dict]] = {name: {}, **{n: {} for n in peer_dirs}}
    secs, cls_rows = [], []
    images = {p.stem: p for p in (data_dir / "images").iterdir()}
    for i, stem in enumerate(stems):
        image = _read_rgb(images[stem])
        gt = cv2.imread(str(data_dir / "masks" / f"{stem}.png"), cv2.IMREAD_GRAYSCALE) > 127
        if i == 0:  # load the models outside the timing
            step.apply(Sample(image=image), {})
        t0 = time.perf_counter()
        try:
            out = step.apply(Sample(image=image), {})
            pred = out.instances[0].mask
            pred_cls = class_name(out.instances[0].class_id)
        except Exception as e:  # noqa: BLE001 - a photo with no product counts as an empty mask
            print(f"{stem}: {e}", file=sys.stderr)
            pred, pred_cls = np.zeros_like(gt), None
        secs.append(time.perf_counter() - t0)
        per[name][stem] = {**scores(pred, gt), "seconds": secs[-1], "class": pred_cls}
        if stem in classes:
            cls_rows.append((classes[stem], pred_cls))
        if out_dir:
            out_dir.mkdir(parents=True, exist_ok=True)
            cv2.imwrite(str(out_dir / f"{stem}.png"), pred.astype(np.uint8) * 255)
        for n, d in peer_dirs.items():
            pm = cv2.imread(str(Path(d) / f"{stem}.png"), cv2.IMREAD_GRAYSCALE)
            pm = np.zeros(gt.shape, np.uint8) if pm is None else pm
            per[n][stem] = scores(pm > 127, gt)
    summ = {n: summary(list(r.values())) for n, r in per.items()}
    summ[name]["median_seconds"] = float(np.median(secs))
    summ[name]["mean_seconds"] = float(np.mean(secs))
    summ[name]["models"] = step.models_meta()  # which files ran (float or int8)
    if cls_rows:
        summ[name]["class_accuracy"] = float(np.mean([t == p for t, p in cls_rows]))
        summ[name]["class_n"] = len(cls_rows)
        conf: dict[str, dict[str, int]] = {}
        for t, p in cls_rows:
            conf.setdefault(t, {}).setdefault(str(p), 0)
            conf[t][str(p)] += 1
        summ[name]["confusion"] = conf
    print("stem\t" + "\t".join(per))
    for stem in stems:
        print(stem + "\t" + "\t".join(f"{per[n][stem]['iou']:.4f}" for n in per))
    print("method\tn\tmean IoU\tmedian\tmin\t<0.8\tboundary IoU\tboundary F\tmissed\textra")
    for n, s in summ.items():
        print(f"{n}\t{s['n']}\t{s['mean_iou']:.4f}\t{s['median_iou']:.4f}\t{s['min_iou']:.4f}\t{s['below_0.8']}\t"
              f"{s['boundary_iou']:.4f}\t{s['boundary_f']:.4f}\t{s['missed']:.4f}\t{s['extra']:.4f}")
    print(f"{name}: {summ[name]['models']}")
    print(f"{name}: median {summ[name]['median_seconds']:.3f} s/photo (segment step, one thread)"
          + (f"; class accuracy {summ[name]['class_accuracy']:.3f} on {len(cls_rows)}" if cls_rows else ""))
    if json_out:
        json_out.parent.mkdir(parents=True, exist_ok=True)
        json_out.write_text(json.dumps({"summary": summ, "images": per}, indent=1))
    if sheet:
        _sheet(sheet, data_dir, images, per, name, next(iter(peer_dirs.items()), None), out_dir, sheet_count)


def _sheet(path: Path, data_dir: Path, images: dict, per: dict, name: str, peer, out_dir, count: int) -> None:
    """The worst photos for us: photo | ours | peer | truth, each mask over a grey backdrop."""
    import cv2
    worst = sorted(per[name], key=lambda s: per[name][s]["iou"])[:count]
    t = 220
    rows = []
    for stem in worst:
        im = cv2.imread(str(images[stem]))
        h, w = im.shape[:2]
        s = t / max(h, w)
        small = cv2.resize(im, (round(w * s), round(h * s)), interpolation=cv2.INTER_AREA)
        tiles = [small]
        srcs = [(out_dir, name), (Path(peer[1]) if peer else None, peer[0] if peer else ""), (data_dir / "masks", "truth")]
        for d, label in srcs:
            m = cv2.imread(str(d / f"{stem}.png"), cv2.IMREAD_GRAYSCALE) if d else None
            m = np.zeros((h, w), np.uint8) if m is None else m
            m = cv2.resize(m, small.shape[1::-1], interpolation=cv2.INTER_NEAREST)[..., None] > 127
            tile = np.where(m, small, np.uint8(150)).astype(np.uint8)
            if label != "truth" and label in per:
                cv2.putText(tile, f"{label} {per[label][stem]['iou']:.3f}", (3, 14), cv2.FONT_HERSHEY_SIMPLEX,
                            0.4, (0, 0, 255), 1)
            tiles.append(tile)
        row = np.concatenate([np.pad(x, ((0, t - x.shape[0]), (0, t - x.shape[1]), (0, 0)), constant_values=255)
                              for x in tiles], 1)
        cv2.putText(row, stem, (3, t - 5), cv2.FONT_HERSHEY_SIMPLEX, 0.4, (0, 0, 0), 1)
        rows.append(row)
    path.parent.mkdir(parents=True, exist_ok=True)
    cv2.imwrite(str(path), np.concatenate(rows, 0))


if __name__ == "__main__":
    sys.exit(main())
