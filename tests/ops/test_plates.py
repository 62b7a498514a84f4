"""Background plates: gradients, studio, tiling, tint (the shipped textures: tests/data/test_procedural.py)."""
from __future__ import annotations

import numpy as np

from product_augment.ops import plates


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
