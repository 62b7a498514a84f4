import json

import numpy as np
import pytest
import torch

from product_augment.models.yolact.checkpoint import save_weights, sidecar_path
from product_augment.models.yolact.model import Yolact
from product_augment.models.yolact.predict import Predictor
from product_augment.sample import Instance


@pytest.fixture
def trained_like(small_cfg):
    torch.manual_seed(0)
    model = Yolact(small_cfg).eval()
    with torch.no_grad():  # make some anchors fire so there is something to compare
        model.head.cls.bias.view(3, 22)[:, 0] = -2.0
    return model


def test_round_trip_identical(tmp_path, trained_like):
    path = save_weights(trained_like, tmp_path / "m.safetensors", {"metrics": {"x": 1}})
    assert json.loads(sidecar_path(path).read_text())["config"]["input_size"] == 96
    assert b"pickle" not in path.read_bytes()[:200]
    image = np.random.default_rng(0).integers(0, 256, (70, 110, 3), dtype=np.uint8)
    a = Predictor(trained_like, score_threshold=0.01, top_k=5).soft(image)
    b = Predictor.from_weights(path, score_threshold=0.01, top_k=5).soft(image)
    assert len(a.scores) == 5
    np.testing.assert_array_equal(a.classes, b.classes)
    np.testing.assert_allclose(a.scores, b.scores, atol=1e-6)
    np.testing.assert_allclose(a.masks, b.masks, atol=1e-5)
    np.testing.assert_allclose(a.boxes, b.boxes, atol=1e-4)


def test_weights_are_written_atomically_and_shared(tmp_path, trained_like):
    path = save_weights(trained_like, tmp_path / "m.safetensors")
    save_weights(trained_like, path)  # replacing existing files leaves no temp file behind
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.json", "m.safetensors"]
    assert path.stat().st_mode & 0o777 == 0o644 and sidecar_path(path).stat().st_mode & 0o777 == 0o644


def test_fp16_storage_upcasts(tmp_path, trained_like):
    path = save_weights(trained_like, tmp_path / "h.safetensors", half=True)
    pred = Predictor.from_weights(path, score_threshold=0.01, top_k=3)
    assert all(p.dtype == torch.float32 for p in pred.model.parameters())


def test_instances_and_soft_masks(trained_like):
    image = np.full((50, 80, 3), 90, np.uint8)
    pred = Predictor(trained_like, score_threshold=0.01, top_k=4)
    instances, soft = pred.soft_masks(image)
    assert soft.shape == (len(instances), 50, 80) and soft.dtype == np.float32
    assert soft.min() >= 0 and soft.max() <= 1
    for inst, s in zip(instances, soft):
        assert isinstance(inst, Instance) and 1 <= inst.class_id <= 21
        assert inst.mask.shape == (50, 80) and inst.mask.dtype == bool
        np.testing.assert_array_equal(inst.mask, s >= 0.5)
        x0, y0, x1, y1 = inst.box
        assert 0 <= x0 <= x1 <= 80 and 0 <= y0 <= y1 <= 50


def test_edge_refinement_changes_masks_only(trained_like):
    """The guided-filter refinement touches the masks, not which objects are found or where."""
    from product_augment.ops.matte import GuidedFilter

    image = np.random.default_rng(1).integers(0, 256, (70, 110, 3), dtype=np.uint8)
    raw = Predictor(trained_like, score_threshold=0.01, top_k=4, refine_radius=0.0, rescore_power=0).soft(image)
    ref = Predictor(trained_like, score_threshold=0.01, top_k=4, refine_radius=0.05, rescore_power=0).soft(image)
    np.testing.assert_array_equal(raw.classes, ref.classes)
    np.testing.assert_allclose(raw.scores, ref.scores)
    np.testing.assert_allclose(raw.boxes, ref.boxes)
    assert ref.masks.min() >= 0 and ref.masks.max() <= 1
    assert np.abs(raw.masks - ref.masks).max() > 1e-3
    # refinement happens before the box crop: outside the grown box both are exactly zero
    outside = raw.masks == 0
    assert outside.any() and (ref.masks[outside] == 0).all()
    assert GuidedFilter(image, radius=round(0.05 * 110)).r == 6


def test_mask_quality():
    from product_augment.models.yolact.postprocess import mask_quality

    m = np.zeros((3, 4, 4), np.float32)
    m[0, :2] = 1.0  # crisp
    m[1, :2] = 0.6  # hesitant
    m[1, 2:] = 0.4  # below 0.5: not part of the mask
    np.testing.assert_allclose(mask_quality(m), [1.0, 0.6, 0.0], rtol=1e-6)


def test_order_is_score_times_quality(trained_like):
    image = np.random.default_rng(2).integers(0, 256, (70, 110, 3), dtype=np.uint8)
    # per-class detection (what COCO AP is measured on); the agnostic pick adds the product prior
    plain = Predictor(trained_like, score_threshold=0.01, top_k=6, rescore_power=0.0, agnostic=False).soft(image)
    ranked = Predictor(trained_like, score_threshold=0.01, top_k=6, rescore_power=2.0, agnostic=False).soft(image)
    assert len(plain.scores) == 6
    assert (np.diff(plain.scores) <= 0).all()  # by class score
    rank = ranked.scores * ranked.quality ** 2
    assert (np.diff(rank) <= 1e-7).all()  # by score × quality²
    # the same detections, only reordered; scores stay the class scores
    np.testing.assert_allclose(np.sort(plain.scores), np.sort(ranked.scores))
    for k in range(6):
        j = int(np.argmin(np.abs(plain.scores - ranked.scores[k]) + np.abs(plain.boxes - ranked.boxes[k]).sum(1)))
        np.testing.assert_allclose(plain.masks[j], ranked.masks[k])


def test_agnostic_order_is_objectness_times_quality_times_prior(trained_like):
    from product_augment.models.yolact.predict import product_prior

    image = np.random.default_rng(2).integers(0, 256, (70, 110, 3), dtype=np.uint8)
    soft = Predictor(trained_like, score_threshold=0.01, top_k=6, agnostic=True).soft(image)
    assert len(soft.scores) >= 2
    rank = soft.scores * soft.quality ** 2 * product_prior(soft.masks)
    assert (np.diff(rank) <= 1e-6).all()
