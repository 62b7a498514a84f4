"""Contact sheet of the learned shadow: the same products with drop vs realistic vs the
physically computed ground truth → docs/img/shadows-learned.png.

    python scripts/sheets/shadow_learned_sheet.py [--out docs/img/shadows-learned.png] [--tile 256]

Rows: held-out bank views (objects of the test split, never seen in training) on a light plate,
then the packshot photos of examples/ (JPEGs made by the project's renderer from CC0 models,
with their own baked-in floor shadow cut away: segmented from the JPEG by the shipped segmenter
and put on a light plate; no ground truth for those). Each row uses one light for all three columns (azimuth, elevation, size
as in the row's label; opacity 0.55, contact 0.85, floor tilt = the camera's for bank views).
The ground truth is computed like the training pairs (`data/shadow_pairs.py`), with 24 instead
of 6 directions over the light's disc, at the tile's size.
"""
from __future__ import annotations

from pathlib import Path

import click
import cv2
import numpy as np
from pydantic import TypeAdapter

from product_augment import compose
from product_augment.data import shadow_pairs as sp
from product_augment.models.shadow import frame
from product_augment.ops import shadow as ops
from product_augment.sample import Instance, Sample
from product_augment.steps import shadow as shadow_step

PLATE = (238, 236, 232)
# classes of the held-out rows (thin and open structures first); photos: (file, azimuth, elevation, size)
BANK_ROWS = ["chair", "chair", "lamp", "handbag", "backpack", "cup", "plant", "sofa"]
PHOTOS = [("chair.jpg", 60.0, 40.0, 0.06), ("desk_lamp.jpg", -60.0, 45.0, 0.08),
          ("handbag.jpg", 40.0, 40.0, 0.1)]


def _steps(az, el, size, tilt):
    adapter = TypeAdapter(shadow_step.Config)
    common = {"azimuth": az, "elevation": el, "size": size, "floor_tilt": tilt}
    return (shadow_step.build(adapter.validate_python({"kind": "drop", **common})),
            shadow_step.build(adapter.validate_python({"kind": "realistic", **common})))


def _on_plate(rgb: np.ndarray, alpha: np.ndarray) -> Sample:
    plate = compose.solid((alpha.shape[1], alpha.shape[0]), PLATE)
    image = np.clip(alpha[..., None] * rgb + (1 - alpha[..., None]) * plate + 0.5, 0, 255).astype(np.uint8)
    return Sample(image=image, alpha=alpha, instances=(Instance.from_mask(1, alpha > 0.5),), plate=plate)


def _label(img: np.ndarray, text: str) -> np.ndarray:
    img = img.copy()
    cv2.putText(img, text, (6, 16), cv2.FONT_HERSHEY_SIMPLEX, 0.42, (30, 30, 30), 1, cv2.LINE_AA)
    return img


def bank_row(cutout: dict, bank: Path, entries: dict, tile: int, rng) -> tuple[list[np.ndarray], str]:
    entry = entries[cutout["source_id"]]
    model = sp.prepare_model(entry.model_path, entry.rotation, entry.size_cm)
    verts, faces = sp.simplify(*sp.mesh_arrays(model), cells=320)
    light = sp.sample_light(rng)
    light["elevation"] = float(np.clip(light["elevation"], 30, 70))
    sp.KEY_SAMPLES = 24
    view = sp.fast_view((model, verts, faces), cutout, bank, [light], rng, res=tile)
    rgba = view["rgba"]
    alpha = rgba[..., 3].astype(np.float32) / 255
    sample = _on_plate(rgba[..., :3].astype(np.float32), alpha)
    tilt = float(np.sin(np.radians(cutout["view"]["elevation"])))
    drop, real = _steps(light["azimuth"], light["elevation"], light["size"], tilt)
    gt = frame.combine(view["casts"][0], view["ao"], 0.55, 0.85)
    truth = compose.paint_under(sample, ops.Layer(gt.astype(np.float32), None, 0, 0), "shadow", shadow=True)
    text = f"{cutout['file'].split('/')[1]}  az {light['azimuth']:.0f} el {light['elevation']:.0f} " \
           f"size {light['size']:.2f}"
    return [drop(sample, rng).image, real(sample, rng).image, truth.image], text


