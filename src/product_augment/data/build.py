"""Orchestration of the data build: default locations and the scene-set plan per style and split."""
from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

from ..classes import CLASS_NAMES
from ..io import write_atomic
from ..resources import asset_dir, checkout_root
from . import scenes
from .bank import Cutout, bank_splits

# data builds keep their folders in the checkout they run from (the current folder for an installed package)
REPO_ROOT = checkout_root() or Path.cwd()
DEFAULT_DATA = REPO_ROOT / "data"
DEFAULT_BANK = DEFAULT_DATA / "bank"
DEFAULT_SETS = DEFAULT_DATA / "sets"
DEFAULT_TEXTURES = asset_dir("textures")

# images per split for the full build; "quick" is the first set the segmenter can start on
PLANS: dict[str, dict[str, dict[str, int]]] = {
    "full": {"wild": {"train": 6000, "val": 600, "test": 600}, "catalog": {"train": 2000, "val": 300, "test": 600}},
    "quick": {"wild": {"train": 2000, "val": 300, "test": 0}, "catalog": {"train": 0, "val": 0, "test": 300}},
}


def build_scene_sets(bank: Path, cutouts: list[Cutout], sets_dir: Path, plan: dict[str, dict[str, int]],
                     seed: int = 0, size: int = 512, textures_dir: Path | None = DEFAULT_TEXTURES,
                     progress: Callable[[str], None] | None = None) -> dict[str, dict]:
    """Build every (style, split) of ``plan``; returns per set the image count, per-class instance
    counts and seconds taken."""
    summary = {}
    frozen = bank_splits(bank, cutouts)
    for style, splits in plan.items():
        for split, count in splits.items():
            if count <= 0:
                continue
            t0 = time.time()
            out = Path(sets_dir) / style / split

            def tick(done: int, total: int, _s=f"{style}/{split}") -> None:
                if progress and (done % 500 == 0 or done == total):
                    progress(f"{_s}: {done}/{total}")

            coco = scenes.build_split(bank, cutouts, out, split, count, scenes.SceneConfig(style=style, size=size),
                                      seed=seed, textures_dir=textures_dir, progress=tick, splits=frozen)
            counts = scenes.class_counts(coco)
            summary[f"{style}/{split}"] = {
                "path": str(out), "images": len(coco["images"]), "instances": len(coco["annotations"]),
                "per_class": {CLASS_NAMES[k - 1]: counts.get(k, 0) for k in range(1, len(CLASS_NAMES) + 1)},
                "seconds": round(time.time() - t0, 1),
            }
    return summary


def format_scene_summary(summary: dict[str, dict]) -> str:
    keys = list(summary)
    lines = [f"{'class':<12}" + "".join(f"{k:>16}" for k in keys)]
    for name in CLASS_NAMES:
        lines.append(f"{name:<12}" + "".join(f"{summary[k]['per_class'][name]:>16}" for k in keys))
    lines.append(f"{'instances':<12}" + "".join(f"{summary[k]['instances']:>16}" for k in keys))
    lines.append(f"{'images':<12}" + "".join(f"{summary[k]['images']:>16}" for k in keys))
    lines.append(f"{'seconds':<12}" + "".join(f"{summary[k]['seconds']:>16}" for k in keys))
    return "\n".join(lines)


def write_ready(data_dir: Path, summary: dict[str, dict], note: str) -> Path:
    """The READY marker: where the COCO sets are, for the people training on them."""
    lines = [note, ""]
    for key, s in summary.items():
        lines.append(f"{key}: {s['path']}/annotations.json  (images under {s['path']}/, "
                     f"{s['images']} images, {s['instances']} instances)")
    path = Path(data_dir) / "READY"
    write_atomic(path, ("\n".join(lines) + "\n").encode())
    return path
