"""Build the shipped background textures in textures/ (512×512 JPEG, seamless).

    python scripts/assets/make_textures.py [--mypaint DIR] [--out textures] [--sheet docs/img/textures.png]

Three sources, all redistributable (see LICENSES/ASSETS.md):
  * procedural textures from procedural.py beside this script (this project's code; fixed seeds);
  * scikit-image's bundled CC0 photos grass / gravel, colourised and made tileable (brick is left
    out: the cross-fade that makes it tileable shows as doubled bricks);
  * MyPaint's CC0 paper backgrounds (Debian package mypaint-data-extras; pass the folder
    usr/share/mypaint/backgrounds of the extracted package with --mypaint).
"""
from __future__ import annotations

from pathlib import Path

import click
import cv2
import numpy as np
import procedural as P  # scripts/assets/procedural.py (the script's folder is on sys.path)

SIZE = 512


def procedural_set() -> dict[str, np.ndarray]:
    def g(seed: int) -> np.random.Generator:
        return np.random.default_rng(seed)

    wood_light = [(148, 104, 64), (196, 150, 100), (222, 184, 135)]
    wood_dark = [(62, 36, 22), (104, 64, 38), (140, 92, 56)]
    wood_grey = [(120, 112, 104), (160, 152, 142), (192, 186, 176)]
    return {
        "proc-wood-oak": P.wood(g(1), SIZE, wood_light, planks=4),
        "proc-wood-walnut": P.wood(g(2), SIZE, wood_dark, planks=3),
        "proc-wood-weathered": P.wood(g(3), SIZE, wood_grey, planks=5, rings=10),
        "proc-parquet-diagonal": P.diagonal_parquet(g(4), SIZE, [(150, 100, 60), (205, 160, 110)]),
        "proc-marble-white": P.marble(g(5), SIZE, (236, 234, 230), (128, 128, 132)),
        "proc-marble-black": P.marble(g(6), SIZE, (38, 38, 42), (205, 200, 190), veins=2, sharp=9.0),
        "proc-marble-green": P.marble(g(7), SIZE, (40, 78, 64), (190, 210, 196), veins=4, sharp=7.0),
        "proc-concrete-light": P.concrete(g(8), SIZE, (188, 186, 180)),
        "proc-concrete-dark": P.concrete(g(9), SIZE, (92, 92, 94), contrast=0.3),
        "proc-granite-grey": P.granite(g(10), SIZE, [(120, 118, 116), (170, 168, 165), (40, 40, 42),
                                                     (225, 222, 218)], [4, 4, 2, 1]),
        "proc-granite-red": P.granite(g(11), SIZE, [(150, 90, 80), (190, 130, 115), (50, 40, 40),
                                                    (220, 200, 190)], [4, 3, 2, 1]),
        "proc-linen-natural": P.linen(g(12), SIZE, (204, 190, 166)),
        "proc-linen-blue": P.linen(g(13), SIZE, (84, 104, 140), threads=80),
        "proc-linen-white": P.linen(g(14), SIZE, (236, 232, 224), threads=110, contrast=0.16),
        "proc-paper-warm": P.paper(g(15), SIZE, (242, 234, 218)),
        "proc-paper-kraft": P.paper(g(16), SIZE, (176, 138, 96)),
        "proc-leather-brown": P.leather(g(17), SIZE, (120, 72, 42)),
        "proc-leather-black": P.leather(g(18), SIZE, (52, 48, 46)),
        "proc-terrazzo-light": P.terrazzo(g(19), SIZE, (232, 228, 220),
                                          [(200, 90, 70), (60, 60, 64), (230, 180, 80), (150, 150, 150),
                                           (110, 150, 130)]),
        "proc-terrazzo-pink": P.terrazzo(g(20), SIZE, (236, 208, 200),
                                         [(250, 250, 246), (160, 80, 80), (90, 70, 70), (220, 150, 130)]),
        "proc-bokeh-warm": P.bokeh(g(21), SIZE, [(30, 20, 16), (70, 45, 30)],
                                   [(255, 200, 120), (255, 160, 90), (255, 230, 180)]),
        "proc-bokeh-cool": P.bokeh(g(22), SIZE, [(12, 20, 36), (30, 48, 80)],
                                   [(140, 190, 255), (200, 220, 255), (120, 255, 230)]),
        "proc-metal-brushed": P.brushed_metal(g(23), SIZE, (176, 178, 182)),
        "proc-metal-gold": P.brushed_metal(g(24), SIZE, (196, 160, 96)),
        "proc-tiles-white": P.tiles(g(25), SIZE, (238, 238, 234), (170, 168, 164), n=4),
        "proc-tiles-blue": P.tiles(g(26), SIZE, (70, 120, 160), (220, 220, 215), n=8, jitter=0.08),
        "proc-plaster-sand": P.plaster(g(27), SIZE, (214, 196, 170)),
        "proc-plaster-sage": P.plaster(g(28), SIZE, (160, 172, 150)),
    }


