"""The product classifier: its crop, its category table, the shipped network on real photographs,
and the segment step naming the product with it.

The photographs are the cut fixtures (aws-samples/retail-demo-store, MIT-0) with their checked masks."""
import json
from pathlib import Path

import numpy as np
import pytest
from tests.conftest import real_photo

from product_augment.classes import CLASS_ID, NUM_CLASSES
from product_augment.models.classify.runtime import GREY, crop_on_grey

ROOT = Path(__file__).resolve().parents[3]
WEIGHTS = ROOT / "weights" / "classify_effnetlite0.safetensors"
shipped = pytest.mark.skipif(not WEIGHTS.with_suffix(".onnx").exists(), reason="shipped classifier absent")


def test_crop_keeps_the_product_centred_on_grey():
    image = np.zeros((100, 200, 3), np.uint8)
    image[:] = (0, 255, 0)  # green backdrop
    image[20:60, 150:190] = (255, 0, 0)  # a red product near the right edge
    mask = np.zeros((100, 200), bool)
    mask[20:60, 150:190] = True
    crop = crop_on_grey(image, mask, 50, margin=0.25)
    # the 40 px box with 10 px on each side → 60 px square → 50 px: the product spans rows/cols ~8..41
    red = (crop[..., 0] > 200) & (crop[..., 1] < 50)
    ys, xs = np.nonzero(red)
    assert abs(ys.mean() - 24.5) < 1.5 and abs(xs.mean() - 24.5) < 1.5
    assert 30 <= ys.max() - ys.min() + 1 <= 35
    # no backdrop survives: everything that is not product is grey (edges blend on the resize only)
    assert not ((crop[..., 1] > 200) & (crop[..., 0] < 50)).any()
    assert (np.abs(crop[~red].astype(int) - GREY) <= 128).all() and (crop[0, 0] == GREY).all()
    with pytest.raises(ValueError, match="empty mask"):
        crop_on_grey(image, np.zeros_like(mask), 50)


def test_every_class_has_categories_and_none_is_shared():
    pytest.importorskip("torchvision")
    from product_augment.models.classify.imagenet import CLASS_CATEGORIES, categories, class_matrix

    m = class_matrix(categories())
    assert m.shape == (1000, NUM_CLASSES)
    assert (m.sum(1) <= 1).all()  # a category belongs to one class at most
    for cls in CLASS_CATEGORIES:
        assert m[:, CLASS_ID[cls] - 1].sum() == len(CLASS_CATEGORIES[cls])
    with pytest.raises(KeyError, match="no category"):
        class_matrix(["cup"] * 1000)


@shipped
def test_shipped_files_are_small_described_and_in_sync():
    from product_augment.io import file_sha256

    meta = json.loads(WEIGHTS.with_suffix(".json").read_text())
    for f in (WEIGHTS, WEIGHTS.with_suffix(".onnx")):
        assert f.stat().st_size <= 25 * 2**20
    assert meta["format"] == "product_augment.classify/1" and meta["config"]["input_size"] == 224
    assert meta["onnx"]["source_sha256"] == file_sha256(WEIGHTS)
    assert meta["onnx"]["sha256"] == file_sha256(WEIGHTS.with_suffix(".onnx"))


@shipped
@pytest.mark.parametrize("stem,name", [("rds_accessories_3", "handbag"), ("rds_footwear_1", "shoe")])
def test_shipped_classifier_names_real_products(stem, name):
    from product_augment.models.classify.runtime import ProductClassifier

    clf = ProductClassifier.from_weights(WEIGHTS)
    image, mask = real_photo(stem)
    p = clf.probabilities(image, mask)
    assert p.shape == (NUM_CLASSES,) and 0 <= p.sum() <= 1 + 1e-5
    assert clf.classify(image, mask)[0] == CLASS_ID[name]


@shipped
def test_onnx_matches_torch():
    torch = pytest.importorskip("torch")
    from product_augment.models.classify.export import load
    from product_augment.models.classify.runtime import ProductClassifier

    clf = ProductClassifier.from_weights(WEIGHTS)
    image, mask = real_photo("rds_accessories_3")
    x = torch.from_numpy(crop_on_grey(image, mask, 224))[None].permute(0, 3, 1, 2).float()
    with torch.no_grad():
        ref = load(WEIGHTS)(x)[0].numpy()
    assert np.abs(ref - clf.probabilities(image, mask)).max() < 1e-4


@shipped
def test_segment_step_names_the_product_with_the_classifier_or_yolact():
    """`class_from: classifier` (the default) names the handbag; `class_from: yolact` keeps YOLACT's
    class; both draw the same mask."""
    from pydantic import TypeAdapter

    from product_augment.sample import Sample
    from product_augment.steps import segment

    image, _ = real_photo("rds_accessories_3")
    outs = {}
    for src in ("classifier", "yolact"):
        cfg = TypeAdapter(segment.Config).validate_python(
            {"backend": "yolact", "weights": str(ROOT / "weights" / "yolact_ws_effnetlite0.safetensors"),
             "class_from": src}, context={"base_dir": "."})
        outs[src] = segment.build(cfg).apply(Sample(image=image), {})
    a, b = outs["classifier"].instances[0], outs["yolact"].instances[0]
    assert a.class_id == CLASS_ID["handbag"]
    assert np.array_equal(a.mask, b.mask) and a.score == b.score
    # the file `precision: auto` (the default) runs: the int8 copy where one ships, else the float one
    from product_augment.models.ort import onnx_beside
    assert outs["classifier"].meta["models"]["segment_class"] == onnx_beside(WEIGHTS, "", "auto").name
