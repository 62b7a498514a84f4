"""Contact sheet of difficult product edges (issue 12): 200 % crops before / after / exact composite.

    python scripts/sheets/make_edges_sheet.py --before-src /tmp/orig/src [--out docs/img/edges.png]

`--before-src` is the `src/` folder of an older checkout (e.g. `git archive HEAD src | tar -x -C
/tmp/orig`); the same cases are rendered with it in a subprocess. Rows: procedural foliage / fringe /
glass cut-outs over a photo-like and a textured old background, a bank cut-out (RGBA, alpha
backend) when `data/bank/cutouts` exists, and the shipped orchid example with the default
segmenter (no exact composite there: the third column shows the input).
"""
from __future__ import annotations

import os

os.environ.setdefault("OMP_NUM_THREADS", "1")

import subprocess
import sys
import tempfile
from pathlib import Path

import click
import cv2
import numpy as np
from PIL import Image

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
TILE, ZOOM = 112, 2


def cases() -> list[dict]:
    from tests.steps.cutouts import backdrop, composite, foliage_cutout

    out = []
    for i, (light, old) in enumerate([(False, "photo"), (True, "texture")]):
        f, a = foliage_cutout(256, np.random.default_rng(10 + i), light=light)
        new = (24, 26, 32) if light else (232, 230, 224)
        img = composite(f, a, backdrop(old, *a.shape, np.random.default_rng(i), tone=30 if light else 235))
        out.append({"name": f"procedural, {old} → {'dark' if light else 'light'}", "image": img, "alpha": a,
                    "f": f, "bg": new, "seg": "masks"})
    bank = ROOT / "data" / "bank" / "cutouts" / "plant"
    files = sorted(bank.glob("fluent*.png")) if bank.is_dir() else []
    if files:
        rgba = np.asarray(Image.open(files[0]).convert("RGBA"))
        rgba = cv2.copyMakeBorder(rgba, 24, 24, 24, 24, cv2.BORDER_CONSTANT, value=0)
        a = rgba[..., 3].astype(np.float32) / 255
        f = np.ascontiguousarray(rgba[..., :3])
        out.append({"name": f"bank {files[0].stem} (alpha)", "image": f, "alpha": a, "f": f,
                    "bg": (24, 26, 32), "seg": "alpha"})
    photo = cv2.cvtColor(cv2.imread(str(ROOT / "examples" / "plant_orchids.jpg")), cv2.COLOR_BGR2RGB)
    out.append({"name": "orchid example (yolact)", "image": photo, "alpha": None, "f": None,
                "bg": (160, 90, 90), "seg": "yolact"})
    return out


def render(dump: Path) -> None:
    from product_augment.presets.loader import load_preset
    from product_augment.sample import Sample

    tmp = Path(tempfile.mkdtemp(prefix="edges-sheet-"))
    res = {}
    for k, c in enumerate(cases()):
        if c["seg"] == "masks":
            (tmp / "m").mkdir(exist_ok=True)
            Image.fromarray(np.rint(c["alpha"] * 255).astype(np.uint8)).save(tmp / "m" / f"c{k}.png")
            seg, alpha = f"{{backend: masks, path: {tmp / 'm'}}}", None
        elif c["seg"] == "alpha":
            seg, alpha = "{backend: alpha}", c["alpha"]
        else:
            seg, alpha = f"{{backend: yolact, weights: {ROOT / 'weights' / 'yolact_ws_effnetlite0.safetensors'}}}", None
        bg = f"{{kind: solid, color: [{c['bg'][0]}, {c['bg'][1]}, {c['bg'][2]}], canvas: null, scale: null}}"
        p = tmp / "p.yaml"
        p.write_text(f"version: 1\nsteps:\n  - segment: {seg}\n  - palette: {{}}\n  - background: {bg}\n")
        out = load_preset(p).build_pipeline()(Sample(image=c["image"], alpha=alpha, meta={"relpath": f"c{k}.png"}),
                                             seed=0, relpath=f"c{k}.png")
        res[f"c{k}"] = out.image
    np.savez_compressed(dump, **res)


@click.command(help=__doc__)
@click.option("--before-src", type=click.Path(path_type=Path), default=None)
@click.option("--out", type=click.Path(path_type=Path), default=ROOT / "docs" / "img" / "edges.png", show_default=True)
@click.option("--dump", type=click.Path(path_type=Path), default=None, hidden=True)
def main(before_src: Path | None, out: Path, dump: Path | None) -> None:
    if dump:
        render(dump)
        return
    tmp = Path(tempfile.mkdtemp(prefix="edges-sheet-"))
    env = dict(os.environ)
    outs = {}
    for label, src in (("before", before_src), ("after", None)):
        if src is None and label == "before":
            continue
        e = dict(env, PYTHONPATH=str(src)) if src else env
        subprocess.run([sys.executable, __file__, "--dump", str(tmp / f"{label}.npz")], env=e, check=True)
        outs[label] = np.load(tmp / f"{label}.npz")
    from tests.steps.cutouts import composite

    rows = []
    for k, c in enumerate(cases()):
        after = outs["after"][f"c{k}"]
        before = outs["before"][f"c{k}"] if "before" in outs else np.zeros_like(after)
        if c["f"] is not None:
            exact = composite(c["f"], c["alpha"], np.broadcast_to(np.array(c["bg"], np.uint8), c["f"].shape))
        else:
            exact = c["image"]
        # the crop where before and after differ most (the defect being fixed), else the edge
        diff = np.abs(before.astype(np.float32) - after.astype(np.float32)).sum(axis=2)
        score = cv2.boxFilter(diff, -1, (TILE, TILE))
        y, x = np.unravel_index(int(np.argmax(score)), score.shape)
        h, w = after.shape[:2]
        y0 = int(np.clip(y - TILE // 2, 0, h - TILE))
        x0 = int(np.clip(x - TILE // 2, 0, w - TILE))
        tiles = []
        for im in (before, after, exact):
            t = cv2.resize(im[y0:y0 + TILE, x0:x0 + TILE], None, fx=ZOOM, fy=ZOOM, interpolation=cv2.INTER_NEAREST)
            tiles.append(cv2.copyMakeBorder(t, 0, 0, 0, 6, cv2.BORDER_CONSTANT, value=(255, 255, 255)))
        row = np.hstack(tiles)
        label = np.full((22, row.shape[1], 3), 255, np.uint8)
        cv2.putText(label, c["name"], (4, 16), cv2.FONT_HERSHEY_SIMPLEX, 0.5, (0, 0, 0), 1, cv2.LINE_AA)
        rows.append(np.vstack([label, row]))
    head = np.full((26, rows[0].shape[1], 3), 255, np.uint8)
    for i, t in enumerate(("before", "after", "exact composite (orchid: input)")):
        cv2.putText(head, t, (4 + i * (TILE * ZOOM + 6), 18), cv2.FONT_HERSHEY_SIMPLEX, 0.55, (0, 0, 0), 1,
                    cv2.LINE_AA)
    sheet = np.vstack([head] + rows)
    out.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(sheet).save(out, optimize=True)
    print(f"{out}: {sheet.shape[1]}×{sheet.shape[0]}")


if __name__ == "__main__":
    main()
