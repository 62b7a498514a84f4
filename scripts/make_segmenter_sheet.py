"""Contact sheet of the shipped segmenter on photos the data pipeline did not render.

Runs `Predictor` on `examples/` and on scikit-image's bundled CC0 photos, tints every detection
with score ≥ --threshold and labels it "class score"; the top detection (the one the pipeline
uses) is drawn first. Also prints one line per image (top class, score, mask area share) so the
by-eye review in docs/BENCHMARKS.md can quote it. With ``--real DIR`` (an image + mask folder such
as data/sets/shop/test, photographed objects) it appends the ``--real-worst`` lowest-IoU photos
(the failures) and ``--real-typical`` others: ground truth outlined green, the kept mask magenta,
labelled "IoU, predicted class".

    python scripts/make_segmenter_sheet.py --weights weights/yolact_ws_effnetlite0.safetensors \\
        --real data/sets/shop/test --out docs/img/segmenter.png
"""
from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
from PIL import Image

SKIMAGE_PHOTOS = ("coffee.png", "chelsea.png", "astronaut.png", "rocket.jpg", "motorcycle_left.png",
                  "clock_motion.png", "camera.png")


def skimage_photos() -> list[tuple[str, np.ndarray]]:
    import skimage.data

    root = Path(skimage.data.__file__).parent
    return [(f"skimage:{name}", np.asarray(Image.open(root / name).convert("RGB"))) for name in SKIMAGE_PHOTOS]


def main() -> None:
    import torch

    from product_augment.classes import CLASS_NAMES
    from product_augment.data.preview import overlay
    from product_augment.models.yolact.predict import Predictor

    ap = argparse.ArgumentParser()
    ap.add_argument("--weights", default="weights/yolact_ws_effnetlite0.safetensors")
    ap.add_argument("--examples", type=Path, default=Path("examples"))
    ap.add_argument("--out", type=Path, default=Path("docs/img/segmenter.png"))
    ap.add_argument("--threshold", type=float, default=0.3)
    ap.add_argument("--tile", type=int, default=256)
    ap.add_argument("--cols", type=int, default=5)
    ap.add_argument("--real", type=Path, default=None, help="image + mask folder of real photos")
    ap.add_argument("--real-worst", type=int, default=5)
    ap.add_argument("--real-typical", type=int, default=5)
    a = ap.parse_args()
    torch.set_num_threads(1)
    pred = Predictor.from_weights(a.weights, score_threshold=a.threshold)
    items = [(p.name, np.asarray(Image.open(p).convert("RGB"))) for p in sorted(a.examples.glob("*.jpg"))]
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
            print(f"{name:28s} no detection ≥ {a.threshold}")
        im = Image.fromarray(overlay(img, masks, labels))
        im.thumbnail((a.tile, a.tile))
        tile = Image.new("RGB", (a.tile, a.tile), "white")
        tile.paste(im, ((a.tile - im.width) // 2, (a.tile - im.height) // 2))
        tiles.append(tile)
    if a.real is not None:
        tiles += real_tiles(pred, a.real, a.real_worst, a.real_typical, a.tile)
    rows = -(-len(tiles) // a.cols)
    sheet = Image.new("RGB", (a.cols * a.tile, rows * a.tile), "white")
    for k, t in enumerate(tiles):
        sheet.paste(t, ((k % a.cols) * a.tile, (k // a.cols) * a.tile))
    a.out.parent.mkdir(parents=True, exist_ok=True)
    sheet.save(a.out)
    print(f"wrote {a.out} ({sheet.width}×{sheet.height})")


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
