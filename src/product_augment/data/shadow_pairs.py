"""Object / ground-shadow training pairs for a learned shadow model.

Each pair is one view of a 3D model: the object's RGBA render and, from the same camera, the
shadow matte it casts on the ground under a soft area light (``Renderer.render_shadow``), plus the
light and view parameters. The frame is looser than for bank cutouts so the shadow fits in it.

Layout: ``<out>/<index>_rgba.png``, ``<out>/<index>_shadow.png`` (8-bit matte, 255 = fully shadowed),
``<out>/pairs.jsonl`` (one record per pair, assembled from ``<out>/.rec/``). Resumable, deterministic.
"""
from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable
from pathlib import Path

import numpy as np

from ..classes import class_name
from ..io import write_atomic
from . import mapping
from .bank import is_flat, png_bytes, view_rng
from .render import AreaLight, Renderer, prepare_model, sample_view
from .sources import CatalogEntry


def sample_area_light(rng: np.random.Generator, samples: int = 8) -> AreaLight:
    return AreaLight(float(rng.uniform(0, 360)), float(rng.uniform(30, 80)), float(rng.uniform(2, 20)), samples)


def build_shadow_pairs(entries: list[CatalogEntry], out_dir: Path, count: int, size: int = 384, seed: int = 0,
                       progress: Callable[[str], None] | None = None, renderer: Renderer | None = None,
                       views_per_model: int = 4) -> int:
    """Render ``count`` pairs, ``views_per_model`` consecutive ones per model, cycling over ``entries``
    in a seeded shuffled order; returns the number of records in pairs.jsonl.

    Pass ``renderer`` to reuse an open one (pyrender's EGL contexts do not survive another
    renderer being closed in the same process); otherwise one of ``size`` is opened and closed.
    """
    out_dir = Path(out_dir)
    entries = sorted(entries, key=lambda e: e.source_id)
    order = np.random.default_rng(seed).permutation(len(entries))  # varied classes from the first pairs on
    own = renderer is None
    renderer = Renderer(size) if own else renderer
    try:
        model_of, current = None, None
        for i in range(count):
            rec_path = out_dir / ".rec" / f"{i:06d}.json"
            if rec_path.exists():
                continue
            entry = entries[int(order[(i // views_per_model) % len(entries)])]
            if current is not entry:
                model_of, current = prepare_model(entry.model_path, entry.rotation, entry.size_cm), entry
            rng = view_rng("shadow:" + entry.source_id, i, seed)
            lo, hi = (45.0, 85.0) if is_flat(entry) else (5.0, 40.0)
            view = dataclasses.replace(sample_view(rng, hi, lo), frame=0.6)
            light = sample_area_light(rng)
            res = renderer.render(model_of, view)
            matte = renderer.render_shadow(model_of, view, light, rng)
            write_atomic(out_dir / f"{i:06d}_rgba.png", png_bytes(res.rgba))
            write_atomic(out_dir / f"{i:06d}_shadow.png",
                               png_bytes(np.clip(np.round(matte * 255), 0, 255).astype(np.uint8)))
            cid = mapping.sh3d_class(entry.name, entry.category, entry.id)
            record = {"index": i, "rgba": f"{i:06d}_rgba.png", "shadow": f"{i:06d}_shadow.png",
                      "source_id": entry.source_id, "class": class_name(cid) if cid else None,
                      "licence": entry.licence, "attribution": entry.attribution, "view": view.to_dict(),
                      "light": dataclasses.asdict(light)}
            write_atomic(rec_path, json.dumps(record, sort_keys=True).encode())
            if progress:
                progress(f"pair {i + 1}/{count}: {entry.source_id}")
    finally:
        if own:
            renderer.close()
    records = [json.loads(p.read_text()) for p in sorted((out_dir / ".rec").glob("*.json"))
               if int(p.stem) < count]
    write_atomic(out_dir / "pairs.jsonl", "".join(json.dumps(r, sort_keys=True) + "\n" for r in records).encode())
    return len(records)
