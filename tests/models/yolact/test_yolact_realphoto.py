"""Generic products in the loss, class-agnostic detection, the product prior and the mask refiner."""
import json

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from product_augment.models.yolact.checkpoint import save_weights
from product_augment.models.yolact.loss import Target, yolact_loss
from product_augment.models.yolact.model import Yolact
from product_augment.models.yolact.predict import Predictor, product_prior
from product_augment.models.yolact.refiner import (
    MaskRefiner,
    Refiner,
    RefinerConfig,
    crop_box,
    network_input,
    refiner_path,
    save_refiner,
)
from product_augment.models.yolact.refiner_train import degrade, make_sample, refiner_loss


def _out_and_target(small_cfg, label):
    torch.manual_seed(0)
    model = Yolact(small_cfg).train()
    x = torch.rand(1, 3, 96, 96) * 255
    out = model(x)
    mask = torch.zeros(96, 96)
    mask[20:70, 30:60] = 1
    t = Target(torch.tensor([[30 / 96, 20 / 96, 60 / 96, 70 / 96]]), torch.tensor([label]), mask[None])
    return out, t


def test_generic_positive_learns_not_background_only(small_cfg):
    out, t = _out_and_target(small_cfg, 22)
    losses = yolact_loss(out, [t], 21, small_cfg.box_variances)
    assert torch.isfinite(losses["total"])
    # the class term of a generic positive is -log(1 - p_bg): raising one fg logit or another helps alike
    cls = out["cls"].detach().clone().requires_grad_(True)
    out2 = {**out, "cls": cls}
    yolact_loss(out2, [t], 21, small_cfg.box_variances)["cls"].backward()
    from product_augment.models.yolact.loss import match
    _, state = match(out["anchors"], t.boxes, 0.5, 0.4)
    pos = (state == 1).nonzero().squeeze(1)
    g = cls.grad[0, pos]  # gradient on positive anchors
    p = cls.detach()[0, pos].softmax(-1)
    fg_share = p[:, 1:] / p[:, 1:].sum(-1, keepdim=True)
    # d/dlogit_c of -log(sum fg) = p_c - p_c/sum_fg for fg classes: proportional to each class's share
    expected = p[:, 1:] - fg_share
    num_pos = max(1, int((state == 1).sum()))
    torch.testing.assert_close(g[:, 1:] * num_pos, expected, atol=1e-5, rtol=1e-4)


def test_generic_pixels_are_ignored_by_the_semantic_loss(small_cfg):
    out, t_generic = _out_and_target(small_cfg, 22)
    seg = out["seg"]
    empty = Target(torch.zeros(0, 4), torch.zeros(0, dtype=torch.long), torch.zeros(0, 96, 96))
    a = yolact_loss({**out}, [t_generic], 21, small_cfg.box_variances)["sem"]
    b = yolact_loss({**out}, [empty], 21, small_cfg.box_variances)["sem"]
    # with the generic object's pixels ignored, the loss is the empty image's minus those pixels' share
    small = F.interpolate(t_generic.masks[None], size=seg.shape[-2:], mode="area")[0, 0]
    per_px = F.binary_cross_entropy_with_logits(seg[0], torch.zeros_like(seg[0]), reduction="none").sum(0)
    torch.testing.assert_close(a, (per_px * (1 - small)).mean(), atol=1e-5, rtol=1e-5)
    assert a < b


def test_agnostic_detection_finds_a_product_of_unknown_class(small_cfg):
    model = Yolact(small_cfg).eval()
    x = torch.rand(1, 3, 96, 96) * 255
    with torch.no_grad():
        out = model(x)
        logits = torch.full_like(out["cls"], -10.0)
        logits[..., 0] = 0.0  # background everywhere ...
        logits[0, 5, 0] = -10.0  # ... but anchor 5: no background, probability spread over 21 classes
        logits[0, 5, 1:] = 0.0
        out["cls"] = logits
        per_class = model.detect(out, score_threshold=0.3)[0]
        agnostic = model.detect(out, score_threshold=0.3, agnostic=True)[0]
    assert per_class.scores.numel() == 0  # each class has 1/21 < 0.3
    assert agnostic.scores.numel() == 1 and agnostic.scores[0] > 0.99
    assert agnostic.objectness is not None and 1 <= int(agnostic.classes[0]) <= 21


