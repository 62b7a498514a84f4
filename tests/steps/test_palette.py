"""The palette step: k-means in CIELAB over product pixels."""
from __future__ import annotations

import numpy as np
import pytest
from pydantic import TypeAdapter, ValidationError

from product_augment.ops.color import delta_e_2000, srgb_to_lab
from product_augment.sample import Sample
from product_augment.steps import palette

ADAPTER = TypeAdapter(palette.Config)
RED, BLUE, GREY = (200, 30, 30), (30, 60, 190), (128, 128, 128)


def two_colour_product(h=120, w=160, split=0.7) -> Sample:
    """A box product, 70 % red and 30 % blue, on a grey background that must be ignored."""
    img = np.empty((h, w, 3), np.uint8)
    img[:] = GREY
    alpha = np.zeros((h, w), np.float32)
    alpha[20:100, 30:130] = 1.0
    img[20:100, 30:130] = RED
    img[20:100, 30 + int(100 * split):130] = BLUE
    return Sample(img, alpha)


def test_kmeans_recovers_a_two_colour_palette():
    step = palette.build(ADAPTER.validate_python({"k": 2}))
    out = step(two_colour_product(), np.random.default_rng(0))
    assert len(out.palette) == 2
    first, second = out.palette
    assert first.rgb == RED and second.rgb == BLUE
    assert first.share == pytest.approx(0.7, abs=0.05) and second.share == pytest.approx(0.3, abs=0.05)
    assert delta_e_2000(first.lab, srgb_to_lab(np.array(RED, np.uint8))) < 0.5
    assert out.palette[0].share >= out.palette[1].share


def test_default_k_caps_at_distinct_colours_and_ignores_background():
    out = palette.build(ADAPTER.validate_python({}))(two_colour_product(), np.random.default_rng(0))
    assert {c.rgb for c in out.palette} == {RED, BLUE}  # only 2 distinct colours: no duplicates
    assert sum(c.share for c in out.palette) == pytest.approx(1.0)
    params = out.meta["applied"]["palette"]
    assert params["k"] == 4 and params["pixels"] == 3000 and len(params["colors"]) == 2


def test_subsampling_is_bounded_and_deterministic():
    rng = np.random.default_rng(5)
    img = rng.integers(0, 256, (300, 300, 3), dtype=np.uint8)
    s = Sample(img, np.ones((300, 300), np.float32))
    step = palette.build(ADAPTER.validate_python({"k": 5, "max_pixels": 500}))
    a = step(s, np.random.default_rng(11))
    b = step(s, np.random.default_rng(11))
    assert a.palette == b.palette and a.meta == b.meta
    assert a.meta["applied"]["palette"]["pixels"] == 500 and len(a.palette) == 5
    replay = step.apply(s, a.meta["applied"]["palette"])
    assert replay.palette == a.palette


def test_empty_matte_gives_no_palette():
    s = Sample(np.zeros((10, 10, 3), np.uint8), np.zeros((10, 10), np.float32))
    out = palette.build(ADAPTER.validate_python({}))(s, np.random.default_rng(0))
    assert out.palette is None and not out.has("palette")


def test_config_rejects_unknown_fields():
    with pytest.raises(ValidationError):
        ADAPTER.validate_python({"kk": 3})


def test_palette_is_pinned_on_a_fixed_product():
    """The palette's exact output on a fixed two-colour product: a change to the k-means (seeding,
    stopping, empty clusters) that moves any colour shows up here, not only in the pictures."""
    from ..conftest import make_packshot

    img, mask = make_packshot()
    img = img.copy()
    stripe = mask.copy()
    stripe[:100] = False
    img[stripe & (np.arange(320)[None, :] > 180)] = (30, 90, 180)
    p = palette.PaletteStep(palette.PaletteConfig()).draw(Sample(img, mask.astype(np.float32)),
                                                          np.random.default_rng(0))
    assert [(c["rgb"], c["share"]) for c in p["colors"]] == [
        ([184, 38, 28], 0.397667), ([169, 35, 26], 0.262333), ([30, 90, 180], 0.222), ([151, 31, 24], 0.118)]


def test_kmeans_edge_cases():
    from product_augment.steps.palette import kmeans

    rng = np.random.default_rng(0)
    # identical points: one centre used, every label valid
    c, labels = kmeans(np.zeros((5, 3)), 3, rng)
    assert c.shape == (3, 3) and set(labels) <= {0, 1, 2}
    # one point
    c, labels = kmeans(np.ones((1, 3)), 1, rng)
    assert np.array_equal(c, np.ones((1, 3))) and list(labels) == [0]
    # three separated blobs: each blob one cluster, same bytes for the same seed
    x = np.concatenate([rng.normal(m, 2, (300, 3)) for m in ([50, 0, 0], [80, 20, -10], [30, -30, 40])])
    a = kmeans(x, 3, np.random.default_rng(5))
    b = kmeans(x, 3, np.random.default_rng(5))
    assert np.array_equal(a[0], b[0]) and np.array_equal(a[1], b[1])
    assert sorted(np.bincount(a[1])) == [300, 300, 300]
