"""CPU latency of the shipped YOLACT segmenter: mean ms/image over N images after warm-up.

    python scripts/bench/yolact.py --weights weights/yolact_ws_effnetlite0.safetensors \
        --data data/sets/wild/test --images 100 --threads 1

Times `Predictor.__call__` end to end (letterbox, network, Fast NMS, full-resolution masks with the
default guided-filter edge refinement unless ``--edge-refine 0``) on real
images, and separately the network forward alone at the default input size.
"""
from __future__ import annotations

import json
import platform
import time
from pathlib import Path

import click

from product_augment.models.yolact.spec import EDGE_REFINE


@click.command()
@click.option("--weights", default="weights/yolact_ws_effnetlite0.safetensors", show_default=True)
@click.option("--data", "data_dir", default="data/sets/wild/test", show_default=True)
@click.option("--images", "n_images", default=100, show_default=True)
@click.option("--warmup", default=5, show_default=True)
@click.option("--threads", default=1, show_default=True)
@click.option("--edge-refine", default=EDGE_REFINE, show_default=True, help="Guided-filter window (0: off).")
@click.option("--out", "out_json", default=None, help="Write the figures as JSON here.")
def main(weights: str, data_dir: str, n_images: int, warmup: int, threads: int, edge_refine: float,
         out_json: str | None) -> None:
    import numpy as np
    import torch

    from product_augment.io import read_image
    from product_augment.models.yolact.data import resolve_image_path
    from product_augment.models.yolact.predict import Predictor

    torch.set_num_threads(threads)
    pred = Predictor.from_weights(weights, refine_radius=edge_refine)
    ann = json.loads((Path(data_dir) / "annotations.json").read_text())
    files = [resolve_image_path(Path(data_dir), im["file_name"]) for im in ann["images"][:n_images]]
    images = [read_image(f)[0] for f in files]
    with torch.inference_mode():
        for img in images[:warmup]:
            pred(img)
        end_to_end = []
        for img in images:
            t0 = time.perf_counter()
            pred(img)
            end_to_end.append(time.perf_counter() - t0)
        x = torch.rand(1, 3, pred.size, pred.size) * 255
        for _ in range(warmup):
            pred.model(x)
        forward = []
        for _ in range(len(images)):
            t0 = time.perf_counter()
            pred.model(x)
            forward.append(time.perf_counter() - t0)
    sizes = np.array([im.shape[:2] for im in images])
    res = {"weights": weights, "data": data_dir, "images": len(images), "threads": threads,
           "edge_refine": edge_refine,
           "input_size": pred.size, "mean_image_hw": sizes.mean(0).round().tolist(),
           "end_to_end_ms_mean": 1000 * float(np.mean(end_to_end)),
           "end_to_end_ms_median": 1000 * float(np.median(end_to_end)),
           "forward_ms_mean": 1000 * float(np.mean(forward)), "cpu": platform.processor() or platform.machine(),
           "torch": torch.__version__}
    for k, v in res.items():
        click.echo(f"{k:<22}{v:.1f}" if isinstance(v, float) else f"{k:<22}{v}")
    if out_json:
        Path(out_json).write_text(json.dumps(res, indent=2))


if __name__ == "__main__":
    main()
