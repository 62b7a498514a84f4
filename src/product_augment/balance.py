"""Class-balanced expansion: more variants for the inputs of rare classes, fewer for common ones.

`--balance target=N` (optionally `min=M`, `max=K`, and per-class targets such as `cup=80`) gives
each input a number of variants so that every class reaches its target count of output images:
a class with n inputs and target T gives each input T // n variants and the first T % n of them
(in a stable hash order of their paths) one more, clipped to [min, max] (default [1, 100]). Every
input keeps at least `min` variants, so a class with more than T / min inputs stays above T. The
class of an input is its first (top) instance's class as the preset's segment step sees it: input
COCO annotations (`backend: masks` with a JSON file), the segmenter's prediction (`yolact`), or
the preset's `class_name`. Inputs whose class is unknown keep the preset's `variants`.

Variant i of an input is the same picture whatever the allocation (its job id holds i), so
changing the target adds or drops variants without touching the others.
"""
from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, field

from .classes import class_id, class_name
from .pipeline import stable_hash

LABELS_FILE = "balance-labels.json"


@dataclass(frozen=True)
class Balance:
    target: int | None = None
    per_class: dict[int, int] = field(default_factory=dict)
    min: int = 1
    max: int = 100

    def target_of(self, cid: int) -> int | None:
        return self.per_class.get(cid, self.target)


def parse_balance(text: str) -> Balance:
    """`target=N[,min=M][,max=K][,<class>=N...]`; raises ValueError with a one-line reason."""
    target, lo, hi, per = None, 1, 100, {}
    for item in (x.strip() for x in text.split(",") if x.strip()):
        key, sep, value = item.partition("=")
        if not sep:
            raise ValueError(f"{item!r}: expected key=value (target=N, min=M, max=K or <class>=N)")
        try:
            n = int(value)
        except ValueError:
            raise ValueError(f"{item!r}: {value!r} is not a whole number") from None
        if n < 0:
            raise ValueError(f"{item!r}: must not be negative")
        key = key.strip()
        if key == "target":
            target = n
        elif key == "min":
            lo = n
        elif key == "max":
            hi = n
        else:
            per[class_id(key)] = n  # ValueError names the unknown class
    if target is None and not per:
        raise ValueError("no target: give target=N or a per-class target such as cup=80")
    if lo > hi:
        raise ValueError(f"min={lo} is above max={hi}")
    return Balance(target, per, lo, hi)


def allocate(labels: Mapping[str, int | None], spec: Balance, default: int) -> dict[str, int]:
    """Variants per input (see the module's docstring)."""
    by_class: dict[int | None, list[str]] = {}
    for rel, cid in labels.items():
        by_class.setdefault(cid, []).append(rel)
    out: dict[str, int] = {}
    for cid, rels in by_class.items():
        target = spec.target_of(cid) if cid is not None else None
        if target is None:
            out.update(dict.fromkeys(rels, default))
            continue
        base, extra = divmod(target, len(rels))
        for rank, rel in enumerate(sorted(rels, key=lambda r: (stable_hash(r), r))):
            out[rel] = min(spec.max, max(spec.min, base + (rank < extra)))
    return out


def counts(labels: Mapping[str, int | None], variants: Mapping[str, int] | int) -> dict[str, int]:
    """Images per class name ('unknown' for no class): inputs when `variants` is 1, else outputs."""
    out: dict[str, int] = {}
    for rel, cid in labels.items():
        name = class_name(cid) if cid is not None else "unknown"
        out[name] = out.get(name, 0) + (variants if isinstance(variants, int) else variants[rel])
    return dict(sorted(out.items()))


def labels_key(preset) -> str:
    """What the labels depend on: the segment step's configuration."""
    cfg = next((c for n, c in preset.step_configs if n == "segment"), None)
    text = json.dumps(cfg.model_dump(mode="json") if hasattr(cfg, "model_dump") else repr(cfg), sort_keys=True)
    return hashlib.blake2b(text.encode(), digest_size=8).hexdigest()
