"""Edge quality of the compositing chain against the exact alpha composite (issue 12).

    python scripts/bench/edges.py [--bank data/bank/cutouts] [--per-class 2] [--yolact] [--json out.json]

Cut-outs with a known alpha (procedural foliage/fringe/glass cut-outs, and RGBA cut-outs of the
rendered bank when `--bank` exists) are composited over a plain, a textured and a photo-like old
background; the pipeline (segment → palette → background: solid, identity placement, default
refine) puts them on a new plain background (light products on dark, dark products on light) and
the result is compared with alpha·F + (1 − alpha)·B_new:

* band / interior: mean absolute error (grey levels) within ±8 px of the true edge / deeper inside;
* halo: signed mean luminance difference in the 1–6 px ring outside the true edge;
* blocks: longest straight axis-aligned step (> 6 levels) in the difference image, px;
* cut-out: with a binary mask (truth > 0.5) and the `transparent` kind (refine erode 1 as shipped,
  and erode 0), pixels with alpha > 0 farther than 2 px from the mask, and the fuzzy IoU of the
  cut-out alpha and of the mask with the true alpha.

Backends: `masks` (composite + the exact matte as a mask file), `alpha` (the RGBA cut-out itself,
straight colours) and, with `--yolact`, the shipped segmenter on the composite. Run it with
`PYTHONPATH=<old checkout>/src` to measure an older version of the code.
"""
from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import json
import sys
import tempfile
from pathlib import Path

import click
import cv2
import numpy as np
from PIL import Image

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
cv2.setNumThreads(1)

from tests.steps.cutouts import backdrop, composite, edge_errors, foliage_cutout, soft_iou

from product_augment.presets.loader import load_preset
from product_augment.sample import Sample

LIGHT_BG, DARK_BG = (232, 230, 224), (24, 26, 32)
WEIGHTS = ROOT / "weights" / "yolact_ws_effnetlite0.safetensors"


