"""Where the segment step's time goes: each ONNX model's session.run, timed inside the step.

    python scripts/bench/segment_profile.py DATA_DIR [--stems val.txt] [--count 12] [KEY=VALUE ...]

Runs the shipped `yolact` segment step (one thread; KEY=VALUE override its config, e.g.
precision=float32) twice over about ``count`` photos of DATA_DIR/images (every k-th stem), the
models loaded outside the timing, and prints the step's median and each model's median seconds.
"""
from __future__ import annotations

import collections
import os
import sys
import time
from pathlib import Path

import click
import numpy as np


class _Timed:
    """An ONNX Runtime session whose `run` calls are timed into `log`."""

    def __init__(self, session, log: list[float]):
        self._session, self._log = session, log

    def run(self, *args, **kwargs):
        t = time.perf_counter()
        out = self._session.run(*args, **kwargs)
        self._log.append(time.perf_counter() - t)
        return out

    def __getattr__(self, name):
        return getattr(self._session, name)


@click.command()
@click.argument("data_dir", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.argument("overrides", nargs=-1)
@click.option("--stems", "stems_file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--count", default=12, show_default=True)
@click.option("--weights", default="weights/yolact_ws_effnetlite0.safetensors", show_default=True)
def main(data_dir: Path, overrides: tuple[str, ...], stems_file: Path | None, count: int, weights: str) -> None:
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    import cv2

    from product_augment.sample import Sample
    from product_augment.steps import segment

    cv2.setNumThreads(1)
    stems = stems_file.read_text().split() if stems_file else sorted(p.stem for p in (data_dir / "images").iterdir())
    stems = stems[:: max(1, len(stems) // count)]
    cfg = {"backend": "yolact", "weights": weights, **dict(o.split("=", 1) for o in overrides)}
    step = segment.build(segment.YolactConfig.model_validate(cfg, context={"base_dir": "."}))
    images = {p.stem: p for p in (data_dir / "images").iterdir()}
    read = [cv2.cvtColor(cv2.imread(str(images[s])), cv2.COLOR_BGR2RGB) for s in stems]
    step.apply(Sample(image=read[0]), {})  # load the models outside the timing
    logs: dict[str, list[float]] = collections.defaultdict(list)
    for name, holder in (("yolact", step.predictor), ("cut", step.cut), ("classify", step.classifier)):
        if holder is not None:
            holder.session = _Timed(holder.session, logs[name])
    total = []
    for _ in range(2):
        for image in read:
            t = time.perf_counter()
            step.apply(Sample(image=image), {})
            total.append(time.perf_counter() - t)
    print(f"{len(read)} photos × 2: step median {np.median(total):.4f} s  ({step.models_meta()})")
    for name, v in logs.items():
        print(f"  {name:9s} median {np.median(v):.4f} s (n={len(v)})")
    print(f"  rest      {np.median(total) - sum(np.median(v) for v in logs.values()):.4f} s")


if __name__ == "__main__":
    sys.exit(main())
