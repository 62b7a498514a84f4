#!/usr/bin/env python
"""Render the quick-start packshots in examples/ from CC0 Sweet Home 3D models (see LICENSES/ASSETS.md)."""
from __future__ import annotations

import io
from pathlib import Path

import click
import numpy as np
from PIL import Image

from product_augment.data import sources
from product_augment.data.packshot import render_packshot
from product_augment.data.render import Renderer, prepare_model
from product_augment.io import write_atomic

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


@click.command(help=__doc__)
@click.option("--out", type=click.Path(path_type=Path), default=Path(__file__).resolve().parents[2] / "examples",
              show_default=True)
@click.option("--size", type=int, default=640, show_default=True)
@click.option("--seed", type=int, default=3, show_default=True)
def main(out: Path, size: int, seed: int) -> None:
    catalog = {e.id: e for e in sources.load_catalog()}
    with Renderer(size, supersample=2) as renderer:
        for n, (stem, entry_id) in enumerate(EXAMPLES):
            entry = catalog[entry_id]
            assert entry.licence == "CC0-1.0", entry_id
            model = prepare_model(entry.model_path, entry.rotation, entry.size_cm)
            img = render_packshot(renderer, model, np.random.default_rng([seed, n]))
            buf = io.BytesIO()
            Image.fromarray(img).save(buf, format="JPEG", quality=87, optimize=True)
            write_atomic(out / f"{stem}.jpg", buf.getvalue())
            print(f"{stem}.jpg  '{entry.name}' by {entry.creator} (CC0)")


if __name__ == "__main__":
    main()
