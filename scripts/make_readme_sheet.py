"""Contact sheet of `augment run` outputs: one row per output folder, inputs as columns.

    python scripts/make_readme_sheet.py --out docs/img/presets.png out/catalog-white out/studio ...
"""
from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFont

FONT = Path(__file__).resolve().parents[1] / "src/product_augment/assets/fonts/DejaVuSans-Bold.ttf"


def checker(size: int, cell: int = 16) -> Image.Image:
    yy, xx = np.mgrid[:size, :size]
    a = np.where(((yy // cell) + (xx // cell)) % 2 == 0, 235, 200).astype(np.uint8)
    return Image.fromarray(np.dstack([a, a, a]))


def tile(path: Path, size: int) -> Image.Image:
    im = Image.open(path)
    im.thumbnail((size, size))
    bg = checker(size) if im.mode == "RGBA" else Image.new("RGB", (size, size), "white")
    bg.paste(im, ((size - im.width) // 2, (size - im.height) // 2), im if im.mode == "RGBA" else None)
    return bg


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("folders", nargs="+", type=Path)
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--cols", type=int, default=6)
    ap.add_argument("--size", type=int, default=220)
    ap.add_argument("--variant", default="__v00")
    a = ap.parse_args()
    label_w = 150
    font = ImageFont.truetype(str(FONT), 15)
    sheet = Image.new("RGB", (label_w + a.cols * a.size, len(a.folders) * a.size), "white")
    draw = ImageDraw.Draw(sheet)
    for r, folder in enumerate(a.folders):
        files = sorted(p for p in (folder / "images").glob(f"*{a.variant}.*"))[: a.cols]
        draw.text((8, r * a.size + a.size // 2 - 8), folder.name, fill=(20, 20, 20), font=font)
        for c, f in enumerate(files):
            sheet.paste(tile(f, a.size), (label_w + c * a.size, r * a.size))
    a.out.parent.mkdir(parents=True, exist_ok=True)
    sheet.save(a.out, quality=88) if a.out.suffix == ".jpg" else sheet.save(a.out)
    print(f"wrote {a.out} ({sheet.width}×{sheet.height})")


if __name__ == "__main__":
    main()
