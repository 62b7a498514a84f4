"""Variable-radius blur: sharp rows stay sharp, edges widen with the radius, flat stays flat."""
from __future__ import annotations

import itertools

import numpy as np
import pytest

from product_augment.ops.variable_blur import variable_blur_rows

from ..conftest import edge_width


def test_variable_blur_keeps_sharp_rows_and_widens_with_sigma():
    img = np.zeros((128, 256), np.float32)
    img[:, 128:] = 1.0
    sigma = np.concatenate([np.zeros(64), np.linspace(0.0, 12.0, 64)]).astype(np.float32)
    out = variable_blur_rows(img, sigma)
    assert np.array_equal(out[:56], img[:56])        # radius 0 and out of reach of blurred rows
    widths = [edge_width(out[r, 64:192]) for r in (72, 88, 104, 120)]
    assert all(b > a for a, b in itertools.pairwise(widths))
    # a Gaussian edge's 10–90% width is 2.563 σ
    assert widths[2] == pytest.approx(2.563 * sigma[104], rel=0.15)


def test_variable_blur_keeps_a_flat_area_flat():
    out = variable_blur_rows(np.ones((200, 300), np.float32), np.linspace(0, 40, 200), vertical=0.3)
    assert np.allclose(out[:, 100:200], 1.0, atol=0.02)
