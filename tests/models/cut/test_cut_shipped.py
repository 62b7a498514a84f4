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


def test_shipped_refiner_is_named_small_described_and_in_sync():
    """The cut's sidecar names the refiner it runs; the refiner's files are small, its sidecar
    records the ONNX file it was checked with, and that file answers as its torch weights do."""
    from product_augment.io import file_sha256

    post = json.loads(WEIGHTS.with_suffix(".json").read_text())["postprocess"]
    ref = WEIGHTS.parent / post["refine"]["onnx"]
    side = json.loads(ref.with_suffix(".json").read_text())
    assert side["format"] == "product_augment.cut_refine/1" and "optimizer_param_groups" not in side
    for f in (ref, ref.with_suffix(".safetensors")):
        assert f.stat().st_size <= 25 * 2**20
    assert side["onnx"]["sha256"] == file_sha256(ref)
    assert side["onnx"]["source_sha256"] == file_sha256(ref.with_suffix(".safetensors"))
    assert {"training_data", "metrics", "architecture"} <= set(side)
    torch = pytest.importorskip("torch")
    import onnxruntime as ort

    from product_augment.models.cut.refine import RefineConfig, _load
    cfg, net = _load(ref.with_suffix(".safetensors"))
    assert cfg == RefineConfig.from_dict(side["config"])
    net.eval()
    x = np.concatenate([np.random.default_rng(0).uniform(0, 255, (1, 3, cfg.size, cfg.size)),
                        np.random.default_rng(1).normal(0, 6, (1, 1, cfg.size, cfg.size))], 1).astype(np.float32)
    got = ort.InferenceSession(str(ref), providers=["CPUExecutionProvider"]).run(None, {"x": x})[0]
    with torch.no_grad():
        want = net(torch.from_numpy(x)).numpy()
    assert np.abs(got - want).max() < 1e-3


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
    onx.flip = False  # one pass
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


def test_zoom_looks_again_at_a_small_product_inside_its_grown_box():
    """`postprocess.zoom_margin`: the cut runs again on the product's box grown by the margin, and
    the two answers are averaged there; outside the box, and for a product that fills the photo,
    the first answer stays."""
    import cv2

    from product_augment.models.cut.runtime import CutPredictor, drop_fragments

    pred = CutPredictor.from_weights(WEIGHTS)
    pred.flip, pred.zoom_margin, pred.zoom_max_area = False, 0.2, 0.6
    pred.refiner = None  # the zoomed pass alone (the refiner redraws after it: tests/models/cut/test_refine.py)
    image, truth = real_photo("rds_electronics_2")
    h, w = truth.shape
    first = cv2.resize(pred.logits(image), (w, h), interpolation=cv2.INTER_LINEAR)
    box = pred.zoom_box(first)
    assert box is not None
    x0, y0, x1, y1 = box
    t = pred.threshold
    mask = drop_fragments(first > np.log(t / (1 - t)), pred.min_fragment)
    ys, xs = np.nonzero(mask)
    bw, bh = xs.max() + 1 - xs.min(), ys.max() + 1 - ys.min()
    assert (x0, y0) == (max(0, int(xs.min() - 0.2 * bw)), max(0, int(ys.min() - 0.2 * bh)))
    assert (x1 - x0) * (y1 - y0) < 0.6 * h * w
    crop = cv2.resize(pred.logits(np.ascontiguousarray(image[y0:y1, x0:x1]), pred.zoom_session), (x1 - x0, y1 - y0),
                      interpolation=cv2.INTER_LINEAR)
    both = pred.full_logits(image)
    assert np.allclose(both[y0:y1, x0:x1], (first[y0:y1, x0:x1] + crop) / 2, atol=1e-5)
    outside = np.ones((h, w), bool)
    outside[y0:y1, x0:x1] = False
    assert np.array_equal(both[outside], first[outside])
    pred.zoom_max_area = 0.01  # the grown box is not small enough: no second look
    assert pred.zoom_box(first) is None and np.array_equal(pred.full_logits(image), first)
    pred.zoom_margin = None  # off
    assert pred.zoom_box(first) is None


def test_zoomed_pass_runs_the_int8_copy_where_the_sidecar_asks_and_one_is_current(tmp_path):
    """`postprocess.zoom_precision: int8`: the second look runs the int8 copy (the first look stays
    float); without a current int8 copy beside, both run the float file."""
    import shutil

    from product_augment.models.cut.runtime import CutPredictor

    meta = json.loads(WEIGHTS.with_suffix(".json").read_text())
    int8 = WEIGHTS.with_name("cut_effnetlite0.int8.onnx")
    if meta["postprocess"].get("zoom_precision") != "int8" or not int8.exists():
        pytest.skip("the shipped cut does not run its zoomed pass in int8")
    pred = CutPredictor.from_weights(WEIGHTS, precision="auto")  # the segment step's default
    assert pred.path.name == "cut_effnetlite0.onnx" and pred.zoom_session is not pred.session
    assert pred.zoom_path.name == "cut_effnetlite0.int8.onnx"
    plain = CutPredictor.from_weights(WEIGHTS, precision="float32")  # float32: float files only
    assert plain.zoom_session is plain.session and plain.zoom_path == plain.path
    image, _ = real_photo("rds_electronics_2")
    crop = np.ascontiguousarray(image[40:200, 60:300])
    assert not np.allclose(pred.logits(crop, pred.zoom_session), pred.logits(crop), atol=1e-4)
    for name in ("cut_effnetlite0.onnx", "cut_effnetlite0.json", meta["postprocess"]["refine"]["onnx"]):
        shutil.copy(WEIGHTS.with_name(name), tmp_path / name)
    alone = CutPredictor.from_weights(tmp_path / "cut_effnetlite0.safetensors", precision="auto")  # no int8 copy
    assert alone.zoom_session is alone.session
    for bad, err, match in (({"zoom_precision": "INT8"}, ValueError, r"cut_effnetlite0\.json: postprocess\.zoom_precision"),
                            ({"refine": {"margin": 0.1}}, ValueError, r"cut_effnetlite0\.json: postprocess\.refine must"),
                            ({"refine": {"onnx": "nope.onnx"}}, FileNotFoundError, r"nope\.onnx: the cut's refiner is missing")):
        (tmp_path / "cut_effnetlite0.json").write_text(json.dumps({**meta, "postprocess": {**meta["postprocess"], **bad}}))
        with pytest.raises(err, match=match):
            CutPredictor.from_weights(tmp_path / "cut_effnetlite0.safetensors")
    # the refiner's training cache reads CutNet alone: no refiner file needed
    assert CutPredictor.from_weights(tmp_path / "cut_effnetlite0.safetensors", refiner=False).refiner is None
