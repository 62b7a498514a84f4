"""Alpha compositing, matte refinement and colour decontamination."""
from __future__ import annotations

import numpy as np

from product_augment.ops.composite import composite_over
from product_augment.ops.matte import decontaminate, erode_matte, feather_matte, refine_matte


def _images(h=64, w=80, seed=0):
    rng = np.random.default_rng(seed)
    return (rng.integers(0, 256, (h, w, 3), dtype=np.uint8), rng.integers(0, 256, (h, w, 3), dtype=np.uint8),
            rng)


def test_alpha_one_gives_foreground_exactly_and_zero_gives_background():
    f, b, _ = _images()
    assert np.array_equal(composite_over(f, np.ones(f.shape[:2], np.float32), b), f)
    assert np.array_equal(composite_over(f, np.zeros(f.shape[:2], np.float32), b), b)


def test_composite_equals_rounded_float64_formula():
    f, b, rng = _images(seed=1)
    a = rng.uniform(0, 1, f.shape[:2]).astype(np.float32)
    a[:8] = 0
    a[-8:] = 1
    a[20:30] = rng.choice([0.0, 1 / 1024, 1 - 1 / 1024, 0.5], size=(10, a.shape[1]))
    ref = np.rint(b + a[..., None].astype(np.float64) * (f.astype(np.float64) - b)).astype(np.uint8)
    out = composite_over(f, a, b)
    assert np.array_equal(out, ref)
    assert np.array_equal(out[-8:], f[-8:]) and np.array_equal(out[:8], b[:8])


def test_composite_leaves_inputs_untouched():
    f, b, rng = _images(seed=2)
    a = rng.uniform(0, 1, f.shape[:2]).astype(np.float32)
    f0, b0 = f.copy(), b.copy()
    composite_over(f, a, b)
    assert np.array_equal(f, f0) and np.array_equal(b, b0)


def _square(h=60, w=60, lo=20, hi=40):
    a = np.zeros((h, w), np.float32)
    a[lo:hi, lo:hi] = 1
    return a


def test_erode_shrinks_by_n_pixels():
    a = _square()
    e = erode_matte(a, 3)
    assert e[23:37, 23:37].min() == 1 and e[:23].max() == 0 and e[37:].max() == 0
    assert e.sum() == 14 * 14


def test_feather_softens_edge_but_keeps_the_core():
    a = _square(lo=10, hi=50)
    f = feather_matte(a, 4)
    assert f[25:35, 25:35].min() > 0.999
    edge = f[30, 6:14]
    assert np.all(np.diff(edge) > 0) and 0.3 < f[30, 10] < 0.7
    r = refine_matte(a, erode=2, feather=2)
    assert r.dtype == np.float32 and r.min() >= 0 and r.max() <= 1


def test_decontaminate_replaces_fringe_with_product_colour():
    # a red product whose soft edge is mixed with a white studio background
    a = feather_matte(_square(lo=15, hi=45), 3)
    product, white = np.array([200, 20, 20], np.float32), np.array([255, 255, 255], np.float32)
    img = np.rint(a[..., None] * product + (1 - a[..., None]) * white).astype(np.uint8)
    out = decontaminate(img, a)
    edge = (a > 0) & (a < 1)
    assert edge.sum() > 100
    before = np.abs(img[edge].astype(int) - product).max()
    # the white fringe is gone: the compositing equation is solved for F with B ≈ white
    assert before > 100 and np.abs(out[edge].astype(int) - product).max() <= 3
    assert np.array_equal(out[a >= 1], img[a >= 1])  # opaque pixels untouched
    # fully transparent pixels get the nearby product colour (a feathered matte may reach them)
    assert np.abs(out[a == 0].astype(int) - product).max() <= 3
    # composited on black, the edge shows no white halo any more
    on_black = composite_over(out, a, np.zeros_like(img))
    assert on_black[edge].max() <= 203
