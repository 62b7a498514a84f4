"""The shipped cut model: its files, ONNX against torch, and the cut on real photographs.

The fixtures are three photographs from aws-samples/retail-demo-store (MIT-0), with the masks of
the real-photo validation set (scripts/data/real_photos.json)."""
import json
from pathlib import Path

import numpy as np
import pytest
from tests.conftest import real_photo

ROOT = Path(__file__).resolve().parents[3]
WEIGHTS = ROOT / "weights" / "cut_effnetlite0.safetensors"
pytestmark = pytest.mark.skipif(not WEIGHTS.with_suffix(".onnx").exists(), reason="shipped cut weights absent")


def test_shipped_files_are_small_described_and_in_sync():
    from product_augment.io import file_sha256

    meta = json.loads(WEIGHTS.with_suffix(".json").read_text())
    for f in (WEIGHTS, WEIGHTS.with_suffix(".onnx")):
        assert f.stat().st_size <= 25 * 2**20
    assert meta["format"] == "product_augment.cut/1"
    assert meta["onnx"]["source_sha256"] == file_sha256(WEIGHTS)
    assert meta["onnx"]["sha256"] == file_sha256(WEIGHTS.with_suffix(".onnx"))
    assert {"postprocess", "metrics", "training_data"} <= set(meta)
    assert "optimizer_param_groups" not in meta


def test_onnx_logits_match_torch():
    torch = pytest.importorskip("torch")
    from product_augment.models.cut.export import load_cut
    from product_augment.models.cut.runtime import CutPredictor

    net, _ = load_cut(WEIGHTS)
    onx = CutPredictor.from_weights(WEIGHTS)
    image, _ = real_photo("rds_footwear_1")
    frame = onx.frame(image)

    def torch_logits(f):
        with torch.no_grad():
            return net(torch.from_numpy(np.ascontiguousarray(f)).permute(2, 0, 1)[None].float())[0, 0].numpy()
    assert not onx.flip  # the shipped post-processing: one pass
    assert np.abs(torch_logits(frame) - onx.logits(image)).max() < 1e-3
    onx.flip = True  # `postprocess.flip`: the mean with the mirrored frame's answer, mirrored back
    ref = (torch_logits(frame) + torch_logits(frame[:, ::-1])[:, ::-1]) / 2
    assert np.abs(ref - onx.logits(image)).max() < 1e-3


@pytest.mark.parametrize("stem,min_iou", [("rds_footwear_1", 0.82), ("rds_accessories_3", 0.9),
                                          ("rds_electronics_2", 0.9)])
def test_segment_step_on_real_photographs(stem, min_iou):
    """A shoe on a floor with its shadow, a handbag with its strap, a coiled cable: the shipped
    segment step (YOLACT + the cut) stays close to the checked mask (IoU measured at 0.853, 0.950,
    0.946), and the same photo gives the same cut twice."""
    from pydantic import TypeAdapter

    from product_augment.sample import Sample
    from product_augment.steps import segment

    cfg = TypeAdapter(segment.Config).validate_python(
        {"backend": "yolact", "weights": str(ROOT / "weights" / "yolact_ws_effnetlite0.safetensors")},
        context={"base_dir": "."})
    step = segment.build(cfg)
    image, truth = real_photo(stem)
    out = step.apply(Sample(image=image), {})
    m = out.instances[0].mask
    iou = (m & truth).sum() / (m | truth).sum()
    assert iou >= min_iou
    again = step.apply(Sample(image=image), {})
    assert np.array_equal(out.alpha, again.alpha)


def test_cut_alpha_is_float_and_repeatable():
    from product_augment.models.cut.runtime import CutPredictor

    pred = CutPredictor.from_weights(WEIGHTS)
    image, truth = real_photo("rds_electronics_2")
    alpha = pred.alpha(image)
    assert alpha.shape == truth.shape and alpha.dtype == np.float32 and 0 <= alpha.min() <= alpha.max() <= 1
    assert np.array_equal(alpha, pred.alpha(image))
