"""`augment bench`: the U-Net benchmark (base vs augmented data)."""
from __future__ import annotations

from pathlib import Path

import click


@click.group()
def bench() -> None:
    """Benchmarks: `unet` (does augmentation help a segmenter?)."""


@bench.command()
@click.option("--base", type=click.Path(path_type=Path, exists=True, file_okay=False), required=True,
              help="Base training set (COCO folder), e.g. data/sets/catalog/train.")
@click.option("--augmented", type=click.Path(path_type=Path, exists=True, file_okay=False),
              help="Augmented copies of the base set (an `augment run` output folder).")
@click.option("--test", "tests", multiple=True, required=True, metavar="NAME=DIR",
              help="Test set(s) as name=COCO folder; repeatable.")
@click.option("--size", default=128, show_default=True, help="Training/eval resolution.")
@click.option("--steps", default=1500, show_default=True, help="Optimiser steps per model.")
@click.option("--batch", default=16, show_default=True)
@click.option("--seed", default=0, show_default=True)
@click.option("--limit", type=int, help="Use at most N images of each training set.")
@click.option("--out", type=click.Path(path_type=Path), default=Path("runs/bench/unet.json"),
              show_default=True, help="Where to write the JSON results.")
def unet(base, augmented, tests, size, steps, batch, seed, limit, out):
    """Train a U-Net on base vs base+augmented data and compare mIoU on test sets."""
    from ..bench.unet import UNetBenchConfig, format_table, run_unet_bench, save

    test_dirs = {}
    for t in tests:
        name, sep, d = t.partition("=")
        if not sep or not Path(d).is_dir():
            raise click.BadParameter(f"{t!r}: expected NAME=DIR with an existing folder", param_hint="--test")
        test_dirs[name] = Path(d)
    cfg = UNetBenchConfig(size=size, steps=steps, batch=batch, seed=seed)
    results = run_unet_bench(base, augmented, test_dirs, cfg, limit, log=click.echo)
    save(results, out)
    click.echo(format_table(results))
    click.echo(f"({results['seconds']} s; results in {out})")
