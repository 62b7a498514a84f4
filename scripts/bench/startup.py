"""Where the time goes before and during the first images of a one-worker run.

    python scripts/bench/startup.py [--preset catalog-white] [--input examples] [--images 12]

Times, in one fresh process pinned to one thread: importing the package (CLI, runner, steps),
loading the preset, building the pipeline, then each image's read and steps (the first image
includes the segmenter's model load). Run it as a fresh process each time (imports are cached).
"""
from __future__ import annotations

import time

T0 = time.perf_counter()

import statistics
from pathlib import Path

import click


@click.command()
@click.option("--preset", default="catalog-white", show_default=True)
@click.option("--input", "input_dir", default="examples", show_default=True,
              type=click.Path(path_type=Path, exists=True, file_okay=False))
@click.option("--images", default=12, show_default=True)
def main(preset: str, input_dir: Path, images: int) -> None:
    t = time.perf_counter()
    from product_augment.cli.main import preset_path
    from product_augment.io import encode_image, list_inputs, read_image
    from product_augment.presets.loader import load_preset
    from product_augment.sample import Sample
    from product_augment.threads import limit_threads
    rows = [("import (package, CLI, runner, steps)", time.perf_counter() - t)]
    limit_threads()
    t = time.perf_counter()
    p = load_preset(preset_path(preset))
    rows.append(("load + validate preset", time.perf_counter() - t))
    t = time.perf_counter()
    pipeline = p.build_pipeline()
    rows.append(("build pipeline", time.perf_counter() - t))
    files = list_inputs(input_dir)[0][:images]
    per_step: dict[str, list[float]] = {}
    totals = []
    for i, rel in enumerate(files):
        t = time.perf_counter()
        rgb, alpha = read_image(input_dir / rel, p.model.input.max_side)
        timings: dict[str, float] = {}
        out = pipeline(Sample(rgb, alpha, meta={"relpath": rel}), p.model.seed, rel, 0, timings)
        encode_image(out.image, out.output_alpha, "png" if out.output_alpha is not None else p.model.output.format)
        totals.append(time.perf_counter() - t)
        if i == 0:
            rows.append(("first image (read, steps incl. model load, encode)", totals[0]))
            rows.append(("  of which " + ", ".join(f"{k} {v * 1000:.0f} ms" for k, v in timings.items()), 0.0))
            first_done = time.perf_counter() - T0
        else:
            for k, v in timings.items():
                per_step.setdefault(k, []).append(v)
    click.echo("| stage | seconds |\n|---|---:|")
    for name, sec in rows:
        click.echo(f"| {name} | {sec:.3f} |" if sec else f"| {name} | |")
    click.echo(f"| **process start → first image done** | **{first_done:.3f}** |")
    if len(totals) > 1:
        click.echo(f"\nlater images (n={len(totals) - 1}), median per image {statistics.median(totals[1:]) * 1000:.0f} ms:")
        for k, v in per_step.items():
            click.echo(f"  {k:<11} {statistics.median(v) * 1000:6.1f} ms")


if __name__ == "__main__":
    main()
