"""The int8 copies of the segment step's models: the files, the `precision` option, the loaders'
choice and fallback, agreement with the float models, and the conversion itself."""
import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from tests.conftest import REAL_PHOTOS, real_photo

ROOT = Path(__file__).resolve().parents[2]
WEIGHTS = ROOT / "weights"
STEMS = {"yolact": "yolact_ws_effnetlite0", "cut": "cut_effnetlite0", "classify": "classify_effnetlite0"}
SHIPPED = [m for m, s in STEMS.items() if (WEIGHTS / f"{s}.int8.onnx").exists()]
needs_int8 = pytest.mark.skipif(len(SHIPPED) < 3, reason="shipped int8 models absent")


def _config(**kw):
    from product_augment.steps import segment

    cfg = {"backend": "yolact", "weights": str(WEIGHTS / f"{STEMS['yolact']}.safetensors"), **kw}
    return segment.YolactConfig.model_validate(cfg, context={"base_dir": "."})


def test_precision_option_round_trips_and_is_checked(tmp_path):
    from product_augment.presets.errors import PresetError
    from product_augment.presets.loader import load_preset

    for value in ("auto", "int8", "float32"):
        cfg = _config(precision=value)
        assert cfg.precision == value
        assert _config(**cfg.model_dump(exclude={"backend", "weights"})).precision == value
    assert _config().precision == "auto"
    with pytest.raises(Exception, match="not one of auto, int8, float32"):
        _config(precision="fp16")
    preset = tmp_path / "p.yaml"
    preset.write_text(f"version: 1\nsteps:\n  - segment: {{backend: yolact, weights: {WEIGHTS}/"
                      f"{STEMS['yolact']}.safetensors, precision: half}}\n")
    with pytest.raises(PresetError, match="precision"):
        load_preset(preset)


@needs_int8
@pytest.mark.parametrize("model", list(STEMS))
def test_shipped_int8_files_are_small_recorded_and_current(model):
    from product_augment.io import file_sha256

    stem = STEMS[model]
    int8 = WEIGHTS / f"{stem}.int8.onnx"
    meta = json.loads((WEIGHTS / f"{stem}.json").read_text())
    assert int8.stat().st_size <= 25 * 2**20
    info = meta["int8"]
    assert info["sha256"] == file_sha256(int8)
    # made from the float file that ships beside it: re-export the float ONNX → rebuild the int8 copy
    assert info["source_sha256"] == meta["onnx"]["sha256"] == file_sha256(WEIGHTS / f"{stem}.onnx")
    assert "pool" in info["calibration"]["set"] and info["calibration"]["photos"] > 0
    assert info["metrics"]["this_model_int8"]["mean_iou"] >= info["metrics"]["float32"]["mean_iou"] - 0.002


@needs_int8
def test_auto_picks_int8_and_float32_forces_float():
    step_auto, step_float = _steps()
    assert step_auto.predictor.path.name.endswith(".int8.onnx")
    assert step_auto.cut.path.name == "cut_effnetlite0.onnx"  # its int8 copy says `auto: false`
    from product_augment.steps import segment
    assert segment.build(_config(precision="int8")).cut.path.name == "cut_effnetlite0.int8.onnx"
    assert step_auto.classifier.path.name == "classify_effnetlite0.int8.onnx"
    assert step_auto.models_meta()["segment_runtime"].endswith(" int8")
    assert step_float.predictor.path.name == "yolact_ws_effnetlite0.onnx"
    assert step_float.cut.path.name == "cut_effnetlite0.onnx"
    assert step_float.classifier.path.name == "classify_effnetlite0.onnx"
    assert not step_float.models_meta()["segment_runtime"].endswith(" int8")


def _steps():
    from product_augment.steps import segment

    return segment.build(_config(precision="auto")), segment.build(_config(precision="float32"))