def test_product_prior_prefers_the_centred_product_to_an_edge_prop_and_a_stripe():
    h, w = 100, 160
    centre = np.zeros((h, w), np.float32)
    centre[30:70, 60:100] = 1
    prop = np.zeros((h, w), np.float32)
    prop[40:100, 0:30] = 1  # cut by the left and bottom borders
    stripe = np.zeros((h, w), np.float32)
    stripe[80:100, :] = 1  # a floor band: touches three borders
    speck = np.zeros((h, w), np.float32)
    speck[50, 80] = 1
    p = product_prior(np.stack([centre, prop, stripe, speck]))
    assert p[0] > p[1] > p[2] > p[3]
    assert p[0] == pytest.approx(1.0, abs=1e-3)


def test_refiner_starts_as_identity_and_round_trips(tmp_path):
    torch.manual_seed(0)
    model = MaskRefiner(RefinerConfig(size=128, width=8))  # the crop fits: no resampling
    image = np.random.default_rng(0).integers(0, 256, (90, 120, 3), dtype=np.uint8)
    mask = np.zeros((90, 120), np.float32)
    mask[20:70, 30:90] = 0.9
    mask[25:65, 35:85] = 0.99
    ref = Refiner(model)
    out = ref(image, mask)
    assert out.shape == mask.shape and out.dtype == np.float32
    # zero-initialised output layer: the refined mask is the coarse one
    assert np.abs(out - mask).max() < 1e-3
    with torch.no_grad():
        model.out.bias.fill_(0.3)
    path = save_refiner(model, tmp_path / "r.safetensors", {"note": 1})
    assert json.loads(path.with_suffix(".json").read_text())["config"]["size"] == 128
    np.testing.assert_allclose(Refiner.load(path)(image, mask), ref(image, mask), atol=1e-6)
    assert np.array_equal(Refiner(model)(image, np.zeros_like(mask)), np.zeros_like(mask))  # nothing to refine


def test_predictor_loads_the_refiner_beside_the_weights(tmp_path, small_cfg):
    torch.manual_seed(0)
    yolact = Yolact(small_cfg).eval()
    with torch.no_grad():
        yolact.head.cls.bias.view(3, 22)[:, 0] = -2.0
    wpath = save_weights(yolact, tmp_path / "m.safetensors")
    assert Predictor.from_weights(wpath).refiner is None
    ref = MaskRefiner(RefinerConfig(size=64, width=8))
    with torch.no_grad():
        ref.out.bias.fill_(-20.0)  # a refiner that erases: proves it ran on the first masks only
    save_refiner(ref, refiner_path(wpath))
    image = np.random.default_rng(1).integers(0, 256, (80, 100, 3), dtype=np.uint8)
    with_ref = Predictor.from_weights(wpath, score_threshold=0.01, top_k=4, refine_top=1).soft(image)
    without = Predictor.from_weights(wpath, score_threshold=0.01, top_k=4, refiner=False).soft(image)
    assert len(with_ref.masks) == len(without.masks) >= 2
    assert (with_ref.masks[0] >= 0.5).sum() == 0 and (without.masks[0] >= 0.5).sum() > 0
    np.testing.assert_allclose(with_ref.masks[1:], without.masks[1:])


def test_crop_box_and_network_input():
    m = np.zeros((50, 80), np.float32)
    m[10:20, 30:40] = 1
    assert crop_box(m, 0.0) == (26, 6, 44, 24)  # grown by the fixed 4 px
    assert crop_box(np.zeros((5, 5)), 0.1) is None
    rgb = np.zeros((50, 80, 3), np.uint8)
    r, mm, (nh, nw) = network_input(rgb, m, 32)
    assert (nh, nw) == (20, 32) and r.shape[:2] == mm.shape == (24, 32)


def test_degrade_and_samples_are_seeded_and_bounded():
    gt = np.zeros((64, 64), np.float32)
    gt[16:48, 20:44] = 1
    a = degrade(gt, np.random.default_rng(3))
    b = degrade(gt, np.random.default_rng(3))
    assert np.array_equal(a, b) and a.min() >= 0 and a.max() <= 1 and a.dtype == np.float32
    iou = ((a >= 0.5) & (gt > 0)).sum() / ((a >= 0.5) | (gt > 0)).sum()
    assert 0.2 < iou < 1.0  # wrong, but about the same object
    rgb = np.full((64, 64, 3), 128, np.uint8)
    r, c, g, v = make_sample(rgb, gt, 48, np.random.default_rng(0))
    assert r.shape == (48, 48, 3) and c.shape == g.shape == v.shape == (48, 48)
    assert set(np.unique(g)) <= {0.0, 1.0} and v.sum() > 0
    logits = torch.zeros(1, 1, 48, 48)
    loss = refiner_loss(logits, torch.from_numpy(g)[None, None], torch.from_numpy(v)[None, None])
    assert torch.isfinite(loss) and loss > 0
