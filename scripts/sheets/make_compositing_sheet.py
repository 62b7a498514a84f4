"""Contact sheet of compositing outputs: products × background kinds (+ logo / caption).

    python scripts/sheets/make_compositing_sheet.py [--out docs/img/compositing.png] [--seed 0]

Products: packshots from examples/ (matte by the classical segmenter) and a synthetic bottle.
The "photo" column uses two room photos rendered here from the shipped textures (a wall and a
perspective floor), since the repository ships no background photos.
"""
from __future__ import annotations

import tempfile
from pathlib import Path

import click
import cv2
import numpy as np
from pydantic import TypeAdapter

from product_augment.ops.classical_matte import classical_matte
from product_augment.ops.composite import checkerboard, composite_over
from product_augment.pipeline import Pipeline
from product_augment.sample import Instance, Sample
from product_augment.steps import background, logo, palette

ROOT = Path(__file__).resolve().parents[2]
THUMB = 256


def packshot(name: str) -> Sample:
    img = cv2.cvtColor(cv2.imread(str(ROOT / "examples" / f"{name}.jpg")), cv2.COLOR_BGR2RGB)
    alpha = classical_matte(img).alpha
    return Sample(img, alpha, (Instance.from_mask(1, alpha > 0.5),))


def synthetic_bottle(size: int = 640) -> Sample:
    import importlib.util

    spec = importlib.util.spec_from_file_location("bench", ROOT / "scripts" / "bench" / "compositing.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod.product_sample(size)


def room_photos(folder: Path) -> Path:
    """Two simple 'room' photos: a textured wall and a floor seen in perspective."""
    tex = {p.stem: cv2.imread(str(p)) for p in (ROOT / "textures").glob("*.jpg")}
    combos = [("proc-plaster-sand", "proc-wood-oak"), ("mypaint-hr-canvas-01", "proc-concrete-dark"),
              ("proc-linen-white", "proc-parquet-diagonal")]
    for i, (wall_name, floor_name) in enumerate(combos):
        w, h = 1200, 900
        wall = np.tile(tex[wall_name], (3, 4, 1))[:h, :w].astype(np.float32)
        floor_src = np.tile(tex[floor_name], (2, 4, 1))[:1024, :2048]
        horizon = int(h * 0.62)
        src = np.float32([[0, 0], [2048, 0], [2048, 1024], [0, 1024]])
        dst = np.float32([[-200, horizon], [w + 200, horizon], [w + 1400, h + 300], [-1400, h + 300]])
        persp = cv2.getPerspectiveTransform(src, dst)
        floor = cv2.warpPerspective(floor_src, persp, (w, h)).astype(np.float32)
        yy = np.arange(h, dtype=np.float32)[:, None, None]
        img = np.where(yy >= horizon, floor, wall * (0.75 + 0.25 * yy / horizon))
        img[horizon - 3:horizon + 2] *= 0.6  # skirting shadow
        light = np.exp(-(((np.arange(w) - w * 0.45) / (w * 0.5)) ** 2))[None, :, None]
        img = np.clip(img * (0.75 + 0.35 * light), 0, 255).astype(np.uint8)
        cv2.imwrite(str(folder / f"room{i}.jpg"), cv2.GaussianBlur(img, (0, 0), 1.2))
    return folder


@click.command(help=__doc__)
@click.option("--out", "out_path", type=click.Path(path_type=Path), default=ROOT / "docs/img/compositing.png", show_default=True)
@click.option("--seed", type=int, default=0, show_default=True)
def main(out_path: Path, seed: int) -> None:
    photos = room_photos(Path(tempfile.mkdtemp(prefix="rooms-")))
    canvas = {"canvas": {"size": 512}}
    columns = [
        ("catalog white", {"kind": "solid", "color": "white", "scale": 0.8}, None),
        ("solid (ΔE)", {"kind": "solid"}, None),
        ("gradient", {"kind": "gradient"}, None),
        ("texture", {"kind": "texture"}, None),
        ("studio", {"kind": "studio"}, None),
        ("photo", {"kind": "image", "path": str(photos), "scale": {"range": [0.4, 0.55]}}, None),
        ("transparent", {"kind": "transparent", **canvas}, None),
        ("studio + logo", {"kind": "studio"}, {"kind": "logo"}),
        ("gradient + caption", {"kind": "gradient"}, {"kind": "caption"}),
    ]
    products = [("bottle_flacon", packshot("bottle_flacon")), ("shoe_bootie", packshot("shoe_bootie")),
                ("handbag", packshot("handbag")), ("teddy_bear", packshot("teddy_bear")),
                ("synthetic", synthetic_bottle())]
    pal = palette.build(TypeAdapter(palette.Config).validate_python({}))
    bg_ad, lg_ad = TypeAdapter(background.Config), TypeAdapter(logo.Config)
    label_h = 22
    sheet = np.full((label_h + len(products) * THUMB, len(columns) * THUMB, 3), 255, np.uint8)
    for c, (label, _, _) in enumerate(columns):
        cv2.putText(sheet, label, (c * THUMB + 6, 16), cv2.FONT_HERSHEY_SIMPLEX, 0.5, (0, 0, 0), 1,
                    cv2.LINE_AA)
    for r, (name, sample) in enumerate(products):
        for c, (label, bg_cfg, logo_cfg) in enumerate(columns):
            steps = [pal, background.build(bg_ad.validate_python({**canvas, **bg_cfg}))]
            if logo_cfg:
                steps.append(logo.build(lg_ad.validate_python(logo_cfg)))
            pipe = Pipeline(steps, initial=frozenset({"image", "alpha", "instances"}))
            out = pipe(sample, seed=seed, relpath=name, variant=c)
            img = out.image
            if out.output_alpha is not None:
                board = checkerboard(*img.shape[:2])
                img = composite_over(img, out.output_alpha, board)
            y = label_h + r * THUMB
            sheet[y:y + THUMB, c * THUMB:(c + 1) * THUMB] = cv2.resize(img, (THUMB, THUMB),
                                                                       interpolation=cv2.INTER_AREA)
    out_path.parent.mkdir(parents=True, exist_ok=True)
    cv2.imwrite(str(out_path), cv2.cvtColor(sheet, cv2.COLOR_RGB2BGR))
    print(f"wrote {out_path}")


if __name__ == "__main__":
    main()
