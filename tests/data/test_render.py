"""Offscreen renderer: exact alpha, upright models, ground shadow."""
from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("trimesh")
pytest.importorskip("pyrender")

import trimesh

from product_augment.data import render as R


def _textured_box() -> trimesh.Scene:
    box = trimesh.creation.box(extents=[20.0, 40.0, 10.0])
    tex = np.zeros((16, 16, 3), np.uint8)
    tex[::2, ::2] = 255
    uv = np.random.default_rng(0).uniform(size=(len(box.vertices), 2))
    from PIL import Image

    box.visual = trimesh.visual.TextureVisuals(uv=uv, image=Image.fromarray(tex))
    return trimesh.Scene(box)


@pytest.fixture(scope="module")
def renderer():
    try:
        r = R.Renderer(64, supersample=2)
    except Exception as exc:  # noqa: BLE001 - no EGL/OSMesa on this machine
        pytest.skip(f"no offscreen GL: {exc}")
    yield r
    r.close()


def test_alpha_is_exact_coverage(renderer):
    model = R.prepare_model(_textured_box())
    res = renderer.render(model, R.View(30.0, 20.0))
    alpha, depth = res.rgba[..., 3], res.depth
    assert res.rgba.shape == (64, 64, 4) and res.rgba.dtype == np.uint8
    assert 0.05 < (alpha > 0).mean() < 0.9
    np.testing.assert_array_equal(alpha > 0, depth > 0)
    assert res.distance > 0


def test_prepare_model_applies_rotation_scales_and_stands_on_ground():
    # A model authored Z-up: the catalogue rotation maps its Z axis to Y.
    mesh = trimesh.creation.box(extents=[2.0, 1.0, 5.0])
    rot = np.array([[1, 0, 0], [0, 0, 1], [0, -1, 0]], float)
    model = R.prepare_model(trimesh.Scene(mesh), rotation=rot, size=(20.0, 50.0, 10.0))
    lo, hi = model.bounds
    np.testing.assert_allclose(hi - lo, [20.0, 50.0, 10.0], atol=1e-6)
    assert abs(lo[1]) < 1e-9  # standing on y = 0
    np.testing.assert_allclose((lo + hi)[[0, 2]] / 2, 0.0, atol=1e-9)


def test_ground_shadow_is_cast_next_to_the_object(renderer):
    model = R.prepare_model(_textured_box())
    view = R.View(0.0, 35.0)
    light = R.AreaLight(azimuth_deg=90.0, elevation_deg=45.0, radius_deg=5.0, samples=2)
    matte = renderer.render_shadow(model, view, light)
    alpha = renderer.render(model, view).rgba[..., 3]
    obj = alpha > 0
    assert matte.shape == (64, 64) and matte.dtype == np.float32
    assert matte.min() >= 0 and matte.max() <= 1
    assert matte[~obj].max() > 0.5  # a dark shadow somewhere on the visible ground
    assert (matte > 0.5).sum() > 10
    assert np.all(matte[alpha == 255] == 0)  # no shadow is reported where the object hides the ground


def test_kelvin_colour_is_warm_to_cool():
    warm, cool = R.kelvin_to_rgb(3000), R.kelvin_to_rgb(9000)
    assert warm[0] == 1.0 and warm[2] < 0.7
    assert cool[2] == 1.0 and cool[0] < 1.0


def test_shadow_pairs_are_written_and_resumable(tmp_path, renderer):
    from product_augment.data.shadow_pairs import build_shadow_pairs
    from product_augment.data.sources import CatalogEntry

    obj = tmp_path / "box.obj"
    trimesh.creation.box(extents=[1.0, 2.0, 1.0]).export(obj)
    entry = CatalogEntry("Test", 1, "Test#box", "Stool", "Kitchen", "me", obj, None, (30.0, 45.0, 30.0), False,
                         "CC0-1.0")
    out = tmp_path / "pairs"
    assert build_shadow_pairs([entry], out, 2, renderer=renderer) == 2
    from PIL import Image

    rgba = np.asarray(Image.open(out / "000000_rgba.png"))
    shadow = np.asarray(Image.open(out / "000000_shadow.png"))
    assert rgba.shape == (64, 64, 4) and shadow.shape == (64, 64)
    assert shadow.max() > 0
    first = (out / "000000_shadow.png").read_bytes()
    assert build_shadow_pairs([entry], out, 3, renderer=renderer) == 3  # resumes: only index 2 is new
    assert (out / "000000_shadow.png").read_bytes() == first
    assert len((out / "pairs.jsonl").read_text().splitlines()) == 3