def skimage_set() -> dict[str, np.ndarray]:
    from skimage import data

    def colourise(grey: np.ndarray, dark, light) -> np.ndarray:
        t = grey.astype(np.float32) / 255.0
        return P.to_uint8(P.ramp(t, [dark, light]))

    return {
        "skimage-grass": P.make_tileable(colourise(data.grass(), (22, 48, 14), (170, 210, 110))),
        "skimage-gravel": P.make_tileable(colourise(data.gravel(), (54, 50, 46), (214, 204, 190))),
    }


def mypaint_set(folder: Path) -> dict[str, np.ndarray]:
    out = {}
    for path in sorted(folder.glob("*/*.png")):
        img = cv2.cvtColor(cv2.imread(str(path), cv2.IMREAD_COLOR), cv2.COLOR_BGR2RGB)
        h, w = img.shape[:2]
        if (h, w) != (SIZE, SIZE):
            # resize the whole (already tileable) tile with wrap padding so it stays seamless
            p = 8
            padded = np.pad(img, ((p, p), (p, p), (0, 0)), mode="wrap")
            fx, fy = SIZE / w, SIZE / h
            big = cv2.resize(padded, (round((w + 2 * p) * fx), round((h + 2 * p) * fy)),
                             interpolation=cv2.INTER_AREA)
            ox, oy = round(p * fx), round(p * fy)
            img = big[oy:oy + SIZE, ox:ox + SIZE]
        if P.seam_score(img) > 2.0:  # a few are not quite seamless: cross-fade a narrow band
            img = P.make_tileable(img, blend=0.1)
        name = "mypaint-" + path.stem.lower().replace(" ", "-").replace("_", "-")
        out[name] = img
    return out


def contact_sheet(items: dict[str, np.ndarray], path: Path, thumb: int = 160, cols: int = 8) -> None:
    names = sorted(items)
    rows = -(-len(names) // cols)
    label_h = 18
    sheet = np.full((rows * (thumb + label_h), cols * thumb, 3), 255, np.uint8)
    for i, n in enumerate(names):
        r, c = divmod(i, cols)
        # 2×2 tiles, downscaled: seams would show as lines through the middle
        tile = np.tile(items[n], (2, 2, 1))
        t = cv2.resize(tile, (thumb, thumb), interpolation=cv2.INTER_AREA)
        y = r * (thumb + label_h)
        sheet[y:y + thumb, c * thumb:(c + 1) * thumb] = t
        short = n.replace("proc-", "").replace("mypaint-", "mp-")[:22]
        cv2.putText(sheet, short, (c * thumb + 3, y + thumb + 13),
                    cv2.FONT_HERSHEY_SIMPLEX, 0.38, (20, 20, 20), 1, cv2.LINE_AA)
    path.parent.mkdir(parents=True, exist_ok=True)
    cv2.imwrite(str(path), cv2.cvtColor(sheet, cv2.COLOR_RGB2BGR))


@click.command(help=__doc__)
@click.option("--out", type=click.Path(path_type=Path), default=Path("textures"), show_default=True)
@click.option("--mypaint", type=click.Path(path_type=Path), default=None, help="extracted usr/share/mypaint/backgrounds")
@click.option("--sheet", type=click.Path(path_type=Path), default=Path("docs/img/textures.png"), show_default=True)
@click.option("--only", default="", help="comma-separated name prefixes to (re)build")
def main(out: Path, mypaint: Path | None, sheet: Path, only: str) -> None:
    items = {**procedural_set(), **skimage_set()}
    if mypaint is not None:
        items.update(mypaint_set(mypaint))
    if only:
        items = {k: v for k, v in items.items() if k.startswith(tuple(only.split(",")))}
    out.mkdir(parents=True, exist_ok=True)
    for name, img in items.items():
        cv2.imwrite(str(out / f"{name}.jpg"), cv2.cvtColor(img, cv2.COLOR_RGB2BGR),
                    [cv2.IMWRITE_JPEG_QUALITY, 90])
    all_items = {p.stem: cv2.cvtColor(cv2.imread(str(p)), cv2.COLOR_BGR2RGB)
                 for p in sorted(out.glob("*.jpg"))}
    contact_sheet(all_items, sheet)
    print(f"{len(items)} textures written to {out}; contact sheet {sheet}")


if __name__ == "__main__":
    main()