def test_an_int8_copy_marked_not_for_auto_runs_only_when_asked(tmp_path):
    """A copy whose sidecar says `auto: false` is current but not the default: `auto` runs the
    float file, `int8` the copy."""
    from product_augment.models.ort import onnx_beside

    for suffix in (".onnx", ".int8.onnx", ".json", ".safetensors"):
        shutil.copy(WEIGHTS / f"cut_effnetlite0{suffix}", tmp_path / f"cut{suffix}")
    meta = json.loads((tmp_path / "cut.json").read_text())
    meta["int8"]["auto"] = True
    (tmp_path / "cut.json").write_text(json.dumps(meta))
    assert onnx_beside(tmp_path / "cut.safetensors", "cut", "auto").name == "cut.int8.onnx"
    meta["int8"]["auto"] = False
    (tmp_path / "cut.json").write_text(json.dumps(meta))
    assert onnx_beside(tmp_path / "cut.safetensors", "cut", "auto").name == "cut.onnx"
    assert onnx_beside(tmp_path / "cut.safetensors", "cut", "int8").name == "cut.int8.onnx"


@needs_int8
def test_int8_masks_agree_with_float_on_real_photos():
    """The three real fixture photos: the step's product mask with int8 models against float ones.

    Bound 0.99: measured 0.997-0.998 on these photos (avx512_vnni CPU); on the 71 real val photos
    the int8 step's mean IoU against the truth is 0.002 below float's, so disagreement beyond 1 %
    of the product would be a broken conversion, not rounding."""
    from product_augment.sample import Sample

    step_auto, step_float = _steps()
    for path in sorted(REAL_PHOTOS.glob("*.jpg")):
        image, _ = real_photo(path.stem)
        a = step_auto.apply(Sample(image=image), {}).instances[0]
        b = step_float.apply(Sample(image=image), {}).instances[0]
        iou = (a.mask & b.mask).sum() / (a.mask | b.mask).sum()
        assert iou >= 0.99, (path.name, iou)
        assert a.class_id == b.class_id, path.name


def _float_copy(tmp_path: Path, stem: str) -> Path:
    for suffix in (".onnx", ".json"):
        shutil.copy(WEIGHTS / f"{stem}{suffix}", tmp_path / f"{stem}{suffix}")
    ref = json.loads((WEIGHTS / f"{stem}.json").read_text()).get("postprocess", {}).get("refine")
    if ref:  # the cut's refiner, which its sidecar names
        shutil.copy(WEIGHTS / ref["onnx"], tmp_path / ref["onnx"])
    return tmp_path / f"{stem}.safetensors"  # the name the loaders resolve from (need not exist)


def test_missing_int8_falls_back_under_auto_and_stops_under_int8(tmp_path):
    from product_augment.models.cut.runtime import CutPredictor

    weights = _float_copy(tmp_path, STEMS["cut"])
    assert CutPredictor.from_weights(weights, precision="auto").path.name == "cut_effnetlite0.onnx"
    assert CutPredictor.from_weights(weights).path.name == "cut_effnetlite0.onnx"
    with pytest.raises(FileNotFoundError, match=r"cut_effnetlite0\.int8\.onnx: .*int8 model not found.*"
                                                r"augment export int8.*precision: float32"):
        CutPredictor.from_weights(weights, precision="int8")
    with pytest.raises(ValueError, match="precision 'int4'"):
        CutPredictor.from_weights(weights, precision="int4")


@needs_int8
def test_stale_int8_is_not_used(tmp_path):
    """An int8 copy made from another float file (the float ONNX re-exported since) is skipped by
    `auto` and refused by `int8`, naming the reason."""
    from product_augment.models.classify.runtime import ProductClassifier

    weights = _float_copy(tmp_path, STEMS["classify"])
    shutil.copy(WEIGHTS / f"{STEMS['classify']}.int8.onnx", tmp_path)
    assert ProductClassifier.from_weights(weights, precision="auto").path.name.endswith(".int8.onnx")
    side = tmp_path / f"{STEMS['classify']}.json"
    meta = json.loads(side.read_text())
    meta["onnx"]["sha256"] = "0" * 64
    side.write_text(json.dumps(meta))
    assert ProductClassifier.from_weights(weights, precision="auto").path.name == "classify_effnetlite0.onnx"
    with pytest.raises(FileNotFoundError, match="another float ONNX file"):
        ProductClassifier.from_weights(weights, precision="int8")
    del meta["int8"]
    side.write_text(json.dumps(meta))
    with pytest.raises(FileNotFoundError, match="no `int8` section"):
        ProductClassifier.from_weights(weights, precision="int8")