def load_cutouts(bank: Path | None, per_class: int, size: int) -> list[tuple[str, np.ndarray, np.ndarray]]:
    rng = np.random.default_rng(0)
    out = [(f"procedural-{'light' if light else 'dark'}{i}", *foliage_cutout(size, rng, light=light))
           for i in range(2) for light in (False, True)]
    if bank is not None and bank.is_dir():
        for cls in sorted(p for p in bank.iterdir() if p.is_dir()):
            files = sorted(cls.glob("*.png"))[:: max(1, len(sorted(cls.glob("*.png"))) // max(per_class, 1))]
            for f in files[:per_class]:
                rgba = np.asarray(Image.open(f).convert("RGBA"))
                s = size / max(rgba.shape[:2])
                if s < 1:
                    rgba = cv2.resize(rgba, (round(rgba.shape[1] * s), round(rgba.shape[0] * s)),
                                      interpolation=cv2.INTER_AREA)
                a = rgba[..., 3].astype(np.float32) / 255.0
                pad = 24  # room around the product for the old background
                f_rgb = cv2.copyMakeBorder(np.ascontiguousarray(rgba[..., :3]), pad, pad, pad, pad,
                                           cv2.BORDER_REPLICATE)
                a = cv2.copyMakeBorder(a, pad, pad, pad, pad, cv2.BORDER_CONSTANT, value=0)
                out.append((f"{cls.name}/{f.stem}", f_rgb, a))
    return out


def pipeline(tmp: Path, seg: str, bg: str, name: str):
    p = tmp / f"{name}.yaml"
    p.write_text(f"version: 1\nsteps:\n  - segment: {seg}\n  - palette: {{}}\n  - background: {bg}\n")
    return load_preset(p).build_pipeline()


def run_case(tmp: Path, name: str, image: np.ndarray, alpha: np.ndarray | None, seg: str, bg: str):
    pipe = pipeline(tmp, seg, bg, "p")
    return pipe(Sample(image=image, alpha=alpha, meta={"relpath": f"{name}.png"}), seed=0, relpath=f"{name}.png")


@click.command(help=__doc__)
@click.option("--bank", type=click.Path(path_type=Path), default=ROOT / "data" / "bank" / "cutouts", show_default=True)
@click.option("--per-class", type=int, default=1, show_default=True)
@click.option("--size", type=int, default=320, show_default=True, help="longest side of a cut-out")
@click.option("--yolact", is_flag=True, help="also run the shipped segmenter")
@click.option("--json", "json_out", type=click.Path(path_type=Path), default=None)
def main(bank: Path, per_class: int, size: int, yolact: bool, json_out: Path | None) -> None:
    tmp = Path(tempfile.mkdtemp(prefix="bench-edges-"))
    masks = tmp / "masks"
    masks.mkdir()
    rng = np.random.default_rng(1)
    rows: dict[str, list[dict]] = {}
    cutouts = load_cutouts(bank, per_class, size)
    for name, f, a in cutouts:
        light = float((f.astype(np.float32) @ [0.299, 0.587, 0.114])[a > 0.5].mean()) > 128
        new_bg = DARK_BG if light else LIGHT_BG
        exact = composite(f, a, np.broadcast_to(np.array(new_bg, np.uint8), f.shape))
        solid = f"{{kind: solid, color: [{new_bg[0]}, {new_bg[1]}, {new_bg[2]}], canvas: null, scale: null}}"
        key = name.replace("/", "_")
        for old in ("plain", "texture", "photo"):
            b_old = backdrop(old, *a.shape, rng, tone=30 if light else 235)
            img = composite(f, a, b_old)
            Image.fromarray(np.clip(np.rint(a * 255), 0, 255).astype(np.uint8)).save(masks / f"{key}.png")
            backends = {"masks": (img, None, f"{{backend: masks, path: {masks}}}")}
            if old == "plain":  # the RGBA cut-out itself: independent of the old background
                backends["alpha"] = (f, a, "{backend: alpha}")
            if yolact and WEIGHTS.exists():
                backends["yolact"] = (img, None, f"{{backend: yolact, weights: {WEIGHTS}}}")
            for backend, (im, al, seg) in backends.items():
                try:
                    out = run_case(tmp, key, im, al, seg, solid)
                except Exception as e:  # noqa: BLE001 - a segmenter finding nothing is a result, not a crash
                    print(f"{name} {old} {backend}: {e}", file=sys.stderr)
                    continue
                m = edge_errors(out.image, exact, a)
                m.update(case=name, old=old, light=light)
                rows.setdefault(backend, []).append(m)
            # cut-out alpha with a binary mask, shipped refine (erode 1) and erode 0
            if old == "plain":
                binary = (a > 0.5)
                Image.fromarray(binary.astype(np.uint8) * 255).save(masks / f"{key}.png")
                for erode in (1, 0):
                    tr = f"{{kind: transparent, refine: {{erode: {erode}, feather: 1.0}}}}"
                    out = run_case(tmp, key, img, None, f"{{backend: masks, path: {masks}}}", tr)
                    d = cv2.distanceTransform(1 - binary.astype(np.uint8), cv2.DIST_L2, cv2.DIST_MASK_PRECISE)
                    rows.setdefault(f"cutout-erode{erode}", []).append(
                        {"case": name, "beyond_2px": int(((out.output_alpha > 0) & (d > 2)).sum()),
                         "max_reach": float(d[out.output_alpha > 0].max()),
                         "iou_cutout": soft_iou(out.output_alpha, a), "iou_mask": soft_iou(binary, a)})
                if yolact and WEIGHTS.exists():
                    seg = f"{{backend: yolact, weights: {WEIGHTS}}}"
                    try:
                        out = run_case(tmp, key, img, None, seg, "{kind: transparent, refine: {erode: 1, feather: 1.0}}")
                    except Exception as e:  # noqa: BLE001 - as above
                        print(f"{name} yolact transparent: {e}", file=sys.stderr)
                        continue
                    mask = out.instances[0].mask
                    d = cv2.distanceTransform(1 - mask.astype(np.uint8), cv2.DIST_L2, cv2.DIST_MASK_PRECISE)
                    rows.setdefault("cutout-yolact", []).append(
                        {"case": name, "beyond_2px": int(((out.output_alpha > 0) & (d > 2)).sum()),
                         "max_reach": float(d[out.output_alpha > 0].max()),
                         "iou_cutout": soft_iou(out.output_alpha, a), "iou_mask": soft_iou(mask, a)})
    print(f"# {len(cutouts)} cut-outs ({sum(n.startswith('procedural') for n, _, _ in cutouts)} procedural), "
          f"size {size}, bank {bank if bank.is_dir() else 'absent'}")
    print("| backend | cases | band MAE | band MAE max | interior MAE | halo L (light-on-dark) | "
          "halo L (dark-on-light) | max |halo| | blocks max px |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    for backend in ("masks", "alpha", "yolact"):
        r = rows.get(backend)
        if not r:
            continue
        band = [x["band_mae"] for x in r]
        lod = [x["halo"] for x in r if x["light"]] or [float("nan")]
        dol = [x["halo"] for x in r if not x["light"]] or [float("nan")]
        print(f"| {backend} | {len(r)} | {np.mean(band):.2f} | {np.max(band):.2f} | "
              f"{np.mean([x['interior_mae'] for x in r]):.2f} | {np.mean(lod):+.2f} | {np.mean(dol):+.2f} | "
              f"{np.max([x['halo_abs'] for x in r]):.2f} | {max(x['blockiness'] for x in r)} |")
    print("\n| cut-out | cases | px alpha>0 beyond 2 px (sum) | max reach px | IoU cut-out (mean) | "
          "IoU mask (mean) | cases cut-out < mask |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    for k in ("cutout-erode1", "cutout-erode0", "cutout-yolact"):
        r = rows.get(k)
        if not r:
            continue
        print(f"| {k} | {len(r)} | {sum(x['beyond_2px'] for x in r)} | {max(x['max_reach'] for x in r):.1f} | "
              f"{np.mean([x['iou_cutout'] for x in r]):.4f} | {np.mean([x['iou_mask'] for x in r]):.4f} | "
              f"{sum(x['iou_cutout'] < x['iou_mask'] for x in r)} |")
    if json_out:
        json_out.write_text(json.dumps(rows, indent=1))


if __name__ == "__main__":
    main()
