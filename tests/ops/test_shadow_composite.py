"""Shadow compositing: product pixels kept, plate swapped, background-tinted shade, RGBA over."""
from __future__ import annotations

import cv2
import numpy as np

from product_augment.ops import shadow_composite as comp

H, W = 160, 200


def bottle_matte() -> np.ndarray:
    big = np.zeros((H * 4, W * 4), np.uint8)
    pts = np.array([[94, 20], [106, 20], [106, 50], [120, 64], [120, 118], [80, 118], [80, 64],
                    [94, 50]], np.int32) * 4
    cv2.fillPoly(big, [pts], 255, cv2.LINE_AA)
    return cv2.resize(big, (W, H), interpolation=cv2.INTER_AREA).astype(np.float32) / 255.0


def test_recomposite_keeps_product_pixels_and_swaps_the_plate():
    rng = np.random.default_rng(0)
    alpha = bottle_matte()
    plate = np.full((H, W, 3), 240, np.uint8)
    fg = rng.integers(0, 256, (H, W, 3)).astype(np.float32)
    image = np.clip(alpha[..., None] * fg + (1 - alpha[..., None]) * plate + 0.5, 0, 255).astype(np.uint8)
    new_plate = rng.integers(0, 256, (H, W, 3), dtype=np.uint8)
    out = comp.recomposite(image, alpha, plate, new_plate)
    solid, empty = alpha >= 1, alpha <= 0
    assert np.array_equal(out[solid], image[solid])
    assert np.array_equal(out[empty], new_plate[empty])


def test_shade_multiplies_by_a_colour_taken_from_the_background():
    blue = np.full((8, 8, 3), (90, 140, 230), np.uint8)
    m = comp.shadow_multiplier(blue.astype(np.float32), np.ones((8, 8), np.float32), None)
    assert m[2] > m[1] > m[0]                                  # keeps the paper's hue
    shaded = comp.shade(blue, np.full((8, 8), 0.5, np.float32), m)
    assert (shaded < blue).all()
    assert np.array_equal(comp.shade(blue, np.zeros((8, 8), np.float32), m), blue)
    fixed = comp.shadow_multiplier(blue.astype(np.float32), np.ones((8, 8), np.float32), (51, 51, 51))
    assert np.allclose(fixed, 0.2)


def test_transparent_over_keeps_opaque_pixels_and_adds_coverage():
    rgb = np.full((4, 4, 3), 200, np.uint8)
    cov = np.zeros((4, 4), np.float32)
    cov[:2] = 1.0
    matte = np.full((4, 4), 0.5, np.float32)
    out, a = comp.over_transparent(rgb, cov, matte, np.zeros((4, 4, 3), np.float32))
    assert np.array_equal(out[:2], rgb[:2]) and np.all(a[:2] == 1.0)
    assert np.allclose(a[2:], 0.5) and (out[2:] == 0).all()


def test_transparent_shadow_colour_matches_the_opaque_shade_over_white():
    m = np.array([0.2, 0.25, 0.3], np.float32)
    scale, rgb = comp.transparent_shadow_color(m)
    s = np.full((4, 4), 0.6, np.float32)
    white = np.full((4, 4, 3), 255, np.uint8)
    nothing = np.zeros((4, 4), np.float32)
    out, a = comp.over_transparent(np.zeros((4, 4, 3), np.uint8), nothing, s * scale, rgb)
    over_white = a[..., None] * out + (1 - a[..., None]) * 255.0
    np.testing.assert_allclose(over_white, comp.shade(white, s, m), atol=2.0)


def test_reflections_and_photo_shadows_stay_off_the_product():
    rng = np.random.default_rng(0)
    alpha = bottle_matte()
    image = rng.integers(0, 256, (H, W, 3), dtype=np.uint8)
    matte = np.full((H, W), 0.4, np.float32)
    color = np.full((H, W, 3), 30.0, np.float32)
    solid = alpha >= 1
    refl = comp.reflect_around(image, alpha, matte, color)
    dark = comp.darken_around(image, matte * (1 - alpha), np.full(3, 0.2, np.float32))
    assert np.array_equal(refl[solid], image[solid]) and np.array_equal(dark[solid], image[solid])
    assert (dark <= image).all() and (dark[alpha <= 0] < image[alpha <= 0]).mean() > 0.95
    plate = np.full((H, W, 3), 240, np.uint8)
    onto = comp.reflect_onto(plate, matte, color)
    assert np.allclose(onto, 240 * 0.6 + 30, atol=1)
