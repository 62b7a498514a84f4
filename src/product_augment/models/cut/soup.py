"""A CutNet "soup": the weights of several fine-tunes of one start averaged into one network.

    python -m product_augment.models.cut.soup --out runs/soup/soup.safetensors CKPT[:SHARE] ...

Each ingredient is a training checkpoint (``itNNNNN.safetensors`` kept by ``train --keep-every``,
its run's ``last.json`` beside it) or shipped weights with their sidecar. The soup is written as a
checkpoint of its own (model tensors + a sidecar from the first ingredient, with a ``soup`` section
naming every ingredient, its share and its sha256), so ``scripts/bench/eval_cut_checkpoint.py``
scores it and ``export.publish`` ships it like any other. Which ingredients go in is chosen on the
real-photo validation half (docs/BENCHMARKS.md, "Session 11").
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from ...io import file_sha256
from ..checkpoint import average_weights, write_checkpoint

# config fields that say how a network was trained, not what it is: ingredients may differ in them
TRAINING_ONLY = frozenset({"frozen_backbone_blocks"})


def _architecture(config: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in config.items() if k not in TRAINING_ONLY}


def checkpoint_meta(weights: str | Path) -> dict[str, Any]:
    """The record of a checkpoint: its own sidecar (shipped weights, a soup, an evaluated checkpoint),
    else its training run's ``last.json`` (a checkpoint kept by ``train --keep-every``)."""
    weights = Path(weights)
    for side in (weights.with_suffix(".json"), weights.parent / "last.json"):
        if side.exists():
            meta = json.loads(side.read_text())
            if "config" in meta:
                return meta
    raise ValueError(f"{weights}: no sidecar with the network's config ({weights.with_suffix('.json').name} or last.json)")


def kept_iteration(weights: str | Path, meta: dict[str, Any]) -> int | None:
    """The training iteration of a checkpoint: from the name ``train --keep-every`` gives it
    (``itNNNNN``), else its record's."""
    stem = Path(weights).stem
    return int(stem[2:]) if stem[:2] == "it" and stem[2:].isdigit() else meta.get("iteration")


def parse_ingredient(text: str) -> tuple[Path, float]:
    """``PATH`` or ``PATH:SHARE``."""
    path, sep, share = text.rpartition(":")
    if sep and path and share.replace(".", "", 1).isdigit():
        return Path(path), float(share)
    return Path(text), 1.0


def make_soup(ingredients: list[tuple[Path, float]], out: str | Path) -> Path:
    """Average the ingredients (same architecture, checked) and write ``out`` + its sidecar."""
    paths = [Path(p) for p, _ in ingredients]
    metas = [checkpoint_meta(p) for p in paths]
    for p, m in zip(paths[1:], metas[1:]):
        if _architecture(m["config"]) != _architecture(metas[0]["config"]):
            raise ValueError(f"{p}: its config {_architecture(m['config'])} is not "
                             f"{paths[0]}'s {_architecture(metas[0]['config'])}")
    tensors = average_weights(paths, [s for _, s in ingredients])
    # the first ingredient's record, less what described that one file (its exports, scores, step)
    meta = {k: v for k, v in metas[0].items() if k not in ("optimizer_param_groups", "onnx", "int8", "metrics", "iteration")}
    total = sum(s for _, s in ingredients)
    meta["soup"] = [{"file": str(p), "share": round(s / total, 6), "sha256": file_sha256(p),
                     "iteration": kept_iteration(p, m)} for (p, s), m in zip(ingredients, metas)]
    return write_checkpoint(out, tensors, meta, meta.get("format", "product_augment.cut/1"))


def main() -> None:
    import click

    @click.command()
    @click.option("--out", required=True, type=click.Path(dir_okay=False, path_type=Path))
    @click.argument("ingredients", nargs=-1, required=True)
    def cli(out: Path, ingredients: tuple[str, ...]) -> None:
        """Average CutNet checkpoints INGREDIENTS (PATH or PATH:SHARE) into OUT."""
        try:
            path = make_soup([parse_ingredient(t) for t in ingredients], out)
        except (ValueError, FileNotFoundError) as exc:
            raise click.ClickException(str(exc)) from None
        click.echo(f"wrote {path} ({len(ingredients)} ingredients)")

    cli()


if __name__ == "__main__":
    main()
