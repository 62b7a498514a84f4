import cv2
import numpy as np
import pytest

from product_augment.ops.matte import GuidedFilter


def _scene(h=96, w=128, edge=61):
    """A dark product (x < edge) on a light background, and a blurry mask whose edge is 5-6 px off."""
    img = np.full((h, w, 3), 220, np.uint8)
    img[:, :edge] = 40
    truth = np.zeros((h, w), bool)
    truth[:, :edge] = True
    x = np.arange(w, dtype=np.float32)
    blurry = 1.0 / (1.0 + np.exp((x - (edge + 5)) / 3.0))  # soft step centred 5 px too far right
    return img, truth, np.tile(blurry, (h, 1)).astype(np.float32)


def test_edge_moves_onto_the_image_edge():
    img, truth, mask = _scene()
    before = (mask >= 0.5) != truth
    assert before.sum() == 6 * truth.shape[0]  # six wrong columns (61..66)
    out = GuidedFilter(img, radius=8, eps=1e-3)(mask)
    assert ((out >= 0.5) != truth).sum() <= 3 * truth.shape[0]
    assert (out[:, 60] - out[:, 61]).min() > 0.3  # the matte now jumps where the image does
    assert abs(mask[0, 60] - mask[0, 61]) < 0.1  # ...and did not before
    # a window that spans the offset puts the edge exactly on the image edge
    assert ((GuidedFilter(img, radius=12, eps=1e-3)(mask) >= 0.5) != truth).sum() == 0
    assert out.dtype == np.float32 and out.min() >= 0.0 and out.max() <= 1.0


def test_flat_guide_only_smooths():
    """Where the guide has no edge the output is a box-smoothed matte: a hard step stays centred."""
    flat = np.full((64, 64, 3), 128, np.uint8)
    step = np.zeros((64, 64), np.float32)
    step[:, :32] = 1.0
    out = GuidedFilter(flat, radius=4, eps=1e-3)(step)
    np.testing.assert_array_equal(out >= 0.5, step >= 0.5)
    assert 0.0 < out[0, 31] < 1.0 and 0.0 < out[0, 32] < 1.0  # softened over the window


def test_subsampled_filter_matches_full_filter():
    img, truth, mask = _scene(h=192, w=256, edge=122)
    img = cv2.GaussianBlur(img, (0, 0), 1.0)
    full = GuidedFilter(img, radius=16, eps=1e-3)(mask)
    fast = GuidedFilter(img, radius=16, eps=1e-3, subsample=2)(mask)
    assert np.abs(full - fast).mean() < 0.02
    assert ((fast >= 0.5) != truth).mean() < 0.01


def test_shape_mismatch_is_refused():
    gf = GuidedFilter(np.zeros((8, 8), np.uint8), radius=2)
    with pytest.raises(ValueError, match="differs from the guide"):
        gf(np.zeros((8, 9), np.float32))
