"""Contact sheet of `augment run` outputs: one row per output folder, inputs as columns.

    python scripts/sheets/make_readme_sheet.py --out docs/img/presets.png out/catalog-white out/studio ...
"""
from __future__ import annotations

from pathlib import Path

import click
import numpy as np
from PIL import Image, ImageDraw, ImageFont

FONT = Path(__file__).resolve().parents[2] / "src/product_augment/assets/fonts/DejaVuSans-Bold.ttf"


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


@click.command(help=__doc__)
@click.argument("folders", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("--out", type=click.Path(path_type=Path), required=True)
@click.option("--cols", type=int, default=6, show_default=True)
@click.option("--size", type=int, default=220, show_default=True)
@click.option("--variant", default="__v00", show_default=True)
def main(folders: tuple[Path, ...], out: Path, cols: int, size: int, variant: str) -> None:
    label_w = 150
    font = ImageFont.truetype(str(FONT), 15)
    sheet = Image.new("RGB", (label_w + cols * size, len(folders) * size), "white")
    draw = ImageDraw.Draw(sheet)
    for r, folder in enumerate(folders):
        files = sorted(p for p in (folder / "images").glob(f"*{variant}.*"))[: cols]
        draw.text((8, r * size + size // 2 - 8), folder.name, fill=(20, 20, 20), font=font)
        for c, f in enumerate(files):
            sheet.paste(tile(f, size), (label_w + c * size, r * size))
    out.parent.mkdir(parents=True, exist_ok=True)
    sheet.save(out, quality=88) if out.suffix == ".jpg" else sheet.save(out)
    print(f"wrote {out} ({sheet.width}×{sheet.height})")


if __name__ == "__main__":
    main()
