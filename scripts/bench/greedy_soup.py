"""Greedy CutNet soup on the real-photo *validation* half (Wortsman et al. 2022, "Model soups").

    python scripts/bench/greedy_soup.py --start weights/cut_effnetlite0.safetensors --out runs/soup \
        runs/cut_a/it00*.safetensors runs/cut_b/it00*.safetensors [--jobs 2]

1. Every candidate checkpoint is scored alone with the shipped post-processing
   (`eval_cut_checkpoint.py`: mean IoU of `real_cut.py` on data/real/all/val.txt; a candidate
   that already has its `<stem>.val.json` is not scored again).
2. The soup starts as `--start` alone (the shipped weights: the soup never leaves them out) and
   takes the candidates best first (the best `--top` of them); each is kept when the uniform average of the soup with it
   scores higher on val than the soup without it.
Every soup tried is written under `--out` (`soupNN.safetensors`, its sidecar naming the
ingredients) with its score; `greedy.json` records the path taken. The test half is never read.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import click

ROOT = Path(__file__).resolve().parents[2]
EVAL = ROOT / "scripts" / "bench" / "eval_cut_checkpoint.py"


def _score(weights: Path) -> float:
    """Mean IoU on the val half (cached in `<stem>.val.json`)."""
    cached = weights.with_suffix(".val.json")
    if not cached.exists():
        out = subprocess.run([sys.executable, str(EVAL), str(weights)], capture_output=True, text=True,
                             env={**os.environ, "OMP_NUM_THREADS": "1"}, check=False)
        if not cached.exists():
            raise click.ClickException(f"{weights}: no score ({out.stdout[-500:]} {out.stderr[-1500:]})")
    summary = json.loads(cached.read_text())["summary"]
    return float(next(iter(summary.values()))["mean_iou"])


def _fresh(path: Path) -> Path:
    """A soup's file name, with what an earlier run left under it (ONNX, score) removed."""
    for suffix in (".onnx", ".val.json"):
        path.with_suffix(suffix).unlink(missing_ok=True)
    return path


@click.command()
@click.option("--start", required=True, type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="Weights every soup keeps (the shipped cut).")
@click.option("--out", required=True, type=click.Path(file_okay=False, path_type=Path))
@click.option("--jobs", default=2, show_default=True, help="Candidates scored at once (one thread each).")
@click.option("--top", default=0, show_default=True, help="Offer only the best TOP candidates alone to the soup (0: all).")
@click.argument("candidates", nargs=-1, required=True, type=click.Path(exists=True, dir_okay=False, path_type=Path))
def main(start: Path, out: Path, jobs: int, top: int, candidates: tuple[Path, ...]) -> None:
    sys.path.insert(0, str(ROOT / "src"))
    from product_augment.models.cut.soup import make_soup

    out.mkdir(parents=True, exist_ok=True)
    with ThreadPoolExecutor(max(1, jobs)) as pool:
        alone = dict(zip(candidates, pool.map(_score, candidates)))
    for c, s in sorted(alone.items(), key=lambda kv: -kv[1]):
        click.echo(f"alone\t{s:.4f}\t{c}")
    # the start's own score, as a soup of one (its sidecar and ONNX as the segment step reads them)
    base = make_soup([(start, 1.0)], _fresh(out / "soup00.safetensors"))
    best = _score(base)
    click.echo(f"soup00\t{best:.4f}\t{start}")
    kept, path = [start], [{"soup": base.name, "added": str(start), "mean_iou": best, "kept": True}]
    offered = sorted(candidates, key=lambda c: -alone[c])[: top or None]
    for i, cand in enumerate(offered, 1):
        trial = make_soup([(p, 1.0) for p in [*kept, cand]], _fresh(out / f"soup{i:02d}.safetensors"))
        score = _score(trial)
        keep = score > best
        click.echo(f"soup{i:02d}\t{score:.4f}\t{'kept' if keep else 'dropped'}\t{cand}")
        path.append({"soup": trial.name, "added": str(cand), "alone": alone[cand], "mean_iou": score, "kept": keep})
        if keep:
            kept.append(cand)
            best = score
    (out / "greedy.json").write_text(json.dumps({"start": str(start), "kept": [str(p) for p in kept],
                                                 "mean_iou": best, "path": path}, indent=2))
    click.echo(f"greedy soup: {len(kept)} ingredients, real val mean IoU {best:.4f}")


if __name__ == "__main__":
    main()
