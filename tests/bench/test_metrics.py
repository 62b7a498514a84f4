"""The bench's metrics and resize policy, against hand-computed values."""
import numpy as np
import pytest

from product_augment.bench.data import aspect_bucket, fit_square, valid_box
from product_augment.bench.metrics import converge_epoch, mask_ap, mean_std, segmentation_metrics


def _disc(h, w, cy, cx, r):
    yy, xx = np.mgrid[:h, :w]
    return (yy - cy) ** 2 + (xx - cx) ** 2 <= r * r


def test_all_foreground_predictor_gets_truth_over_valid_area():
    truths = np.stack([_disc(32, 32, 16, 16, 8), _disc(32, 32, 10, 20, 5)])
    valids = np.ones_like(truths)
    valids[1, :, 24:] = False  # a padded strip: not part of the image
    probs = np.ones(truths.shape, np.float32)
    m = segmentation_metrics(probs, truths, valids)
    a0 = truths[0].sum() / 1024
    a1 = truths[1][:, :24].sum() / (32 * 24)
    assert m["iou_image"] == pytest.approx((a0 + a1) / 2)
    assert m["pixel_accuracy"] == pytest.approx((a0 + a1) / 2)  # correct exactly on the truth
    assert m["iou_set"] == pytest.approx((truths[0].sum() + truths[1][:, :24].sum()) / (1024 + 32 * 24))
    assert m["component_ap"] is not None and m["component_ap"] < 0.5


def test_empty_prediction_on_empty_truth_is_left_out_of_the_iou_mean():
    truths = np.zeros((2, 16, 16), bool)
    truths[1, 4:8, 4:8] = True
    probs = np.zeros((2, 16, 16), np.float32)
    probs[1, 4:8, 4:10] = 0.9  # IoU 16/24
    m = segmentation_metrics(probs, truths)
    assert m["n_empty_agree"] == 1
    assert m["iou_image"] == pytest.approx(16 / 24)  # image 0 (0/0) is not averaged in as 1.0 or 0.0
    assert m["iou_set"] == pytest.approx(16 / 24)
    assert m["pixel_accuracy"] == pytest.approx((1.0 + (256 - 8) / 256) / 2)  # it counts as all-correct here
    only_empty = segmentation_metrics(np.zeros((1, 8, 8), np.float32), np.zeros((1, 8, 8), bool))
    assert only_empty["iou_image"] is None and only_empty["iou_set"] is None and only_empty["component_ap"] is None
    # an empty truth with a predicted pixel scores 0
    fp = segmentation_metrics(np.pad(np.ones((1, 1, 1), np.float32), ((0, 0), (0, 7), (0, 7))),
                              np.zeros((1, 8, 8), bool))
    assert fp["iou_image"] == 0.0


def test_ap_of_a_perfect_prediction_is_one_and_of_nothing_zero():
    rng = np.random.default_rng(0)
    truths = []
    for _ in range(5):
        t = np.zeros((48, 48), bool)
        for _ in range(rng.integers(1, 4)):
            t |= _disc(48, 48, *rng.integers(8, 40, 2), rng.integers(3, 8))
        t[0, 47] = True  # a one-pixel speck: a crowd region (ignored)
        truths.append(t)
    probs = [t.astype(np.float32) for t in truths]
    assert mask_ap(probs, truths) == (pytest.approx(1.0), pytest.approx(1.0))
    assert mask_ap([np.zeros_like(p) for p in probs], truths) == (0.0, 0.0)
    # a perfect mask with a confident false positive ranked first loses precision
    noisy = [p.copy() for p in probs]
    noisy[0][44:47, 0:3] = 1.0
    ap, _ap50 = mask_ap(noisy, truths)
    assert ap < 1.0


def test_edge_pad_resize_has_no_constant_bars():
    h, w = 60, 120  # landscape: bars above and below
    img = np.zeros((h, w, 3), np.uint8)
    img[..., 0] = np.linspace(40, 250, w, dtype=np.uint8)[None]  # a horizontal ramp
    img[..., 1] = 200
    mask = np.zeros((h, w), bool)
    mask[20:40, 50:70] = True
    x, y, v = fit_square(img, mask, 64)
    y0, y1, x0, x1 = valid_box(v)
    assert (y0, y1, x0, x1) == (16, 48, 0, 64)
    assert not (x == 0).all(-1).any()  # no black pixel anywhere
    for row in list(range(y0)) + list(range(y1, 64)):
        edge = y0 if row < y0 else y1 - 1
        assert np.array_equal(x[row], x[edge])  # the edge row repeated, not a constant colour
        assert len(np.unique(x[row][:, 0])) > 10
    assert not y[:y0].any() and not y[y1:].any() and y.sum() > 0
    black, _, vb = fit_square(img, mask, 64, pad="constant")
    assert (black[:y0] == 0).all() and np.array_equal(vb, v)
    assert aspect_bucket(w / h) == "landscape (w/h ≥ 1.05)" and aspect_bucket(2 / 3).startswith("portrait")


def test_converge_epoch_and_mean_std():
    assert converge_epoch([0.1, 0.5, 0.79, 0.795, 0.8, 0.7]) == 4  # 0.795 ≥ 0.99 × 0.8
    assert converge_epoch([0.5]) == 1 and converge_epoch([]) is None
    s = mean_std([1.0, 2.0, 3.0, None])
    assert s["mean"] == 2.0 and s["std"] == pytest.approx(1.0) and s["n"] == 3
    assert mean_std([0.5])["std"] == 0.0


def test_sign_flip_p_is_exact():
    from product_augment.bench.run import sign_flip_p

    assert sign_flip_p([0.05, 0.03, 0.04, 0.02, 0.06]) == 2 / 32  # all up: only the all-up and all-down patterns
    assert sign_flip_p([0.01, -0.01]) == 1.0
    assert sign_flip_p([0.3]) is None


def test_instance_map_separates_touching_products_that_component_map_merges():
    a, b = np.zeros((32, 32), bool), np.zeros((32, 32), bool)
    a[8:24, 4:16] = True
    b[8:24, 16:28] = True  # touching a: one 8-connected component
    probs = (a | b).astype(np.float32) * 0.9
    m = segmentation_metrics(probs[None], (a | b)[None], instances=[[a, b]])
    assert m["component_ap"] == pytest.approx(1.0)  # one blob against one blob
    # the blob has IoU 0.5 with each product: it matches one of them at IoU 0.50 and none above
    assert m["instance_ap50"] == pytest.approx(0.5, abs=0.01) and m["instance_ap"] < 0.06
    # separate predictions of the two products score on both
    gap = probs.copy()
    gap[:, 15:17] = 0
    assert segmentation_metrics(gap[None], (a | b)[None], instances=[[a, b]])["instance_ap50"] == pytest.approx(1.0)
    assert "instance_ap" not in segmentation_metrics(probs[None], (a | b)[None])
