"""Ablation: WS+GN vs plain conv+BN in FPN/protonet/head at the same iteration budget.

Both arms start from the same ImageNet backbone with the same seed, data stream and schedule, and
report mask AP50 and top-product mIoU. By default they train on a synthetic COCO set (coloured shapes
on noisy backgrounds); ``--train``/``--val`` point them at real sets instead. ``--arm`` runs one arm
only, so the two can run side by side as separate processes (same iteration budget, not same time):

    python scripts/diagnostics/ablate_yolact_norm.py --iterations 400 --threads 1 --out runs/ablation
    python scripts/diagnostics/ablate_yolact_norm.py --arm ws+gn --train data/sets/wild/train \\
        --train data/sets/catalog/train --val data/sets/wild/val --val-limit 300 \\
        --input-size 320 --iterations 1200 --out runs/ablation_real
"""
from __future__ import annotations

import json
from pathlib import Path

import click

ARMS = {"ws+gn": ("ws", "gn"), "plain+bn": ("plain", "bn")}


@click.command()
@click.option("--iterations", default=300, show_default=True)
@click.option("--input-size", default=192, show_default=True)
@click.option("--batch-size", default=8, show_default=True)
@click.option("--threads", default=1, show_default=True)
@click.option("--lr", default=1e-3, show_default=True)
@click.option("--train", "train_dirs", multiple=True, help="COCO set(s) to train on (default: synthetic).")
@click.option("--val", "val_dir", default=None, help="COCO set to evaluate on (default: synthetic).")
@click.option("--val-limit", default=60, show_default=True)
@click.option("--arm", type=click.Choice(["both", *ARMS]), default="both", show_default=True)
@click.option("--out", default="runs/ablation", show_default=True)
def main(iterations: int, input_size: int, batch_size: int, threads: int, lr: float, train_dirs: tuple[str, ...],
         val_dir: str | None, val_limit: int, arm: str, out: str) -> None:
    from product_augment.models.yolact.synthetic import make_synthetic_coco
    from product_augment.models.yolact.train import (
        DataSection,
        ModelSection,
        TrainConfig,
        TrainSection,
        train,
    )

    root = Path(out)
    if not train_dirs:
        train_dir, syn_val = root / "syn_train", root / "syn_val"
        if not (train_dir / "annotations.json").exists():
            make_synthetic_coco(train_dir, 400, seed=1, size=(240, 320), max_objects=3)
        if not (syn_val / "annotations.json").exists():
            make_synthetic_coco(syn_val, 60, seed=2, size=(240, 320), max_objects=3)
        train_dirs = (str(train_dir),)
        val_dir = val_dir or str(syn_val)
    if val_dir is None:
        raise click.UsageError("--val is needed with --train")
    arms = list(ARMS) if arm == "both" else [arm]
    results = {}
    for name in arms:
        conv, norm = ARMS[name]
        cfg = TrainConfig(
            model=ModelSection(input_size=input_size, fpn_channels=96, proto_channels=64, head_channels=96,
                               num_prototypes=24, conv=conv, norm=norm),
            data=DataSection(train=list(train_dirs), val=val_dir, val_limit=val_limit),
            train=TrainSection(batch_size=batch_size, iterations=iterations, warmup_iters=min(100, iterations // 5),
                               eval_every_iters=10**9, threads=threads, lr=lr),
            out_dir=str(root / f"{conv}_{norm}"))
        last = train(cfg, progress=False)
        metrics = json.loads(last.with_suffix(".json").read_text())["metrics"]
        results[name] = {k: metrics[k] for k in ("mask_ap", "mask_ap50", "top_product_mean_iou",
                                                 "class_agnostic_mask_ap50")}
        click.echo(f"{name}: {results[name]}")
    summary = root / ("ablation.json" if arm == "both" else f"ablation_{arm}.json")
    summary.write_text(json.dumps({"iterations": iterations, "input_size": input_size, "batch_size": batch_size,
                                   "train": list(train_dirs), "val": val_dir, "val_limit": val_limit,
                                   "results": results}, indent=2))


if __name__ == "__main__":
    main()
