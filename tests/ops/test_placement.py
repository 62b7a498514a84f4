"""Placement geometry: masks and boxes follow the affine exactly; free-rectangle search."""
from __future__ import annotations

import cv2
import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from product_augment.ops.placement import (
    maximal_free_rects,
    occupancy_grid,
    opencv_matrix,
    place_box,
    scale_translate,
    warp_full,
    warp_instance,
    warp_mask,
)
from product_augment.sample import Instance, mask_box


def test_integer_translation_moves_mask_and_box_exactly():
    mask = np.zeros((40, 50), bool)
    mask[5:15, 10:30] = True
    m = scale_translate(1.0, 7.0, 3.0)
    inst = warp_instance(Instance.from_mask(1, mask), m, (60, 45))
    expected = np.zeros((45, 60), bool)
    expected[8:18, 17:37] = True
    assert np.array_equal(inst.mask, expected)
    assert inst.box == (17.0, 8.0, 37.0, 18.0)


def test_integer_upscale_maps_box_corners():
    mask = np.zeros((20, 20), bool)
    mask[4:10, 6:12] = True
    m = scale_translate(2.0, 1.0, 0.0)
    out = warp_mask(mask, m, (48, 48))
    # pixel (x, y) covers [x, x+1); under x' = 2x + 1 the box [6, 12) maps to [13, 25)
    assert mask_box(out) == (13.0, 8.0, 25.0, 20.0)


@settings(max_examples=40, deadline=None)
@given(st.floats(0.3, 2.5), st.floats(-20, 60), st.floats(-20, 60), st.integers(0, 10**6))
def test_box_is_always_the_warped_masks_tight_box(scale, tx, ty, seed):
    rng = np.random.default_rng(seed)
    mask = np.zeros((50, 60), bool)
    y0, x0 = rng.integers(0, 30, 2)
    mask[y0:y0 + rng.integers(3, 20), x0:x0 + rng.integers(3, 25)] = True
    m = scale_translate(scale, tx, ty)
    inst = warp_instance(Instance.from_mask(2, mask), m, (90, 80))
    assert inst.box == mask_box(inst.mask)
    if inst.mask.any():  # the warped box is where the affine sends the source box
        bx0, by0, bx1, by1 = mask_box(mask)
        ex = np.array([bx0 * scale + tx, by0 * scale + ty, bx1 * scale + tx, by1 * scale + ty])
        ex = np.clip(ex, 0, [90, 80, 90, 80])
        # half-coverage rule: a thin sliver at a corner may round either way, hence 1.5 px
        assert np.all(np.abs(np.array(inst.box) - ex) <= 1.5)


def test_warp_full_matches_direct_warp():

    rng = np.random.default_rng(0)
    src = rng.uniform(0, 1, (40, 40)).astype(np.float32)
    m = scale_translate(1.7, 5.3, -2.2)
    ref = cv2.warpAffine(src, opencv_matrix(m), (90, 70), flags=cv2.INTER_LINEAR,
                         borderMode=cv2.BORDER_CONSTANT)
    np.testing.assert_allclose(warp_full(src, m, (90, 70)), ref, atol=1e-4)


def _brute_max_area(occ: np.ndarray) -> int:
    h, w = occ.shape
    best = 0
    for y0 in range(h):
        for y1 in range(y0 + 1, h + 1):
            for x0 in range(w):
                for x1 in range(x0 + 1, w + 1):
                    if not occ[y0:y1, x0:x1].any():
                        best = max(best, (y1 - y0) * (x1 - x0))
    return best


@settings(max_examples=30, deadline=None)
@given(st.integers(0, 10**6), st.floats(0.1, 0.6))
def test_maximal_free_rects_are_empty_maximal_and_contain_the_largest(seed, density):
    rng = np.random.default_rng(seed)
    occ = rng.uniform(size=(7, 8)) < density
    rects = maximal_free_rects(occ)
    areas = [(x1 - x0) * (y1 - y0) for x0, y0, x1, y1 in rects]
    for x0, y0, x1, y1 in rects:
        assert not occ[y0:y1, x0:x1].any()
        # maximal: cannot grow in any direction
        h, w = occ.shape
        assert x0 == 0 or occ[y0:y1, x0 - 1].any()
        assert x1 == w or occ[y0:y1, x1].any()
        assert y0 == 0 or occ[y0 - 1, x0:x1].any()
        assert y1 == h or occ[y1, x0:x1].any()
    assert max(areas, default=0) == _brute_max_area(occ)


def test_occupancy_grid_is_conservative():
    occ = np.zeros((100, 130), bool)
    occ[37, 91] = True
    g = occupancy_grid(occ, 16)
    assert g.shape == (7, 9)
    assert g[2, 5]
    assert g[-1].all() and g[:, -1].all()  # partial border cells count as occupied
    assert g.sum() == 1 + 9 + 7 - 1


@settings(max_examples=60, deadline=None)
@given(st.integers(0, 10**6), st.floats(0.3, 4.0),
       st.sampled_from(["any", "top-left", "bottom-right", "top"]))
def test_placed_box_never_touches_the_dilated_occupied_area(seed, aspect, corner):
    rng = np.random.default_rng(seed)
    h, w = 200, 260
    occ = np.zeros((h, w), bool)
    for _ in range(rng.integers(1, 4)):
        cy, cx, r = rng.integers(0, h), rng.integers(0, w), rng.integers(10, 70)
        yy, xx = np.ogrid[:h, :w]
        occ |= (yy - cy) ** 2 + (xx - cx) ** 2 < r * r
    margin = 6
    box, reason = place_box(occ, aspect, want_w=80, min_w=10, margin=margin, corner=corner, border=4)
    if box is None:
        assert reason
        return
    x0, y0, x1, y1 = box
    assert 0 <= x0 < x1 <= w and 0 <= y0 < y1 <= h
    assert x1 - x0 <= 80
    assert abs((x1 - x0) / (y1 - y0) - aspect) < 0.1 * aspect + 1.0 / (y1 - y0) * aspect + 0.05
    # every box pixel is at least `margin` px (Euclidean) from every occupied pixel
    dist = cv2.distanceTransform((~occ).view(np.uint8), cv2.DIST_L2, cv2.DIST_MASK_PRECISE)
    assert dist[y0:y1, x0:x1].min() >= margin


def test_place_box_reports_why_nothing_fits():
    occ = np.ones((64, 64), bool)
    box, reason = place_box(occ, 1.0, 20, 5, 0)
    assert box is None and reason
    occ = np.zeros((64, 64), bool)
    occ[8:56, 8:56] = True
    box, reason = place_box(occ, 1.0, 30, 20, 2)
    assert box is None and "minimum" in reason
