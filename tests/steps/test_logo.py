"""The logo step: logos and captions placed in free space, never over the product."""
from __future__ import annotations

import cv2
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import TypeAdapter, ValidationError

from product_augment.sample import Sample
from product_augment.steps import logo

ADAPTER = TypeAdapter(logo.Config)


def build(cfg: dict) -> logo.LogoStep:
    return logo.build(ADAPTER.validate_python(cfg))


LOGO = build({"kind": "logo"})
CAPTION = build({"kind": "caption"})


def product(h: int, w: int, rng: np.random.Generator, n: int = 2) -> Sample:
    """Random discs and boxes with soft edges on a plain plate."""
    alpha = np.zeros((h, w), np.float32)
    yy, xx = np.mgrid[:h, :w]
    for _ in range(n):
        cy, cx = rng.integers(0, h), rng.integers(0, w)
        r = rng.integers(min(h, w) // 10, min(h, w) // 3)
        if rng.uniform() < 0.5:
            d = np.sqrt((yy - cy) ** 2 + (xx - cx) ** 2) - r
        else:
            d = np.maximum(np.abs(yy - cy), np.abs(xx - cx)) - r
        alpha = np.maximum(alpha, np.clip(0.5 - d / 2, 0, 1).astype(np.float32))
    img = np.empty((h, w, 3), np.uint8)
    img[:] = (235, 235, 240)
    img[alpha > 0] = (120, 30, 30)
    return Sample(img, alpha, plate=np.full((h, w, 3), (235, 235, 240), np.uint8))


@settings(max_examples=60, deadline=None)
@given(st.integers(0, 2**32 - 1), st.sampled_from([(256, 256), (200, 320), (320, 180)]), st.booleans(),
       st.integers(1, 3))
def test_overlay_never_covers_the_product_or_its_shadow(seed, shape, caption, n):
    rng = np.random.default_rng(seed)
    s = product(*shape, rng, n)
    shadow = np.zeros(shape, np.float32)
    shadow[int(shape[0] * 0.8):, : shape[1] // 2] = 0.4
    s = s.with_layer("shadow", shadow)
    step = CAPTION if caption else LOGO
    out = step(s, rng)
    p = out.meta["applied"]["logo"]
    matte = out.layers["logo"]
    occupied = (s.alpha > 0.02) | (shadow > 0.02)
    assert not (matte > 0)[occupied].any()
    unchanged = matte == 0
    assert np.array_equal(out.image[unchanged], s.image[unchanged])
    if p["box"] is None:
        assert p["skipped"] and not matte.any()
    else:
        x0, y0, x1, y1 = p["box"]
        assert matte[y0:y1, x0:x1].max() > 0.5 and not matte[:y0].any() and not matte[y1:].any()
        margin = int(np.ceil(0.02 * min(shape)))
        dist = cv2.distanceTransform((~occupied).view(np.uint8), cv2.DIST_L2, cv2.DIST_MASK_PRECISE)
        assert dist[y0:y1, x0:x1].min() >= margin


def test_logo_is_placed_with_room_and_recorded():
    s = product(256, 256, np.random.default_rng(0), n=0)
    s = s.replace(alpha=np.pad(np.ones((60, 60), np.float32), 98))
    out = LOGO(s, np.random.default_rng(1))
    p = out.meta["applied"]["logo"]
    assert p["box"] is not None and p["file"].endswith(".png")
    x0, y0, x1, y1 = p["box"]
    side = np.sqrt((x1 - x0) * (y1 - y0)) / 256
    assert 0.1 < side < 0.23  # size 0.12..0.2 of the canvas (√area), rounding to cells
    assert out.has("layer:logo")
    # the plate receives the overlay too, so image == alpha*F + (1-alpha)*background still holds
    outside = out.alpha == 0
    assert np.array_equal(out.image[outside], out.plate[outside])


def test_skips_and_says_why_when_nothing_fits():
    s = Sample(np.zeros((100, 100, 3), np.uint8), np.ones((100, 100), np.float32))
    out = CAPTION(s, np.random.default_rng(0))
    p = out.meta["applied"]["logo"]
    assert p["box"] is None and p["skipped"]
    assert np.array_equal(out.image, s.image) and not out.layers["logo"].any()


@pytest.mark.parametrize("badge", ["none", "rounded", "pill", "circle"])
def test_caption_renders_with_every_badge(badge):
    step = build({"kind": "caption", "text": "SALE −20%", "badge": badge, "corner": "top-left",
                  "badge_color": "#d62828"})
    s = product(256, 256, np.random.default_rng(0), n=0).replace(alpha=np.zeros((256, 256), np.float32))
    s = s.replace(alpha=np.pad(np.ones((40, 40), np.float32), ((200, 16), (200, 16))))
    out = step(s, np.random.default_rng(0))
    p = out.meta["applied"]["logo"]
    x0, y0, x1, y1 = p["box"]
    assert x0 < 128 and y0 < 128  # top-left preference honoured
    region = out.image[y0:y1, x0:x1].reshape(-1, 3)
    tol, frac = (90, 0.02) if badge == "none" else (30, 0.3)  # "none": a thin anti-aliased outline
    assert (np.abs(region.astype(int) - [214, 40, 40]).sum(axis=1) < tol).mean() > frac
    assert (region.min(axis=1) > 230).mean() > 0.02  # white text
    if badge == "circle":
        assert abs((x1 - x0) - (y1 - y0)) <= 1


def test_same_seed_same_bytes_and_replay():
    s = product(240, 320, np.random.default_rng(3))
    for step in (LOGO, CAPTION):
        a = step(s, np.random.default_rng(9))
        b = step(s, np.random.default_rng(9))
        assert np.array_equal(a.image, b.image) and a.meta == b.meta
        r = step.apply(s, a.meta["applied"]["logo"])
        assert np.array_equal(r.image, a.image) and np.array_equal(r.layers["logo"], a.layers["logo"])


def test_opacity_and_transparent_output():
    s = product(256, 256, np.random.default_rng(0), n=0)
    s = s.replace(alpha=np.pad(np.ones((60, 60), np.float32), 98))
    s = s.replace(output_alpha=s.alpha.copy())
    out = build({"kind": "caption", "opacity": 0.5, "badge": "rounded"})(s, np.random.default_rng(2))
    x0, y0, x1, y1 = out.meta["applied"]["logo"]["box"]
    assert out.layers["logo"].max() == pytest.approx(0.5, abs=0.01)
    # on a transparent picture the overlay adds its own coverage
    assert out.output_alpha[y0:y1, x0:x1].max() == pytest.approx(0.5, abs=0.01)
    assert np.array_equal(out.output_alpha[s.alpha > 0], s.alpha[s.alpha > 0])


def test_config_errors():
    with pytest.raises(ValidationError):
        ADAPTER.validate_python({"kind": "sticker"})
    with pytest.raises(ValidationError):
        ADAPTER.validate_python({"kind": "caption", "corner": "middle"})
    with pytest.raises(ValidationError):
        ADAPTER.validate_python({"kind": "logo", "sizes": 0.2})


def test_custom_logo_folder(tmp_path):
    from PIL import Image

    rgba = np.zeros((40, 80, 4), np.uint8)
    rgba[5:35, 5:75] = (20, 200, 40, 255)
    Image.fromarray(rgba).save(tmp_path / "brand.png")
    step = build({"kind": "logo", "path": str(tmp_path), "corner": "top-right"})
    s = product(256, 256, np.random.default_rng(0), n=0).replace(alpha=np.zeros((256, 256), np.float32))
    out = step(s, np.random.default_rng(0))
    p = out.meta["applied"]["logo"]
    x0, y0, x1, y1 = p["box"]
    assert p["file"] == "brand.png" and x0 > 128 and y1 < 128
    assert abs((x1 - x0) / (y1 - y0) - 2.0) < 0.1
    assert np.abs(out.image[(y0 + y1) // 2, (x0 + x1) // 2].astype(int) - [20, 200, 40]).max() <= 2


def test_badge_colour_contrasts_with_what_is_under_it():
    step = build({"kind": "caption", "text": "NEW", "badge": "rounded",
                  "badge_color": {"choice": ["#d62828", "#ffffff"], "weights": [1, 0]}})
    img = np.empty((256, 256, 3), np.uint8)
    img[:] = (214, 40, 40)  # a red plate: a red badge would vanish
    s = Sample(img, np.pad(np.ones((40, 40), np.float32), 108))
    p = step(s, np.random.default_rng(0)).meta["applied"]["logo"]
    assert p["badge_color"] == [255, 255, 255] and p["text_color"] == [17, 17, 17]


def test_large_logo_is_downscaled_premultiplied_without_halo(tmp_path):
    from PIL import Image

    from product_augment.folders import ImageFolder

    rgba = np.zeros((700, 1001, 4), np.uint8)
    rgba[..., :3] = (0, 255, 0)           # the transparent part's colour must never show
    rgba[200:500, 300:700] = (200, 30, 30, 255)
    Image.fromarray(rgba, "RGBA").save(tmp_path / "big.png")
    small = ImageFolder(tmp_path, suffixes=(".png",), max_side=512, mode="rgba")[0]
    assert small.shape == (358, 512, 4)
    visible = small[..., 3] > 0
    assert visible.any() and small[visible][:, 1].max() < 40  # no green fringe at the edge
