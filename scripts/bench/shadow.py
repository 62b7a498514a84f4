"""Time the shadow step per kind on a 1024×1024 picture on one core.

    python scripts/bench/shadow.py [--runs 60] [--size 1024]

A bottle-shaped product (about 65% of the height) on a plate with a known background (the
exact recomposite path), then transparent and plain-photo samples; prints the median, 90th
percentile and minimum of `apply` per kind and mode (the minimum is the figure least disturbed
by other load on a shared machine).
"""
from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
    os.environ[_var] = "1"

import time

import click
import cv2
import numpy as np
from pydantic import TypeAdapter

from product_augment.sample import Sample
from product_augment.steps import shadow as shadow_step

cv2.setNumThreads(1)

KINDS = {
    "mirror": {"kind": "mirror"},
    "drop": {"kind": "drop"},
    "drop-backlight": {"kind": "drop", "azimuth": 160, "elevation": 35, "size": 0.15},
    "drop-extreme": {"kind": "drop", "azimuth": 90, "elevation": 15, "size": 0.3, "floor_tilt": 1.0},
    "mirror-extreme": {"kind": "mirror", "fade": 3.0, "blur": 0.2, "squash": 0.6},
    "none": {"kind": "none"},
}
if shadow_step.shipped_shadow_weights().exists():   # the learned shadow (ONNX Runtime, one thread)
    KINDS["realistic"] = {"kind": "realistic"}
    KINDS["realistic-backlight"] = {"kind": "realistic", "azimuth": 160, "elevation": 35, "size": 0.15}


def bottle_sample(size: int, mode: str) -> Sample:
    h = w = size
    big = np.zeros((h * 2, w * 2), np.uint8)
    cx, bw, top, floor = w, int(w * 0.3), int(h * 0.3), int(h * 1.6)
    pts = np.array([[cx - bw // 3, top], [cx + bw // 3, top], [cx + bw // 3, top + h // 4],
                    [cx + bw, top + h // 2], [cx + bw, floor], [cx - bw, floor], [cx - bw, top + h // 2],
                    [cx - bw // 3, top + h // 4]], np.int32)
    cv2.fillPoly(big, [pts], 255, cv2.LINE_AA)
    alpha = cv2.resize(big, (w, h), interpolation=cv2.INTER_AREA).astype(np.float32) / 255
    bg = np.empty((h, w, 3), np.uint8)
    bg[...] = np.linspace(225, 250, h, dtype=np.float32).astype(np.uint8)[:, None, None]
    fg = np.empty((h, w, 3), np.float32)
    fg[...] = (40, 120, 70)
    image = np.clip(alpha[..., None] * fg + (1 - alpha[..., None]) * bg + 0.5, 0, 255).astype(np.uint8)
    if mode == "background":
        return Sample(image=image, alpha=alpha, plate=bg, floor_y=floor / 2)
    if mode == "transparent":
        return Sample(image=image, alpha=alpha, output_alpha=alpha.copy())
    return Sample(image=image, alpha=alpha)


@click.command(help=__doc__)
@click.option("--runs", type=int, default=60, show_default=True, help="timed runs per case, after 5 warm-up runs")
@click.option("--size", type=int, default=1024, show_default=True)
@click.option("--modes", default="background,transparent,photo", show_default=True)
def main(runs: int, size: int, modes: str) -> None:
    adapter = TypeAdapter(shadow_step.Config)
    print(f"{'kind':16s} {'mode':12s} {'median ms':>9s} {'p90 ms':>7s} {'min ms':>7s}")
    for mode in modes.split(","):
        sample = bottle_sample(size, mode)
        for name, cfg in KINDS.items():
            step = shadow_step.build(adapter.validate_python(cfg))
            params = step.draw(sample, np.random.default_rng(0))
            for _ in range(5):
                step.apply(sample, params)
            times = []
            for _ in range(runs):
                t0 = time.perf_counter()
                step.apply(sample, params)
                times.append((time.perf_counter() - t0) * 1000)
            print(f"{name:16s} {mode:12s} {np.median(times):9.2f} {np.percentile(times, 90):7.2f} "
                  f"{np.min(times):7.2f}")


if __name__ == "__main__":
    main()
