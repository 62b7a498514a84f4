"""Procedural textures (scripts/assets/procedural.py, used offline by make_textures.py beside it) and
the shipped textures they made: seeded, seamless, within the size budget."""
from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[2]
TEXTURES = ROOT / "textures"


def _load_procedural():
    import importlib.util
    spec = importlib.util.spec_from_file_location("procedural", ROOT / "scripts" / "assets" / "procedural.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


procedural = _load_procedural()


def test_procedural_textures_are_seeded_and_seamless():
    a = procedural.marble(np.random.default_rng(3), 64, (230, 230, 230), (90, 90, 90))
    b = procedural.marble(np.random.default_rng(3), 64, (230, 230, 230), (90, 90, 90))
    assert np.array_equal(a, b)
    for img in (a, procedural.wood(np.random.default_rng(1), 64, [(90, 60, 30), (200, 150, 100)]),
                procedural.linen(np.random.default_rng(2), 64, (200, 190, 170), threads=16)):
        assert procedural.seam_score(img) < 1.6


def test_make_tileable_removes_the_seam_of_a_photo_crop():
    rng = np.random.default_rng(4)
    # a non-periodic baseline: a smooth ramp plus noise (strong jump across the wrap)
    yy, xx = np.mgrid[:96, :96]
    photo = np.clip(xx * 2 + yy + rng.normal(0, 4, (96, 96)), 0, 255).astype(np.uint8)
    photo = np.dstack([photo] * 3)
    assert procedural.seam_score(photo) > 10
    assert procedural.seam_score(procedural.make_tileable(photo)) < 2.5


def _shipped():
    return sorted(TEXTURES.glob("*.jpg")) + sorted(TEXTURES.glob("*.png"))


def test_enough_shipped_textures_within_size_budget():
    files = _shipped()
    assert len(files) >= 30
    assert sum(f.stat().st_size for f in files) <= 15 * 2**20


def test_every_shipped_texture_loads_and_tiles_seamlessly():
    scores, baselines = [], []
    rng = np.random.default_rng(0)
    for f in _shipped():
        img = cv2.imread(str(f), cv2.IMREAD_COLOR)
        assert img is not None and img.ndim == 3 and min(img.shape[:2]) >= 256, f.name
        scores.append(procedural.seam_score(img))
        # baseline: the same texture cut at a random place is not tileable in general
        y = rng.integers(img.shape[0] // 4, img.shape[0] // 2)
        x = rng.integers(img.shape[1] // 4, img.shape[1] // 2)
        baselines.append(procedural.seam_score(img[y:, x:]))
    scores, baselines = np.array(scores), np.array(baselines)
    bad = [f.name for f, s in zip(_shipped(), scores) if s > 2.0]
    assert not bad, f"visible seams: {bad}"
    assert np.median(scores) < 1.3 and np.median(baselines) > np.median(scores)


@pytest.mark.parametrize("make", [
    lambda g: procedural.wood(g, 64, [(90, 60, 30), (200, 150, 100)], planks=2),
    lambda g: procedural.marble(g, 64, (230, 230, 230), (90, 90, 90)),
    lambda g: procedural.concrete(g, 64, (180, 180, 180), pores=20),
    lambda g: procedural.granite(g, 64, [(100, 100, 100), (200, 200, 200), (30, 30, 30)], [2, 2, 1]),
    lambda g: procedural.linen(g, 64, (200, 190, 170), threads=16),
    lambda g: procedural.paper(g, 64, (240, 235, 220)),
    lambda g: procedural.leather(g, 64, (120, 70, 40), cells=40),
    lambda g: procedural.terrazzo(g, 64, (230, 230, 225), [(200, 80, 60)], chips=20),
    lambda g: procedural.bokeh(g, 64, [(20, 20, 30), (40, 40, 60)], [(255, 200, 120)], discs=5),
    lambda g: procedural.brushed_metal(g, 64, (180, 180, 185)),
    lambda g: procedural.tiles(g, 64, (230, 230, 230), (150, 150, 150), n=4),
    lambda g: procedural.diagonal_parquet(g, 64, [(150, 100, 60), (200, 160, 110)], n=4),
    lambda g: procedural.plaster(g, 64, (210, 195, 170)),
])
def test_every_generator_is_deterministic_rgb_and_tileable(make):
    a, b = make(np.random.default_rng(7)), make(np.random.default_rng(7))
    assert a.shape == (64, 64, 3) and a.dtype == np.uint8 and np.array_equal(a, b)
    assert procedural.seam_score(a) < 2.5
