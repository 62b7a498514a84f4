"""scripts/bench/mask_iou.py: the scorer's crops, IoU and the defects its training pairs are made of."""

import numpy as np

from ._scripts import load


def _tool():
    return load("mask_iou")


def test_crop_iou_and_defects():
    tool = _tool()
    ring = np.zeros((200, 300), bool)
    yy, xx = np.mgrid[:200, :300]
    r = np.hypot(yy - 100, xx - 150)
    ring[(r < 60) & (r > 25)] = True  # a product with a real hole
    img = np.zeros((200, 300, 3), np.uint8)
    img[ring] = (200, 40, 40)
    x = tool.crop(img, ring)
    assert x.shape == (tool.SIDE, tool.SIDE, 4) and x.dtype == np.uint8
    assert x[..., 3].max() == 255 and x[0, 0, 3] == 0  # the box is grown: backdrop at its corner
    assert tool.crop(img, np.zeros_like(ring)) is None
    assert tool.iou(ring, ring) == 1.0 and tool.iou(ring, ~ring) == 0.0
    rng = np.random.default_rng(0)
    assert np.array_equal(tool.perturb(ring, "same", rng), ring)
    assert tool.perturb(ring, "fill", rng)[100, 150] and tool.perturb(ring, "fill", rng).sum() > ring.sum()
    assert tool.perturb(ring, "erode", rng).sum() < ring.sum() < tool.perturb(ring, "dilate", rng).sum()
    for kind in ("lose", "cut", "punch"):  # parts lost: never a pixel more
        got = tool.perturb(ring, kind, np.random.default_rng(3))
        assert not (got & ~ring).any() and got.sum() <= ring.sum()
        assert kind == "cut" or got.sum() < ring.sum()  # a half-plane may pass beside the product
    for kind in ("take", "shadow"):  # backdrop taken: the product kept whole
        got = tool.perturb(ring, kind, np.random.default_rng(3))
        assert (got & ring).sum() == ring.sum() and got.sum() > ring.sum()
