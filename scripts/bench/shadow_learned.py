"""Time the learned shadow on one core: the network alone at its input size, and the parts of
the `realistic` step around it on a full-size picture.

    python scripts/bench/shadow_learned.py [--runs 50] [--size 1024] [--weights weights/shadow_net.onnx]

Prints median / p90 / min ms of: the network (ONNX Runtime, one intra-op thread, batch 1); crop
(cutting the product's canvas out of the picture and building the input); upsampling (combining
the two outputs and resampling the matte back onto the picture); and the whole step's `apply`
(with compositing) next to the `drop` kind's on the same sample. The minimum is the figure least
disturbed by other load on a shared machine.
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

from product_augment.models.shadow import frame
from product_augment.models.shadow.onnx_predict import ShadowPredictor
from product_augment.ops import shadow as ops
from product_augment.steps import shadow as shadow_step

cv2.setNumThreads(1)


def _time(fn, runs: int) -> tuple[float, float, float]:
    for _ in range(5):
        fn()
    ts = []
    for _ in range(runs):
        t0 = time.perf_counter()
        fn()
        ts.append((time.perf_counter() - t0) * 1000)
    return float(np.median(ts)), float(np.percentile(ts, 90)), float(np.min(ts))


@click.command(help=__doc__)
@click.option("--runs", type=int, default=50, show_default=True)
@click.option("--size", type=int, default=1024, show_default=True)
@click.option("--weights", default=None, help="ShadowNet ONNX file (default: the shipped one)")
def main(runs: int, size: int, weights: str | None) -> None:
    import sys
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).parent))
    from shadow import bottle_sample  # the same product as scripts/bench/shadow.py

    path = weights or shadow_step.shipped_shadow_weights()
    net = ShadowPredictor(path)
    sample = bottle_sample(size, "background")
    alpha = sample.alpha
    fp = ops.find_footprint(alpha)
    canvas = frame.canvas_for(fp.box, fp.base_y)
    x = frame.network_input_premultiplied(frame.crop(ops.premultiplied(sample.image, alpha, sample.plate), canvas,
                                                     net.res), frame.crop(alpha, canvas, net.res))
    cast, ao = net(x, 35, 50, 0.08, 0.3)

    def crop():   # as the step does it: only the product's box holds colour and matte
        bx0, by0, bx1, by1 = fp.box
        box = (slice(by0, by1), slice(bx0, bx1))
        prem = ops.premultiplied(sample.image[box], alpha[box], sample.plate[box])
        local = frame.Canvas(canvas.x0 - bx0, canvas.y0 - by0, canvas.side)
        frame.network_input_premultiplied(frame.crop(prem, local, net.res), frame.crop(alpha[box], local, net.res))

    def up():
        frame.uncrop(frame.combine(cast, ao, 0.55, 0.85), canvas, alpha.shape)

    adapter = TypeAdapter(shadow_step.Config)
    steps = {k: shadow_step.build(adapter.validate_python({"kind": k, **({"weights": str(path)} if k == "realistic"
                                                                           else {})}))
             for k in ("realistic", "drop")}
    params = {k: s.draw(sample, np.random.default_rng(0)) for k, s in steps.items()}
    rows = [(f"network {net.res}x{net.res}", lambda: net(x, 35, 50, 0.08, 0.3)),
            (f"crop + input ({size}px picture)", crop), (f"combine + upsample to {size}px", up),
            ("step apply: realistic", lambda: steps["realistic"].apply(sample, params["realistic"])),
            ("step apply: drop", lambda: steps["drop"].apply(sample, params["drop"]))]
    print(f"{'part':34s} {'median ms':>9s} {'p90 ms':>7s} {'min ms':>7s}")
    for name, fn in rows:
        med, p90, mn = _time(fn, runs)
        print(f"{name:34s} {med:9.2f} {p90:7.2f} {mn:7.2f}")


if __name__ == "__main__":
    main()
