"""Each input's class for `--balance` (`balance.py` turns the counts into variants per input)."""
from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import numpy as np

from . import balance as B
from .classes import class_id
from .io import ImageReadError
from .jobs.worker import ShardContext, prepare_sources, read_sources, worker_pipeline
from .pipeline import SampleError
from .presets.loader import Preset
from .sample import Sample
from .storage import Store

LABEL_CHUNK = 16  # inputs labelled per task (one batched model call)


def balance_variants(spec: Any, preset: Preset, relpaths: list[str], hashes: Mapping[str, str], out: Store,
                     executor: Any, ctx: ShardContext, cache: bool = True
                     ) -> tuple[dict[str, int], dict[str, int], dict[str, int]]:
    """(variants per input, input images per class, output images per class) from the inputs'
    classes, labelled on the executor (`label_sources`) and cached by content hash in
    `balance-labels.json` (`cache=False`: read, not written)."""
    key = B.labels_key(preset)
    known: dict[str, Any] = json.loads(out.read_bytes(B.LABELS_FILE)) if out.exists(B.LABELS_FILE) else {}
    missing = [r for r in relpaths if f"{key}:{hashes[r]}" not in known]
    chunks = [missing[i:i + LABEL_CHUNK] for i in range(0, len(missing), LABEL_CHUNK)]
    for got in executor.map(label_sources, chunks, ctx):
        for rel, cid in got.items():
            known[f"{key}:{hashes[rel]}"] = cid
    if missing and cache:
        out.write_bytes(B.LABELS_FILE, json.dumps(known, sort_keys=True).encode())
    labels = {r: known[f"{key}:{hashes[r]}"] for r in relpaths}
    variants = B.allocate(labels, spec, preset.model.variants)
    return variants, B.counts(labels, 1), B.counts(labels, variants)


def label_sources(ctx: ShardContext, rels: list[str]) -> dict[str, int | None]:
    """Each input's class as the preset's segment step sees it: the first (top) instance's class;
    None when nothing is found or the input cannot be read. A step that finds the class per image
    (`finds_class`: a model, input annotations) runs, after the pipeline's batch hooks (one model
    call for the chunk); any other names the class in the preset (`class_name`)."""
    pipe, _ = worker_pipeline(ctx.preset)
    index, step = next(((i, s) for i, s in enumerate(pipe.steps) if s.name == "segment"), (-1, None))
    if step is None or not getattr(step, "finds_class", False):
        cfg = getattr(step, "config", None)
        fixed = class_id(cfg.class_name) if cfg is not None and hasattr(cfg, "class_name") else None
        return dict.fromkeys(rels, fixed)
    images = read_sources(ctx, rels)
    prepared = prepare_sources(ctx, rels, images) or {}
    labels: dict[str, int | None] = {}
    for rel in rels:
        img = images[rel]
        if not isinstance(img, tuple):
            labels[rel] = None
            continue
        ready = prepared.get(rel, {}).get(index)
        try:
            sample = Sample(image=img[0], alpha=img[1], meta={"relpath": rel})
            rng = np.random.default_rng(0)
            s = step(sample, rng) if ready is None else step(sample, rng, prepared=ready)
            labels[rel] = int(s.instances[0].class_id) if s.instances else None
        except (SampleError, ImageReadError):
            labels[rel] = None
    return labels
