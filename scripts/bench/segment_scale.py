"""The segment step's cost against the photo's size: one example resized to 1024, 2048 and 4096 px,
one thread, a warm process, the faster of 2 runs. `--profile` adds a cProfile of the 4096² call.

    OMP_NUM_THREADS=1 python scripts/bench/segment_scale.py [--profile]
"""
import cProfile
import pstats
import sys
import time
from pathlib import Path

import cv2
import numpy as np
from pydantic import TypeAdapter

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "src"))
from product_augment.io import read_image
from product_augment.sample import Sample
from product_augment.steps import segment

cfg = TypeAdapter(segment.Config).validate_python(
    {"backend": "yolact", "weights": "weights/yolact_ws_effnetlite0.safetensors"}, context={"base_dir": str(ROOT)})
step = segment.build(cfg)
img, _ = read_image(ROOT / "examples" / "stand_mixer.jpg")
step(Sample(image=img, meta={"relpath": "w"}), np.random.default_rng(0))  # the models' first call
for side in (1024, 2048, 4096):
    big = cv2.resize(img, (side, side), interpolation=cv2.INTER_CUBIC)
    ts = []
    for _ in range(2):
        t = time.perf_counter()
        step(Sample(image=big, meta={"relpath": "x"}), np.random.default_rng(0))
        ts.append(time.perf_counter() - t)
    print(f"{side}\t{min(ts):.3f} s\t{min(ts) / (side * side / 1e6):.3f} s/MP", flush=True)
if "--profile" in sys.argv:
    big = cv2.resize(img, (4096, 4096), interpolation=cv2.INTER_CUBIC)
    pr = cProfile.Profile()
    pr.enable()
    step(Sample(image=big, meta={"relpath": "x"}), np.random.default_rng(0))
    pr.disable()
    pstats.Stats(pr).sort_stats("cumulative").print_stats(25)
