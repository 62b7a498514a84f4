"""ProductAugment inside a real A.Compose: targets in sync through a crop and a flip, albumentations'
seeds and ReplayCompose, serialization."""
import json
import pickle

import numpy as np
import pytest

A = pytest.importorskip("albumentations")

from product_augment.integrations.albumentations import ProductAugment
from product_augment.sample import mask_box

from .conftest import make_packshot

PRESET = {"version": 1, "steps": [
    {"segment": {"backend": "classical", "class_name": "cup"}},
    {"palette": {"k": 3}},
    {"background": {"kind": "gradient", "canvas": {"size": 320, "aspect": 1.0},
                    "scale": {"range": [0.5, 0.8]}, "position": "random"}},
    {"shadow": {"kind": "drop"}},
]}
RED = np.array([190, 40, 30], np.float64)


def data():
    img, mask = make_packshot()
    x0, y0, x1, y1 = mask_box(mask)
    return {"image": img, "masks": [mask.astype(np.uint8)], "bboxes": [[x0, y0, x1, y1]], "labels": [7]}


def compose(seed=0, products=True, replay=False):
    cls = A.ReplayCompose if replay else A.Compose
    t = cls([ProductAugment(PRESET, masks_are_products=products), A.RandomCrop(240, 240),
             A.HorizontalFlip(p=0.5)],
            bbox_params=A.BboxParams(format="pascal_voc", label_fields=["labels"], min_visibility=0.0))
    t.set_random_seed(seed)
    return t


@pytest.mark.parametrize("products", [True, False])
def test_targets_stay_on_the_product_through_crop_and_flip(products):
    flips = set()
    for seed in range(6):
        t = compose(seed, products)
        out = t(**data())
        img, mask = out["image"], out["masks"][0].astype(bool)
        assert img.shape == (240, 240, 3) and mask.shape == (240, 240)
        assert mask.sum() > 500
        inside = img[mask].astype(np.float64).mean(0)
        assert np.abs(inside - RED).max() < 40  # the mask covers the (red) product
        ring = np.zeros_like(mask)
        ys, xs = np.nonzero(mask)
        ring[max(ys.min() - 12, 0):ys.max() + 12, max(xs.min() - 12, 0):xs.max() + 12] = True
        ring &= ~mask
        redness = np.linalg.norm(img[ring].astype(np.float64) - RED, axis=1)
        assert np.mean(redness < 40) < 0.2  # and little red is left outside it
        # the box follows: the tight box of the moved mask, to a pixel or two
        assert out["labels"] == [7]
        assert np.allclose(out["bboxes"][0], mask_box(mask), atol=2.0)
        flips.add(bool(t.transforms[2].params))
    assert flips == {True, False}  # these seeds flip some and not others


def test_given_masks_equal_the_pipelines_instances():
    t = A.Compose([ProductAugment(PRESET, masks_are_products=True)], seed=3)
    d = data()
    out = t(image=d["image"], masks=d["masks"])
    r = t.transforms[0].params["computed"].result
    assert np.array_equal(out["masks"][0].astype(bool), r.masks[0])
    assert np.array_equal(out["image"], r.image)


def test_seeded_compose_repeats_and_seeds_differ():
    a, b, c = (compose(s)(**data()) for s in (5, 5, 6))
    assert np.array_equal(a["image"], b["image"]) and np.array_equal(a["masks"][0], b["masks"][0])
    assert not np.array_equal(a["image"], c["image"])
    # one Compose draws a new variant per call
    t = compose(5)
    first, second = t(**data()), t(**data())
    assert not np.array_equal(first["image"], second["image"])


def test_replay_compose_replays():
    t = compose(1, replay=True)
    out = t(**data())
    again = A.ReplayCompose.replay(out["replay"], **data())
    assert np.array_equal(again["image"], out["image"])
    assert np.array_equal(again["masks"][0], out["masks"][0])
    assert np.allclose(again["bboxes"], out["bboxes"])
    saved = out["replay"]["transforms"][0]["params"]
    assert set(saved["applied"]) == {"segment", "palette", "background", "shadow"}
    json.dumps(saved["applied"])  # the preset's own parameters, plain JSON


def test_serialization_round_trip():
    t = compose(2)
    d = A.to_dict(t)
    text = json.dumps(d)  # JSON as it is
    assert "product_augment.integrations.albumentations.ProductAugment" in text
    back = A.from_dict(json.loads(text))
    back.set_random_seed(2)
    t.set_random_seed(2)
    assert np.array_equal(back(**data())["image"], t(**data())["image"])
    # and pickling (DataLoader workers): the copy builds its own pipeline
    p = pickle.loads(pickle.dumps(t.transforms[0]))
    assert p._augmenter is None and p.augmenter is not None


def test_bad_preset_fails_at_construction():
    from product_augment import PresetError

    with pytest.raises(PresetError, match="shadow.kind"):
        ProductAugment({"version": 1, "steps": [{"shadow": {"kind": "mirorr"}}]})
    with pytest.raises(ValueError, match="masks_are_products"):
        A.Compose([ProductAugment(PRESET, masks_are_products=True)])(image=data()["image"])
