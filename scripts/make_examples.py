#!/usr/bin/env python
"""Render the quick-start packshots in examples/ from CC0 Sweet Home 3D models (see LICENSES/ASSETS.md)."""
from __future__ import annotations

import argparse
import io
from pathlib import Path

import numpy as np
from PIL import Image

from product_augment.data import sources
from product_augment.data.bank import atomic_write_bytes
from product_augment.data.packshot import render_packshot
from product_augment.data.render import Renderer, prepare_model

# (file stem, catalogue id): CC0 models only, one per class
EXAMPLES = [
    ("handbag", "Blend Swap CC-0#handbag"),
    ("shoe_bootie", "Blend Swap CC-0#bootie"),
    ("chair", "Blend Swap CC-0#designChair"),
    ("cup_coffee", "Blend Swap CC-0#caffe_final"),
    ("phone", "Blend Swap CC-0#iphone"),
    ("television", "Blend Swap CC-0#led_tv"),
    ("desk_lamp", "Blend Swap CC-0#desklamp"),
    ("plant_orchids", "Blend Swap CC-0#orchids"),
    ("bottle_flacon", "Blend Swap CC-0#flacon"),
    ("teddy_bear", "Blend Swap CC-0#teddyBear"),
    ("stand_mixer", "Blend Swap CC-0#kitchenaid"),
    ("armchair", "Blend Swap CC-0#winchesterArmchair"),
]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--out", type=Path, default=Path(__file__).resolve().parents[1] / "examples")
    ap.add_argument("--size", type=int, default=640)
    ap.add_argument("--seed", type=int, default=3)
    args = ap.parse_args()
    catalog = {e.id: e for e in sources.load_catalog()}
    with Renderer(args.size, supersample=2) as renderer:
        for n, (stem, entry_id) in enumerate(EXAMPLES):
            entry = catalog[entry_id]
            assert entry.licence == "CC0-1.0", entry_id
            model = prepare_model(entry.model_path, entry.rotation, entry.size_cm)
            img = render_packshot(renderer, model, np.random.default_rng([args.seed, n]))
            buf = io.BytesIO()
            Image.fromarray(img).save(buf, format="JPEG", quality=87, optimize=True)
            atomic_write_bytes(args.out / f"{stem}.jpg", buf.getvalue())
            print(f"{stem}.jpg  '{entry.name}' by {entry.creator} (CC0)")


if __name__ == "__main__":
    main()
