"""Shared fixtures: tiny synthetic products with a known matte on a plain background."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

REAL_PHOTOS = Path(__file__).resolve().parent / "fixtures" / "cut"  # real photos (jpg) + checked masks (png)


def real_photo(stem: str) -> tuple[np.ndarray, np.ndarray]:
    """A real fixture photo (RGB uint8) and its checked product mask (bool)."""
    import cv2

    image = cv2.cvtColor(cv2.imread(str(REAL_PHOTOS / f"{stem}.jpg")), cv2.COLOR_BGR2RGB)
    return image, cv2.imread(str(REAL_PHOTOS / f"{stem}.png"), cv2.IMREAD_GRAYSCALE) > 127


def make_packshot(h: int = 240, w: int = 320, radius: int = 70, bg=(246, 246, 246),
                  fg=(190, 40, 30), center=None) -> tuple[np.ndarray, np.ndarray]:
    """A shaded disc product on a plain background and its exact boolean mask."""
    rng = np.random.default_rng(0)
    img = np.empty((h, w, 3), np.uint8)
    img[:] = bg
    cy, cx = center or (h // 2, w // 2)
    yy, xx = np.mgrid[:h, :w]
    mask = (yy - cy) ** 2 + (xx - cx) ** 2 <= radius ** 2
    shade = 0.75 + 0.25 * np.clip(1 - ((yy - cy + radius / 2) ** 2 + (xx - cx + radius / 2) ** 2)
                                  / (1.5 * radius) ** 2, 0, 1)
    prod = (np.array(fg, np.float32)[None, None] * shade[..., None])
    img[mask] = np.clip(prod[mask] + rng.normal(0, 2, (mask.sum(), 3)), 0, 255).astype(np.uint8)
    return img, mask


def edge_width(profile: np.ndarray) -> float:
    """10–90% width (px) of a monotone edge in a 1-D profile, by linear interpolation."""
    p = (profile - profile.min()) / max(float(np.ptp(profile)), 1e-9)
    if p[0] > p[-1]:
        p = p[::-1]
    x = np.arange(p.size, dtype=np.float64)
    return float(np.interp(0.9, p, x) - np.interp(0.1, p, x))


def write_folder(root: Path, n: int = 3) -> list[Path]:
    root.mkdir(parents=True, exist_ok=True)
    paths = []
    for i in range(n):
        img, _ = make_packshot(radius=50 + 10 * i, fg=[(190, 40, 30), (30, 90, 180), (40, 140, 60)][i % 3])
        p = root / f"p{i}.png"
        Image.fromarray(img).save(p)
        paths.append(p)
    return paths


@pytest.fixture
def packshot():
    return make_packshot()


@pytest.fixture
def input_dir(tmp_path: Path) -> Path:
    d = tmp_path / "in"
    write_folder(d)
    (d / "sub").mkdir()
    img, _ = make_packshot(fg=(200, 160, 20))
    Image.fromarray(img).save(d / "sub" / "q.jpg", quality=95)
    return d


@pytest.fixture
def classical_preset(tmp_path: Path) -> Path:
    p = tmp_path / "preset.yaml"
    p.write_text("version: 1\nseed: 7\nvariants: 2\noutput: {format: png, annotations: [coco, yolo]}\n"
                 "steps:\n  - segment: {backend: classical, class_name: cup}\n")
    return p
