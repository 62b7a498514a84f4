"""Time the compositing steps (palette, background per kind, logo) on a 1024×1024 image.

    python scripts/bench/compositing.py [--runs 60] [--size 1024]

Single-threaded (OpenCV, OpenMP, MKL, OpenBLAS limited to one thread), median of `--runs` calls
after warm-up, each call with a different seed. A synthetic product covers ~45 % of the frame with
a soft edge; the canvas is `--size` square.
"""
from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS", "NUMEXPR_NUM_THREADS"):
    os.environ[_var] = "1"

import platform
import statistics
import tempfile
import time
from pathlib import Path

import click
import cv2
import numpy as np
from pydantic import TypeAdapter

cv2.setNumThreads(1)

from product_augment.sample import Instance, Sample
from product_augment.steps import background, logo, palette


def product_sample(size: int) -> Sample:
    """A two-tone bottle-like product with an anti-aliased edge on a white packshot background."""
    big = np.zeros((size * 2, size * 2), np.uint8)
    s = size * 2 / 1024
    pts = (np.array([[440, 120], [584, 120], [584, 260], [690, 380], [690, 900], [334, 900], [334, 380],
                     [440, 260]]) * s).astype(np.int32)
    cv2.fillPoly(big, [pts], 255, cv2.LINE_AA)
    alpha = cv2.resize(big, (size, size), interpolation=cv2.INTER_AREA).astype(np.float32) / 255
    img = np.full((size, size, 3), 250, np.uint8)
    yy, xx = np.mgrid[:size, :size]
    body = np.dstack([90 + 80 * xx / size, 40 + 30 * yy / size, 150 - 60 * xx / size]).astype(np.float32)
    label = (yy > 0.5 * size) & (yy < 0.7 * size)
    body[label] = (240, 220, 60)
    img = np.rint(alpha[..., None] * body + (1 - alpha[..., None]) * 250).astype(np.uint8)
    return Sample(img, alpha, (Instance.from_mask(5, alpha > 0.5),))


def median_ms(fn, runs: int, warmup: int = 5) -> tuple[float, float]:
    """(median, minimum) wall time in ms; the minimum shows what contention on a shared machine adds."""
    for i in range(warmup):
        fn(i)
    times = []
    for i in range(runs):
        t = time.perf_counter()
        fn(1000 + i)
        times.append((time.perf_counter() - t) * 1000)
    return statistics.median(times), min(times)


@click.command(help=__doc__)
@click.option("--runs", type=int, default=60, show_default=True)
@click.option("--size", type=int, default=1024, show_default=True)
def main(runs: int, size: int) -> None:
    sample = product_sample(size)
    pal_step = palette.build(TypeAdapter(palette.Config).validate_python({}))
    with_palette = pal_step(sample, np.random.default_rng(0))

    photos = Path(tempfile.mkdtemp(prefix="bench-bg-"))
    rng = np.random.default_rng(0)
    for i in range(2):
        photo = cv2.GaussianBlur(rng.integers(0, 256, (1200, 1600, 3), dtype=np.uint8), (0, 0), 8)
        cv2.imwrite(str(photos / f"photo{i}.jpg"), photo)

    bg_adapter = TypeAdapter(background.Config)
    canvas = {"canvas": {"size": size}}
    kinds = {
        "solid (catalog white)": {"kind": "solid", "color": "white"},
        "solid (random, ΔE rule)": {"kind": "solid"},
        "gradient": {"kind": "gradient"},
        "texture (tile)": {"kind": "texture"},
        "texture (scale)": {"kind": "texture", "mode": "scale"},
        "image": {"kind": "image", "path": str(photos)},
        "studio": {"kind": "studio"},
        "transparent": {"kind": "transparent", **canvas},
    }
    rows = [("palette (k=4, 3000 px)",
             median_ms(lambda i: pal_step(sample, np.random.default_rng(i)), runs))]
    bg_steps = {}
    for label, cfg in kinds.items():
        step = background.build(bg_adapter.validate_python({**canvas, **cfg}))
        bg_steps[label] = step
        rows.append((f"background: {label}",
                     median_ms(lambda i, st=step: st(with_palette, np.random.default_rng(i)), runs)))
    placed = bg_steps["studio"](with_palette, np.random.default_rng(0))
    lg_adapter = TypeAdapter(logo.Config)
    logo_steps = {"logo: logo (PNG sticker)": logo.build(lg_adapter.validate_python({"kind": "logo"})),
                  "logo: caption": logo.build(lg_adapter.validate_python({"kind": "caption"}))}
    for label, step in logo_steps.items():
        rows.append((label, median_ms(lambda i, st=step: st(placed, np.random.default_rng(i)), runs)))

    def chain(i: int, bg_label: str) -> None:
        s = pal_step(sample, np.random.default_rng(i))
        s = bg_steps[bg_label](s, np.random.default_rng(i + 1))
        logo_steps["logo: caption"](s, np.random.default_rng(i + 2))

    for bg_label in ("solid (random, ΔE rule)", "gradient", "texture (tile)", "studio"):
        rows.append((f"total: palette + {bg_label} + caption",
                     median_ms(lambda i, b=bg_label: chain(i, b), runs)))

    cpu = platform.processor() or platform.machine()
    print(f"# {size}×{size}, median of {runs} runs, 1 thread, {cpu}, "
          f"numpy {np.__version__}, OpenCV {cv2.__version__}")
    print("| step | median ms | min ms |\n|---|---:|---:|")
    for label, (med, low) in rows:
        print(f"| {label} | {med:.1f} | {low:.1f} |")


if __name__ == "__main__":
    main()
