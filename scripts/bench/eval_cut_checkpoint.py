"""A CutNet training checkpoint on the real photos, with the shipped post-processing.

    python scripts/bench/eval_cut_checkpoint.py runs/cut_g/it00600.safetensors [--split val] [REAL_CUT OPTIONS...]

A kept checkpoint (`train --keep-every N`: `itNNNNN.safetensors`) has no sidecar; this writes one
beside it (the run's config from its `last.json`, the shipped cut's `postprocess`; a soup written
by `python -m product_augment.models.cut.soup` keeps its own record of its ingredients), exports
the ONNX file the segment step loads, and runs `real_cut.py` on `data/real/all/<split>.txt` (one thread),
printing its summary line. Choose on `val`; `test` is for the one candidate chosen there.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import click

ROOT = Path(__file__).resolve().parents[2]


@click.command(context_settings={"ignore_unknown_options": True})
@click.argument("checkpoint", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--split", default="val", show_default=True, type=click.Choice(["val", "test"]))
@click.argument("extra", nargs=-1, type=click.UNPROCESSED)
def main(checkpoint: Path, split: str, extra: tuple[str, ...]) -> None:
    from product_augment.models.cut.soup import checkpoint_meta, kept_iteration

    shipped = json.loads((ROOT / "weights" / "cut_effnetlite0.json").read_text())
    last = checkpoint_meta(checkpoint)  # its own sidecar (a soup, or scored before), else its run's last.json
    meta = {k: last[k] for k in ("format", "config", "lr", "seed", "encoder_init", "soup") if k in last}
    meta["iteration"] = kept_iteration(checkpoint, last)
    meta["postprocess"] = shipped["postprocess"]
    checkpoint.with_suffix(".json").write_text(json.dumps(meta, indent=2))
    if not checkpoint.with_suffix(".onnx").exists():
        from product_augment.models.cut.export import export_cut
        export_cut(checkpoint)
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    cmd = [sys.executable, str(ROOT / "scripts/bench/real_cut.py"), str(ROOT / "data/real/all"), "--stems",
           str(ROOT / f"data/real/all/{split}.txt"), "--cut-weights", str(checkpoint),
           "--json", str(checkpoint.with_suffix(f".{split}.json")), *extra]
    out = subprocess.run(cmd, capture_output=True, text=True, env=env, check=False)
    lines = [x for x in out.stdout.splitlines() if x.startswith(("method", "ours"))]
    click.echo("\n".join(lines) if lines else out.stderr[-2000:])


if __name__ == "__main__":
    main()
