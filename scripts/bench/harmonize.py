"""Harmonization benchmark on rendered pairs: the same 3D object under two lights.

    python scripts/bench/harmonize.py render --out data/harmonize --count 60      # pairs, val + test
    python scripts/bench/harmonize.py eval --pairs data/harmonize --split val --strength 0 0.5 1
    python scripts/bench/harmonize.py eval --pairs data/harmonize --split test --strength 0.6

Each pair (CC0 Sweet Home 3D models, split by model between val and test): the object rendered
under light A and under light B — each a colour temperature (2700–7500 K), a strength (0.45–1.35×
in linear light) and its own key direction; the object is rendered in white light from that
direction and multiplied by the light's colour and strength, as the plates are (von Kries holds
for everything here; only the direction change is out of any method's reach). The "input photo"
is A over a paper backdrop (albedo 0.55–0.85) lit by A; the scene is a texture of textures/ lit by B. The ground truth is B over the scene; the plain composite is A pasted over
the scene; the harmonized one is A relit by `ops.harmonize` from the photo's backdrop to the scene.
Reported as image-harmonization papers do: MSE over the whole picture and fMSE over the object's
pixels (0..255 scale), mean over pairs. Light direction is not corrected by any method here, so
part of the error stays.
"""
from __future__ import annotations

import hashlib
import json
import sys
from pathlib import Path

import click
import cv2
import numpy as np

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "src"))

from product_augment.ops import harmonize as hz
from product_augment.ops.color import linear_to_srgb, srgb_to_linear

SIZE = 256


def _split(entry_id: str) -> str:
    return "val" if int(hashlib.sha256(entry_id.encode()).hexdigest(), 16) % 2 == 0 else "test"


def _light(rng):
    """A light: colour temperature, strength (a multiplier of linear light) and key direction."""
    return {"kelvin": float(rng.uniform(2700, 7500)), "strength": float(rng.uniform(0.45, 1.35)),
            "key_az": float(rng.uniform(-80, 80)), "key_el": float(rng.uniform(30, 70))}


def _illuminant(light: dict) -> np.ndarray:
    from product_augment.data.render import kelvin_to_rgb
    c = np.array(kelvin_to_rgb(light["kelvin"]), np.float32)
    return (c / float(c @ np.array([0.2126, 0.7152, 0.0722], np.float32)) * light["strength"]).astype(np.float32)


@click.group()
def cli() -> None:
    pass


@cli.command()
@click.option("--out", type=click.Path(path_type=Path), required=True)
@click.option("--count", type=int, default=60, help="pairs per split")
@click.option("--seed", type=int, default=0)
def render(out: Path, count: int, seed: int) -> None:
    from product_augment.data import sources
    from product_augment.data.render import Light, Renderer, View, prepare_model

    catalog = [e for e in sources.load_catalog() if not e.door_or_window and max(e.size_cm) <= 250]
    textures = sorted((ROOT / "textures").glob("*.jpg"))
    rng = np.random.default_rng(seed)
    out.mkdir(parents=True, exist_ok=True)
    done = {"val": 0, "test": 0}
    index = []
    with Renderer(SIZE, supersample=2) as r:
        order = rng.permutation(len(catalog))
        for k in order:
            e = catalog[int(k)]
            split = _split(e.id)
            if done[split] >= count:
                if all(v >= count for v in done.values()):
                    break
                continue
            try:
                model = prepare_model(e.model_path, e.rotation, e.size_cm)
            except Exception as err:  # noqa: BLE001 - a model the loader cannot read is skipped
                print(f"skipped {e.id}: {err}", flush=True)
                continue
            az, el = float(rng.uniform(0, 360)), float(rng.uniform(5, 35))
            la, lb = _light(rng), _light(rng)

            def shot(lt, model=model, az=az, el=el):  # white light from the light's direction; colour comes later
                key = Light(az + lt["key_az"], lt["key_el"], 1.6, 6500.0)
                fill = Light(az + 180 - lt["key_az"], 20.0, 0.5, 6500.0)
                return r.render(model, View(az, el, 30.0, key, fill, ambient=0.25, frame=0.7)).rgba

            a, b = shot(la), shot(lb)
            if (a[..., 3] > 127).mean() < 0.03:
                continue
            tex = cv2.imread(str(textures[int(rng.integers(len(textures)))]))[..., ::-1]
            th, tw = tex.shape[:2]
            y0, x0 = int(rng.integers(0, th - SIZE + 1)), int(rng.integers(0, tw - SIZE + 1))
            paper = np.full((SIZE, SIZE, 3), float(rng.uniform(0.55, 0.85)), np.float32)
            name = f"{split}_{done[split]:03d}"
            np.savez_compressed(out / f"{name}.npz",
                                a=a, b=b, paper=paper, tex=tex[y0:y0 + SIZE, x0:x0 + SIZE],
                                ia=_illuminant(la), ib=_illuminant(lb))
            index.append({"name": name, "split": split, "model": e.id, "light_a": la, "light_b": lb})
            done[split] += 1
            print(name, e.id, flush=True)
    (out / "index.json").write_text(json.dumps(index, indent=1) + "\n")


