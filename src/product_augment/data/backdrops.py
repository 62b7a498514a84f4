"""Seeded backdrops for the training scenes: packshot (plain, gradient), texture, photo, noise, studio.

Every function takes the rng it may draw from and returns an H×W×3 uint8 RGB image plus a
small dict of what it chose (for the scene's metadata). ``floor_y`` in the dict, when present, is
the row where a floor meets a wall: products are stood on or below it.

These are not the pipeline's plates (``ops/plates.py``) drawn with random parameters: the built
sets depend on these exact pixels, and none of them renders what a plate function renders. The
gradient here blends two colours in sRGB per pixel at full size (``plates.gradient_plate`` blends a
CIELAB ramp on an eighth-size grid and upsamples); ``random_crop`` cuts an integer window and
resizes it with INTER_AREA at any scale (``plates.crop_scale_plate`` keeps the exact canvas
aspect and enlarges bilinearly); the studio here is a hard wall/floor split blurred vertically
(``plates.studio_plate`` is a lit cove). Nothing here tiles a texture.
"""
from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import cv2
import numpy as np

from ..io import ImageReadError, read_image

# scikit-image sample photos that show none of the 21 product classes (camera, coffee and clock do).
SKIMAGE_PHOTOS = ("astronaut", "brick", "grass", "gravel", "hubble_deep_field", "immunohistochemistry", "moon",
                  "rocket", "coins", "chelsea", "retina", "colorwheel")
TEXTURE_SUFFIXES = {".jpg", ".jpeg", ".png", ".webp"}


def light_colour(rng: np.random.Generator) -> np.ndarray:
    """A packshot backdrop colour: mostly white/light grey, sometimes a light pastel."""
    if rng.uniform() < 0.6:
        return np.full(3, rng.uniform(225, 255))
    base = rng.uniform(190, 250, size=3)
    return np.clip(base + rng.uniform(-10, 10), 0, 255)


def any_colour(rng: np.random.Generator) -> np.ndarray:
    return rng.uniform(0, 255, size=3)


def plain(h: int, w: int, rng: np.random.Generator, colour=None) -> tuple[np.ndarray, dict]:
    c = light_colour(rng) if colour is None else np.asarray(colour, float)
    return np.broadcast_to(np.round(c).astype(np.uint8), (h, w, 3)).copy(), {"kind": "plain"}


def gradient(h: int, w: int, rng: np.random.Generator, light: bool = True) -> tuple[np.ndarray, dict]:
    """Linear or radial two-colour gradient."""
    c0 = light_colour(rng) if light else any_colour(rng)
    c1 = np.clip(c0 - rng.uniform(10, 60 if light else 120), 0, 255) if light else any_colour(rng)
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    if rng.uniform() < 0.5:
        ang = rng.uniform(0, 2 * np.pi)
        t = (xx / w - 0.5) * np.cos(ang) + (yy / h - 0.5) * np.sin(ang) + 0.5
        kind = "linear"
    else:
        cx, cy = rng.uniform(0.3, 0.7) * w, rng.uniform(0.2, 0.6) * h
        t = np.sqrt((xx - cx) ** 2 + (yy - cy) ** 2) / (0.8 * max(h, w))
        kind = "radial"
    t = np.clip(t, 0, 1)[..., None]
    img = c0 * (1 - t) + c1 * t
    return np.clip(np.round(img), 0, 255).astype(np.uint8), {"kind": f"gradient-{kind}"}


def value_noise(h: int, w: int, rng: np.random.Generator, octaves: int = 5) -> np.ndarray:
    """Fractal value noise in [0, 1], H×W float32."""
    out = np.zeros((h, w), np.float32)
    amp, total = 1.0, 0.0
    for o in range(octaves):
        cells = 2 ** (o + 2)
        grid = rng.uniform(size=(cells + 1, cells + 1)).astype(np.float32)
        out += amp * cv2.resize(grid, (w, h), interpolation=cv2.INTER_CUBIC)
        total += amp
        amp *= 0.5
    out /= total
    return (out - out.min()) / max(float(out.max() - out.min()), 1e-6)


def noise(h: int, w: int, rng: np.random.Generator) -> tuple[np.ndarray, dict]:
    """Procedural texture: noise mapped between two colours (stands in for missing texture photos)."""
    n = value_noise(h, w, rng)[..., None]
    c0, c1 = any_colour(rng), any_colour(rng)
    img = c0 * (1 - n) + c1 * n
    return np.clip(np.round(img), 0, 255).astype(np.uint8), {"kind": "noise"}


