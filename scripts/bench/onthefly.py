"""Images per second per worker for on-the-fly augmentation (`product_augment.Augmenter`), every
shipped preset, input photos at 512² and 1024².

    python scripts/bench/onthefly.py [--photos 4] [--repeats 3] [--sizes 512,1024] [--preset NAME ...]

One process, one thread (as each `augment run` / DataLoader worker). The photos are the first
`--photos` of `examples/`, resized to a square of each size. For each preset and size:

* `segment each call`: a fresh `Augmenter` per photo's first call (no cache): the segmenter runs
  on every image, as a naive on-the-fly loop would;
* `segment cached`: `Augmenter(cache=...)` (or a mask file / COCO annotations): the photo's
  segmentation is reused, only the compositing runs (the second and later epochs);
* the median seconds per step over all calls, to say what dominates.

Models are loaded before timing. Each call uses a new seed.
"""
from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS", "NUMEXPR_NUM_THREADS"):
    os.environ[_var] = "1"

import platform
import statistics
import time
from pathlib import Path

import click
import cv2
import numpy as np

cv2.setNumThreads(1)

import product_augment as pa
from product_augment.io import read_image

ROOT = Path(__file__).resolve().parents[2]


def square(img: np.ndarray, side: int) -> np.ndarray:
    """The photo padded with its border colour to a square, then resized to side²."""
    h, w = img.shape[:2]
    s = max(h, w)
    pad = cv2.copyMakeBorder(img, (s - h) // 2, s - h - (s - h) // 2, (s - w) // 2, s - w - (s - w) // 2,
                             cv2.BORDER_REPLICATE)
    return cv2.resize(pad, (side, side), interpolation=cv2.INTER_AREA if s > side else cv2.INTER_CUBIC)


@click.command()
@click.option("--photos", default=4, show_default=True)
@click.option("--repeats", default=3, show_default=True, help="cached calls per photo")
@click.option("--sizes", default="512,1024", show_default=True)
@click.option("--preset", "presets", multiple=True, help="default: every shipped preset")
def main(photos: int, repeats: int, sizes: str, presets: tuple[str, ...]) -> None:
    files = sorted((ROOT / "examples").glob("*.jpg"))[:photos]
    raw = [read_image(f)[0] for f in files]
    print(f"# {platform.processor() or platform.machine()}, {os.cpu_count()} cores, 1 thread; "
          f"{len(files)} photos ({', '.join(f.name for f in files)})")
    print("| preset | input | segment each call (img/s) | segment cached (img/s) | output | median s/step (segment: first sight; others: cached calls) |")
    print("|---|---:|---:|---:|---:|---|")
    for name in presets or pa.preset_names():
        for side in [int(s) for s in sizes.split(",")]:
            imgs = [square(im, side) for im in raw]
            aug = pa.Augmenter(name, cache=len(imgs) + 1)
            seg = next((s for s in aug.pipeline.steps if s.name == "segment"), None)
            for attr in ("predictor", "cut"):
                if hasattr(seg, attr):
                    getattr(seg, attr)
            aug(imgs[0], seed=999)  # warm-up (first-call allocations, asset decoding)
            aug._cache.entries.clear()
            steps: dict[str, list[float]] = {}
            t0 = time.perf_counter()
            seg_s = []
            for k, im in enumerate(imgs):  # first sight of each photo: the segmenter runs
                timings = {}
                aug(im, seed=k, key=f"p{k}", timings=timings)
                seg_s.append(timings.get("segment", 0.0))
            first = (time.perf_counter() - t0) / len(imgs)
            t0 = time.perf_counter()
            n = 0
            for r in range(repeats):
                for k, im in enumerate(imgs):
                    timings: dict[str, float] = {}
                    res = aug(im, seed=100 + r, key=f"p{k}", timings=timings)
                    for s, v in timings.items():
                        steps.setdefault(s, []).append(v)
                    n += 1
            cached = (time.perf_counter() - t0) / n
            med = {s: statistics.median(v) for s, v in steps.items()}
            out = f"{res.image.shape[1]}²" if res.image.shape[0] == res.image.shape[1] else \
                f"{res.image.shape[1]}×{res.image.shape[0]}"
            med["segment"] = statistics.median(seg_s)  # the first sight's (the cached one is ~0)
            step_txt = ", ".join(f"{s} {v:.3f}" for s, v in med.items())
            print(f"| {name} | {side}² | {1 / first:.2f} | {1 / cached:.2f} | {out} | {step_txt} |", flush=True)


if __name__ == "__main__":
    main()