def _over(obj: np.ndarray, light: np.ndarray, plate_lin: np.ndarray) -> np.ndarray:
    """sRGB uint8 picture: the white-lit render (its values taken as linear light) in `light`, over
    a linear plate."""
    al = obj[..., 3:4].astype(np.float32) / 255
    lin = obj[..., :3].astype(np.float32) / 255 * light * al + plate_lin * (1 - al)
    return np.clip(np.round(linear_to_srgb(np.clip(lin, 0, 1)) * 255), 0, 255).astype(np.uint8)


def pair_pictures(d) -> dict:
    scene_lin = srgb_to_linear(d["tex"]) * d["ib"]
    photo = _over(d["a"], d["ia"], d["paper"] * d["ia"])
    return {"photo": photo, "alpha": d["a"][..., 3].astype(np.float32) / 255, "scene": scene_lin,
            "truth": _over(d["b"], d["ib"], scene_lin), "plain": _over(d["a"], d["ia"], scene_lin)}


def harmonized(p: dict, strength: float) -> np.ndarray:
    """What the background step does: light of the photo's backdrop → light of the new plate."""
    alpha = p["alpha"]
    plate = np.clip(np.round(linear_to_srgb(np.clip(p["scene"], 0, 1)) * 255), 0, 255).astype(np.uint8)
    src = hz.light_estimate(p["photo"], alpha < 0.02)
    dst = hz.light_estimate(plate)
    if src is None or dst is None:
        return p["plain"]
    g = hz.gains(src, dst, strength)
    relit = hz.apply_gains(p["photo"], g)
    al = alpha[..., None]
    # the product's own colour relit, over the plate (as compose does, in linear light)
    lin = srgb_to_linear(relit) * al + srgb_to_linear(plate) * (1 - al)
    return np.clip(np.round(linear_to_srgb(lin) * 255), 0, 255).astype(np.uint8)


def _mse(x: np.ndarray, y: np.ndarray, mask: np.ndarray | None = None) -> float:
    d = (x.astype(np.float64) - y.astype(np.float64)) ** 2
    return float(d.mean()) if mask is None else float(d[mask].mean())


@cli.command("eval")
@click.option("--pairs", type=click.Path(path_type=Path, exists=True), required=True)
@click.option("--split", type=click.Choice(["val", "test"]), required=True)
@click.option("--strength", type=float, multiple=True, default=[0.0, 0.5, 1.0])
@click.option("--sheet", type=click.Path(path_type=Path), default=None)
def evaluate(pairs: Path, split: str, strength: tuple[float, ...], sheet: Path | None) -> None:
    files = sorted(pairs.glob(f"{split}_*.npz"))
    rows = {s: ([], []) for s in ("plain",) + tuple(strength)}
    tiles = []
    for f in files:
        p = pair_pictures(np.load(f))
        fg = p["alpha"] > 0.5
        rows["plain"][0].append(_mse(p["plain"], p["truth"]))
        rows["plain"][1].append(_mse(p["plain"], p["truth"], fg))
        for s in strength:
            h = harmonized(p, s)
            rows[s][0].append(_mse(h, p["truth"]))
            rows[s][1].append(_mse(h, p["truth"], fg))
        if sheet is not None and len(tiles) < 8:
            tiles.append(np.concatenate([p["photo"], p["plain"], harmonized(p, strength[-1]), p["truth"]], 1))
    print(f"{split}: {len(files)} pairs (MSE / fMSE, 0..255 scale, mean over pairs)")
    for k, (m, fm) in rows.items():
        name = "plain composite" if k == "plain" else f"harmonized, strength {k:g}"
        print(f"  {name:28s} MSE {np.mean(m):7.2f}   fMSE {np.mean(fm):8.2f}")
    if sheet is not None and tiles:
        cv2.imwrite(str(sheet), np.concatenate(tiles, 0)[..., ::-1])
        print(f"sheet: {sheet} (photo | plain | harmonized | truth)")


if __name__ == "__main__":
    cli()