@lru_cache(maxsize=64)
def load_rgb(path: str) -> np.ndarray:
    """RGB uint8 of a texture or backdrop file (``io.read_image``), cached."""
    try:
        return read_image(Path(path))[0]
    except ImageReadError as e:
        raise ValueError(f"cannot read background image {path}: {e}") from None


@lru_cache(maxsize=32)
def _skimage_photo(name: str) -> np.ndarray:
    import skimage.data

    img = np.asarray(getattr(skimage.data, name)())
    if img.ndim == 2:
        img = np.stack([img] * 3, axis=-1)
    return np.ascontiguousarray(img[..., :3]).astype(np.uint8)


def random_crop(src: np.ndarray, h: int, w: int, rng: np.random.Generator) -> np.ndarray:
    """A random crop of ``src`` at a random scale, resized to h×w, maybe mirrored."""
    sh, sw = src.shape[:2]
    scale = rng.uniform(0.4, 1.0)
    ch = max(8, int(min(sh, sw * h / w) * scale))
    cw = max(8, int(ch * w / h))
    cw = min(cw, sw)
    y0 = int(rng.integers(0, sh - ch + 1))
    x0 = int(rng.integers(0, sw - cw + 1))
    crop = cv2.resize(src[y0:y0 + ch, x0:x0 + cw], (w, h), interpolation=cv2.INTER_AREA)
    return crop[:, ::-1].copy() if rng.uniform() < 0.5 else crop


def list_textures(folder: Path | None) -> list[str]:
    if folder is None or not Path(folder).is_dir():
        return []
    return sorted(str(p) for p in Path(folder).rglob("*") if p.suffix.lower() in TEXTURE_SUFFIXES)


def texture(h: int, w: int, rng: np.random.Generator, textures: list[str]) -> tuple[np.ndarray, dict]:
    if not textures:
        return noise(h, w, rng)
    path = textures[int(rng.integers(len(textures)))]
    return random_crop(load_rgb(path), h, w, rng), {"kind": "texture", "file": Path(path).name}


def photo(h: int, w: int, rng: np.random.Generator) -> tuple[np.ndarray, dict]:
    name = SKIMAGE_PHOTOS[int(rng.integers(len(SKIMAGE_PHOTOS)))]
    return random_crop(_skimage_photo(name), h, w, rng), {"kind": "photo", "name": name}


def studio(h: int, w: int, rng: np.random.Generator, textures: list[str]) -> tuple[np.ndarray, dict]:
    """A wall and a floor meeting at ``floor_y``, each plain, gradient or textured, with a vignette."""
    floor_y = int(h * rng.uniform(0.35, 0.7))
    wall = (gradient if rng.uniform() < 0.5 else plain)(h, w, rng)[0].astype(np.float32)
    floor_src = texture(h, w, rng, textures)[0] if rng.uniform() < 0.6 else gradient(h, w, rng, light=False)[0]
    floor = floor_src.astype(np.float32) * rng.uniform(0.6, 1.0)
    img = wall.copy()
    img[floor_y:] = floor[floor_y:]
    # soft blend and a darker contact line where wall meets floor
    band = max(2, h // 80)
    img = cv2.GaussianBlur(img, (0, 0), sigmaX=0.1, sigmaY=band * 0.5)
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    vignette = 1 - rng.uniform(0.1, 0.35) * (((xx / w - 0.5) ** 2 + (yy / h - 0.5) ** 2) / 0.5)
    img *= vignette[..., None]
    return np.clip(np.round(img), 0, 255).astype(np.uint8), {"kind": "studio", "floor_y": floor_y}


def packshot_background(h: int, w: int, rng: np.random.Generator) -> tuple[np.ndarray, dict]:
    """Catalog style: plain or gradient light backdrop."""
    return plain(h, w, rng) if rng.uniform() < 0.5 else gradient(h, w, rng)


def wild_background(h: int, w: int, rng: np.random.Generator, textures: list[str]) -> tuple[np.ndarray, dict]:
    """Wild style: any of plain, gradient, texture (or noise), photo, studio."""
    kind = rng.choice(["plain", "gradient", "texture", "photo", "studio", "noise"],
                      p=[0.08, 0.12, 0.25, 0.2, 0.25, 0.1])
    if kind == "plain":
        return plain(h, w, rng, any_colour(rng) if rng.uniform() < 0.5 else None)
    if kind == "gradient":
        return gradient(h, w, rng, light=bool(rng.uniform() < 0.4))
    if kind == "texture":
        return texture(h, w, rng, textures)
    if kind == "photo":
        return photo(h, w, rng)
    if kind == "studio":
        return studio(h, w, rng, textures)
    return noise(h, w, rng)