def test_precision_int8_without_int8_files_is_a_build_error(tmp_path):
    from product_augment.steps import segment

    weights = _float_copy(tmp_path, STEMS["yolact"])
    cfg = segment.YolactConfig.model_validate(
        {"backend": "yolact", "weights": str(WEIGHTS / f"{STEMS['yolact']}.safetensors"), "precision": "int8",
         "cut_weights": str(_float_copy(tmp_path, STEMS["cut"]).with_suffix(".onnx"))}, context={"base_dir": "."})
    cfg = cfg.model_copy(update={"weights": weights})
    with pytest.raises(FileNotFoundError, match="segmenter's int8 model not found"):
        segment.build(cfg)


def _tiny_model(path: Path) -> None:
    """A cut-shaped ONNX model (uint8 1×32×32×3 → logits): Cast, normalise, conv, ReLU6, conv."""
    onnx = pytest.importorskip("onnx")
    from onnx import TensorProto, helper, numpy_helper

    rng = np.random.default_rng(0)
    w1 = numpy_helper.from_array(rng.normal(0, 0.3, (8, 3, 3, 3)).astype(np.float32), "w1")
    w2 = numpy_helper.from_array(rng.normal(0, 0.3, (1, 8, 1, 1)).astype(np.float32), "w2")
    k = [numpy_helper.from_array(np.array(v, np.float32), n) for n, v in (("c127", 127.0), ("c128", 128.0),
                                                                           ("lo", 0.0), ("hi", 6.0))]
    nodes = [helper.make_node("Cast", ["image"], ["f"], to=TensorProto.FLOAT, name="/Cast"),
             helper.make_node("Transpose", ["f"], ["t"], perm=[0, 3, 1, 2], name="/Transpose"),
             helper.make_node("Sub", ["t", "c127"], ["s"], name="/Sub"),
             helper.make_node("Div", ["s", "c128"], ["d"], name="/Div"),
             helper.make_node("Conv", ["d", "w1"], ["c1"], pads=[1, 1, 1, 1], strides=[2, 2], name="/stem/Conv"),
             helper.make_node("Clip", ["c1", "lo", "hi"], ["r"], name="/act/Clip"),
             helper.make_node("Conv", ["r", "w2"], ["logits"], name="/head/Conv")]
    graph = helper.make_graph(nodes, "tiny", [helper.make_tensor_value_info("image", TensorProto.UINT8, [1, 32, 32, 3])],
                              [helper.make_tensor_value_info("logits", TensorProto.FLOAT, [1, 1, 16, 16])],
                              [w1, w2, *k])
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), str(path))


def test_conversion_is_deterministic_and_keeps_excluded_nodes_float(tmp_path):
    onnx = pytest.importorskip("onnx")
    pytest.importorskip("onnxruntime.quantization")
    from product_augment.models.ort import cpu_session
    from product_augment.models.quantize import Recipe, _read, model_input, quantize_file

    src = tmp_path / "tiny.onnx"
    _tiny_model(src)
    fixtures = ROOT / "tests" / "fixtures" / "cut"
    photos = [(p, p.with_suffix(".png")) for p in sorted(fixtures.glob("*.jpg"))]
    recipe = Recipe(exclude=("/head/Conv",))
    quantize_file("cut", src, tmp_path / "a.onnx", photos, recipe)
    quantize_file("cut", src, tmp_path / "b.onnx", photos, recipe)
    assert (tmp_path / "a.onnx").read_bytes() == (tmp_path / "b.onnx").read_bytes()
    nodes = {n.name: n for n in onnx.load(str(tmp_path / "a.onnx")).graph.node}
    assert any(n.op_type == "QuantizeLinear" for n in nodes.values())
    assert "DequantizeLinear" in {nodes[i].op_type for i in nodes if nodes[i].output[0] in nodes["/stem/Conv"].input}
    assert nodes["/head/Conv"].input[1] == "w2"  # float weights, no DequantizeLinear in front
    x = model_input("cut", *_read(*photos[0]), 32)  # a calibrated kind of input: the photo as the cut sees it
    (f,), (q,) = (cpu_session(p)[0].run(None, {"image": x}) for p in (src, tmp_path / "a.onnx"))
    assert np.abs(f - q).max() < 0.05 * np.abs(f).max()
