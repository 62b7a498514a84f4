"""Where does the segmenter lose AP? Two diagnostics for docs/BENCHMARKS.md.

``confusion``: for every ground-truth instance of a set, the class of the highest-scoring detection
whose mask overlaps it with IoU ≥ 0.5 ("miss" when none does), tallied per class and per source
object (the splits are disjoint by source object, so a test class is often one or two objects).

``probe``: how well can *any* linear classifier separate the classes from backbone features? Pools
the backbone's two deepest feature maps under each ground-truth mask, fits a multinomial logistic
regression on the train set and reports per-instance accuracy on the test set, once with the
shipped (fine-tuned) backbone and once with the original ImageNet backbone.

    python scripts/diagnostics/diagnose_yolact.py confusion --weights weights/yolact_ws_effnetlite0.safetensors \\
        --data data/sets/wild/test
    python scripts/diagnostics/diagnose_yolact.py probe --weights weights/yolact_ws_effnetlite0.safetensors \\
        --train data/sets/wild/train --test data/sets/wild/test
"""
from __future__ import annotations

import collections
import json
from pathlib import Path

import click
import numpy as np


@click.group()
def cli() -> None:
    pass


@cli.command()
@click.option("--weights", required=True)
@click.option("--data", "data_dir", required=True, type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("--threads", default=2, show_default=True)
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), default=None, help="Write JSON here.")
def confusion(weights: str, data_dir: Path, threads: int, out: Path | None) -> None:
    import contextlib
    import io

    import torch
    from pycocotools.coco import COCO

    from product_augment.classes import CLASS_NAMES
    from product_augment.io import read_image
    from product_augment.models.yolact.data import category_mapping, resolve_image_path
    from product_augment.models.yolact.predict import Predictor

    torch.set_num_threads(threads)
    pred = Predictor.from_weights(weights)
    with contextlib.redirect_stdout(io.StringIO()):
        gt = COCO(str(data_dir / "annotations.json"))
    to_product = category_mapping(gt.loadCats(gt.getCatIds()))
    by_class: dict[str, collections.Counter] = collections.defaultdict(collections.Counter)
    by_source: dict[str, collections.Counter] = collections.defaultdict(collections.Counter)
    for img_id in sorted(gt.getImgIds()):
        image = read_image(resolve_image_path(data_dir, gt.loadImgs(img_id)[0]["file_name"]))[0]
        soft = pred.soft(image, score_threshold=0.05, top_k=20)
        masks = soft.masks >= 0.5
        for ann in gt.loadAnns(gt.getAnnIds(imgIds=img_id, iscrowd=False)):
            g = gt.annToMask(ann).astype(bool)
            truth = CLASS_NAMES[to_product[ann["category_id"]] - 1]
            got, best_score = "miss", 0.0
            for m, c, s in zip(masks, soft.classes, soft.scores):
                iou = (m & g).sum() / max((m | g).sum(), 1)
                if iou >= 0.5 and s > best_score:
                    got, best_score = CLASS_NAMES[int(c) - 1], float(s)
            by_class[truth][got] += 1
            by_source[f"{truth} | {ann.get('source_id', '?')}"][got] += 1
    total = sum(sum(c.values()) for c in by_class.values())
    correct = sum(c[name] for name, c in by_class.items())
    missed = sum(c["miss"] for c in by_class.values())
    click.echo(f"instances {total}: right class {correct / total:.3f}, found (any class) "
               f"{(total - missed) / total:.3f}, right class among found {correct / max(total - missed, 1):.3f}")
    for name in sorted(by_class):
        c = by_class[name]
        n = sum(c.values())
        click.echo(f"  {name:11s} n={n:4d} right {c[name] / n:.2f}  {c.most_common(4)}")
    click.echo("per source object:")
    for key in sorted(by_source):
        click.echo(f"  {key[:70]:70s} {by_source[key].most_common(3)}")
    if out:
        out.write_text(json.dumps({"by_class": by_class, "by_source": by_source}, indent=1))


def _pooled_features(backbone, model, data_dir: str) -> tuple[np.ndarray, np.ndarray]:
    import torch
    import torch.nn.functional as F

    from product_augment.models.yolact.data import CocoSegDataset

    ds = CocoSegDataset(data_dir, model.cfg.input_size, augment=False)
    xs, ys = [], []
    with torch.no_grad():
        for i in range(len(ds)):
            img, target = ds[i]
            if target.labels.numel() == 0:
                continue
            feats = backbone((img[None].float() - model.input_mean) / model.input_std)
            m = target.masks.float()[:, None]
            pooled = []
            for f in feats[-2:]:
                w = F.interpolate(m, size=f.shape[-2:], mode="area")
                w = w / w.sum((2, 3), keepdim=True).clamp_min(1e-6)
                pooled.append(torch.einsum("dohw,chw->dc", w, f[0]))
            xs.append(torch.cat(pooled, 1).numpy())
            ys.append(target.labels.numpy())
    return np.concatenate(xs), np.concatenate(ys)


def _fit_probe(x: np.ndarray, y: np.ndarray, xt: np.ndarray, yt: np.ndarray, l2: float) -> float:
    import torch

    torch.manual_seed(0)
    x, y, xt, yt = map(torch.from_numpy, (x, y, xt, yt))
    mu, sd = x.mean(0), x.std(0) + 1e-5
    x, xt = (x - mu) / sd, (xt - mu) / sd
    lin = torch.nn.Linear(x.shape[1], int(max(y.max(), yt.max())) + 1)
    opt = torch.optim.AdamW(lin.parameters(), lr=3e-3, weight_decay=0.0)
    for _ in range(300):
        loss = torch.nn.functional.cross_entropy(lin(x), y) + l2 * lin.weight.pow(2).sum()
        opt.zero_grad()
        loss.backward()
        opt.step()
    with torch.no_grad():
        return float((lin(xt).argmax(1) == yt).float().mean())


@cli.command()
@click.option("--weights", required=True)
@click.option("--imagenet", default="runs/cache/efficientnet_lite0_imagenet.safetensors", show_default=True)
@click.option("--train", "train_dir", required=True)
@click.option("--test", "test_dir", required=True)
@click.option("--threads", default=2, show_default=True)
def probe(weights: str, imagenet: str, train_dir: str, test_dir: str, threads: int) -> None:
    import torch

    from product_augment.models.yolact.backbone import (
        EfficientNetLite0,
        convert_pretrained_lite0,
        load_pretrained,
    )
    from product_augment.models.yolact.checkpoint import load_model

    torch.set_num_threads(threads)
    model, _meta, _ = load_model(weights)
    model.eval()
    backbones = {"shipped (fine-tuned)": model.backbone}
    if Path(imagenet).exists():
        base = EfficientNetLite0(model.cfg.frozen_backbone_blocks)
        load_pretrained(base, convert_pretrained_lite0(Path(imagenet)))
        backbones["ImageNet"] = base.eval()
    for name, backbone in backbones.items():
        x, y = _pooled_features(backbone, model, train_dir)
        xt, yt = _pooled_features(backbone, model, test_dir)
        accs = {l2: _fit_probe(x, y, xt, yt, l2) for l2 in (1e-4, 1e-3, 1e-2)}
        click.echo(f"{name}: train instances {len(y)}, test instances {len(yt)}; linear-probe test accuracy "
                   + ", ".join(f"l2={k:g}: {v:.3f}" for k, v in accs.items()))


if __name__ == "__main__":
    cli()