def photo_row(path: Path, az, el, size, tile: int) -> list[np.ndarray]:
    from product_augment.io import read_image
    from product_augment.steps import segment

    seg = segment.build(TypeAdapter(segment.Config).validate_python(
        {"backend": "yolact", "weights": "weights/yolact_ws_effnetlite0.safetensors"},
        context={"base_dir": "."}))
    rgb, _ = read_image(path)
    s = seg(Sample(image=rgb, meta={"relpath": path.name}), np.random.default_rng(0))
    fp = ops.find_footprint(s.alpha)
    canvas = frame.canvas_for(fp.box, fp.base_y)
    a = frame.crop(s.alpha, canvas, tile)
    prem = frame.crop(rgb.astype(np.float32) * s.alpha[..., None], canvas, tile)
    col = np.where(a[..., None] > 1e-3, prem / np.maximum(a[..., None], 1e-3), 0)
    sample = _on_plate(col, a)
    drop, real = _steps(az, el, size, 0.3)
    rng = np.random.default_rng(0)
    blank = np.full_like(sample.image, 255)
    cv2.putText(blank, "packshot photo: no ground truth", (10, tile // 2), cv2.FONT_HERSHEY_SIMPLEX, 0.45,
                (90, 90, 90), 1, cv2.LINE_AA)
    return [drop(sample, rng).image, real(sample, rng).image, blank]


@click.command(help=__doc__)
@click.option("--out", default="docs/img/shadows-learned.png", show_default=True)
@click.option("--tile", type=int, default=256, show_default=True)
@click.option("--bank", default="data/bank", show_default=True)
@click.option("--seed", type=int, default=3, show_default=True)
def main(out: str, tile: int, bank: str, seed: int) -> None:
    from product_augment.data import mapping, sources

    entries = {e.source_id: e for e in sources.load_catalog() if mapping.sh3d_class(e.name, e.category, e.id)}
    views = [v for v in sp.bank_views(Path(bank)) if v["split"] == "test" and v["view"]["elevation"] >= 12]
    rng = np.random.default_rng(seed)
    rows = []
    header = np.full((24, tile * 3, 3), 255, np.uint8)
    for j, name in enumerate(("drop (geometric)", "realistic (learned)", "ground truth (physics)")):
        cv2.putText(header, name, (j * tile + 8, 17), cv2.FONT_HERSHEY_SIMPLEX, 0.5, (30, 30, 30), 1, cv2.LINE_AA)
    rows.append(header)
    for cls in BANK_ROWS:
        cands = [v for v in views if v["file"].split("/")[1] == cls]
        if not cands:
            continue
        cutout = cands[int(rng.integers(len(cands)))]
        tiles, text = bank_row(cutout, Path(bank), entries, tile, rng)
        tiles[0] = _label(tiles[0], text)
        rows.append(np.concatenate(tiles, 1))
        print(f"{text}  [{cutout['source_id']}, {cutout['licence']}: {cutout['attribution']}]", flush=True)
    for name, az, el, size in PHOTOS:
        path = Path("examples") / name
        if path.exists():
            tiles = photo_row(path, az, el, size, tile)
            tiles[0] = _label(tiles[0], f"examples/{name}  az {az:.0f} el {el:.0f} size {size:.2f}")
            rows.append(np.concatenate(tiles, 1))
    sheet = np.concatenate(rows, 0)
    Path(out).parent.mkdir(parents=True, exist_ok=True)
    cv2.imwrite(out, cv2.cvtColor(sheet, cv2.COLOR_RGB2BGR))
    print(f"wrote {out} ({sheet.shape[1]}×{sheet.shape[0]})")


if __name__ == "__main__":
    main()
