"""Contact sheet of the shipped segmenter on photos the data pipeline did not render.

Runs `Predictor` on `examples/` and on scikit-image's bundled CC0 photos, tints every detection
with score ≥ --threshold and labels it "class score"; the top detection (the one the pipeline
uses) is drawn first. Also prints one line per image (top class, score, mask area share) so the
by-eye review in docs/BENCHMARKS.md can quote it. With ``--real DIR`` (an image + mask folder such
as data/sets/shop/test, photographed objects) it appends the ``--real-worst`` lowest-IoU photos
(the failures) and ``--real-typical`` others: ground truth outlined green, the kept mask magenta,
labelled "IoU, predicted class".

    python scripts/sheets/make_segmenter_sheet.py --weights weights/yolact_ws_effnetlite0.safetensors \\
        --real data/sets/shop/test --out docs/img/segmenter.png
"""
from __future__ import annotations

from pathlib import Path

import click
import numpy as np
from PIL import Image

SKIMAGE_PHOTOS = ("coffee.png", "chelsea.png", "astronaut.png", "rocket.jpg", "motorcycle_left.png",
                  "clock_motion.png", "camera.png")


def skimage_photos() -> list[tuple[str, np.ndarray]]:
    import skimage.data

    root = Path(skimage.data.__file__).parent
    return [(f"skimage:{name}", np.asarray(Image.open(root / name).convert("RGB"))) for name in SKIMAGE_PHOTOS]


@click.command(help=__doc__)
@click.option("--weights", default="weights/yolact_ws_effnetlite0.safetensors", show_default=True)
@click.option("--examples", type=click.Path(path_type=Path), default=Path("examples"), show_default=True)
@click.option("--out", type=click.Path(path_type=Path), default=Path("docs/img/segmenter.png"), show_default=True)
@click.option("--threshold", type=float, default=0.3, show_default=True)
@click.option("--tile", "tile_size", type=int, default=256, show_default=True)
@click.option("--cols", type=int, default=5, show_default=True)
@click.option("--real", type=click.Path(path_type=Path), default=None, help="image + mask folder of real photos")
@click.option("--real-worst", type=int, default=5, show_default=True)
@click.option("--real-typical", type=int, default=5, show_default=True)
def main(weights: str, examples: Path, out: Path, threshold: float, tile_size: int, cols: int,
         real: Path | None, real_worst: int, real_typical: int) -> None:
    import torch

    from product_augment.classes import CLASS_NAMES
    from product_augment.data.preview import overlay
    from product_augment.models.yolact.predict import Predictor

    torch.set_num_threads(1)
    pred = Predictor.from_weights(weights, score_threshold=threshold)
    items = [(p.name, np.asarray(Image.open(p).convert("RGB"))) for p in sorted(examples.glob("*.jpg"))]
    items += skimage_photos()
    tiles = []
    for name, img in items:
        soft = pred.soft(img)
        masks = [m >= 0.5 for m in soft.masks]
        labels = [f"{CLASS_NAMES[c - 1]} {s:.2f}" for c, s in zip(soft.classes, soft.scores)]
        if masks:
            share = masks[0].mean()
            print(f"{name:28s} top={labels[0]:18s} area={share:.2f} dets={len(masks)}")
        else:
            print(f"{name:28s} no detection ≥ {threshold}")
        im = Image.fromarray(overlay(img, masks, labels))
        im.thumbnail((tile_size, tile_size))
        tile = Image.new("RGB", (tile_size, tile_size), "white")
        tile.paste(im, ((tile_size - im.width) // 2, (tile_size - im.height) // 2))
        tiles.append(tile)
    if real is not None:
        tiles += real_tiles(pred, real, real_worst, real_typical, tile_size)
    rows = -(-len(tiles) // cols)
    sheet = Image.new("RGB", (cols * tile_size, rows * tile_size), "white")
    for k, t in enumerate(tiles):
        sheet.paste(t, ((k % cols) * tile_size, (k // cols) * tile_size))
    out.parent.mkdir(parents=True, exist_ok=True)
    sheet.save(out)
    print(f"wrote {out} ({sheet.width}×{sheet.height})")


def real_tiles(pred, folder: Path, worst: int, typical: int, tile: int) -> list:
    import cv2

    from product_augment.classes import CLASS_NAMES

    rows = []
    for p in sorted((folder / "images").glob("*.jpg")):
        img = np.asarray(Image.open(p).convert("RGB"))
        gt = np.asarray(Image.open(folder / "masks" / f"{p.stem}.png")) > 127
        soft = pred.soft(img)
        top = soft.masks[0] >= 0.5 if len(soft.masks) else np.zeros_like(gt)
        iou = float((top & gt).sum() / max((top | gt).sum(), 1))
        cls = CLASS_NAMES[int(soft.classes[0]) - 1] if len(soft.masks) else "none"
        rows.append((iou, p.stem, img, gt, top, cls))
    rows.sort(key=lambda r: r[0])
    rest = rows[worst:]
    step = max(1, len(rest) // max(typical, 1))
    chosen = rows[:worst] + rest[::step][:typical]
    out = []
    for iou, stem, img, gt, top, cls in chosen:
        im = img.copy()
        for m, col in ((gt, (0, 200, 0)), (top, (255, 0, 255))):
            cs, _ = cv2.findContours(m.astype(np.uint8), cv2.RETR_LIST, cv2.CHAIN_APPROX_NONE)
            cv2.drawContours(im, cs, -1, col, max(1, max(im.shape[:2]) // 200))
        t = Image.fromarray(im)
        t.thumbnail((tile, tile - 16))
        canvas = Image.new("RGB", (tile, tile), "white")
        canvas.paste(t, ((tile - t.width) // 2, 16))
        arr = np.asarray(canvas).copy()
        cv2.putText(arr, f"{stem[-3:]} IoU {iou:.2f} {cls}", (4, 12), cv2.FONT_HERSHEY_SIMPLEX, 0.4, (0, 0, 0), 1,
                    cv2.LINE_AA)
        out.append(Image.fromarray(arr))
        print(f"real {stem}: IoU {iou:.3f} top class {cls}")
    return out


if __name__ == "__main__":
    main()
