"""Background plates and the shipped textures: gradients, tiling, tint, seamlessness."""
from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from product_augment.ops import plates, procedural

TEXTURES = Path(__file__).resolve().parents[2] / "textures"


def test_linear_gradient_runs_between_its_colours():
    g = plates.gradient_plate((200, 100), [(0, 0, 0), (255, 255, 255)], "linear", angle_deg=0)
    assert g.shape == (100, 200, 3) and g.dtype == np.uint8
    assert g[:, :4].mean() < 15 and g[:, -4:].mean() > 240
    assert np.all(np.diff(g[50, :, 0].astype(int)) >= 0)  # monotone left → right
    v = plates.gradient_plate((100, 200), [(255, 0, 0), (0, 0, 255)], "linear", angle_deg=90)
    assert v[0, 50, 0] > 200 and v[-1, 50, 2] > 200


def test_radial_gradient_is_symmetric_about_its_centre():
    r = plates.gradient_plate((101, 101), [(255, 255, 255), (0, 0, 0)], "radial", center=(0.5, 0.5),
                              radius=1.0).astype(int)
    assert r[50, 50].min() > 240
    assert np.abs(r - r[:, ::-1]).max() <= 2 and np.abs(r - r[::-1]).max() <= 2


def test_studio_plate_wall_and_floor():
    s = plates.studio_plate((256, 256), (200, 200, 200), (120, 120, 120), horizon=0.6, softness=0.05,
                            light_xy=(0.5, 0.3), light_radius=0.3, light_strength=0.3, vignette=0.2,
                            sheen=0.0)
    wall, floor = s[100, 128].astype(int), s[220, 128].astype(int)
    assert wall.mean() > floor.mean() + 40


def test_tile_plate_is_periodic_with_offset():
    tile = np.random.default_rng(0).integers(0, 256, (16, 24, 3), dtype=np.uint8)
    p = plates.tile_plate(tile, (100, 70), (5, 3))
    assert p.shape == (70, 100, 3)
    assert np.array_equal(p[0, 0], tile[3, 5])
    assert np.array_equal(p[:, :24 * 3], np.roll(np.roll(np.tile(tile, (5, 3, 1)), -3, 0), -5, 1)[:70, :72])


def test_tint_zero_is_identity_and_full_tint_moves_the_mean():
    tile = np.random.default_rng(1).integers(60, 200, (32, 32, 3), dtype=np.uint8)
    assert plates.tint(tile, (255, 0, 0), 0.0) is tile
    t = plates.tint(tile, (255, 0, 0), 0.8)
    assert t[..., 0].mean() > tile[..., 0].mean() + 20 and t[..., 2].mean() < tile[..., 2].mean() - 40


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
