"""The torch-free segmenter: the ONNX export agrees with the torch network (both post-processed by
`postprocess`, tested in test_postprocess.py), and the default `augment run` path never imports torch."""
import hashlib
import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import cv2
import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[3]
WEIGHTS = ROOT / "weights" / "yolact_ws_effnetlite0.safetensors"
ONNX = WEIGHTS.with_suffix(".onnx")
FIXTURES = ROOT / "tests" / "fixtures" / "yolact"

# A sitecustomize that makes torch unimportable, as in an install without the `train` extra (a
# meta-path finder, not sys.modules["torch"] = None: scipy looks torch up in sys.modules).
NO_TORCH = textwrap.dedent("""
    import sys

    class _NoTorch:
        def find_spec(self, name, path=None, target=None):
            if name.split(".")[0] in ("torch", "torchvision"):
                raise ModuleNotFoundError(f"No module named {name!r} (blocked by the test)", name=name)

    sys.meta_path.insert(0, _NoTorch())
""")


def _read(path: Path) -> np.ndarray:
    return cv2.cvtColor(cv2.imread(str(path)), cv2.COLOR_BGR2RGB)


def _iou(a: np.ndarray, b: np.ndarray) -> float:
    return float((a & b).sum() / max((a | b).sum(), 1))


# --------------------------------------------------------------- export of a small model, parity


@pytest.fixture
def small_export(tmp_path, small_cfg):
    torch = pytest.importorskip("torch")
    pytest.importorskip("onnx")
    pytest.importorskip("onnxruntime")
    from product_augment.models.yolact.checkpoint import save_weights
    from product_augment.models.yolact.model import Yolact
    from product_augment.models.yolact.onnx_export import export_onnx

    torch.manual_seed(0)
    model = Yolact(small_cfg).eval()
    with torch.no_grad():  # make anchors fire so there are many detections to compare
        model.head.cls.bias.view(3, 22)[:, 0] = -2.0
    path = save_weights(model, tmp_path / "m.safetensors")
    info = export_onnx(path)
    return path, info


def test_export_records_itself_in_the_sidecar(small_export):
    path, info = small_export
    meta = json.loads(path.with_suffix(".json").read_text())
    assert meta["onnx"] == info
    assert info["opset"] >= 13 and info["input"]["shape"] == [1, 96, 96, 3]
    assert info["source_sha256"] == hashlib.sha256(path.read_bytes()).hexdigest()
    assert info["sha256"] == hashlib.sha256(path.with_suffix(".onnx").read_bytes()).hexdigest()


@pytest.mark.parametrize("agnostic", [True, False])
def test_small_model_onnx_matches_torch(small_export, agnostic):
    from product_augment.models.yolact.onnx_predict import OnnxPredictor
    from product_augment.models.yolact.predict import Predictor

    path, _ = small_export
    image = np.random.default_rng(1).integers(0, 256, (70, 110, 3), dtype=np.uint8)
    kw = {"score_threshold": 0.01, "top_k": 5, "agnostic": agnostic}
    a = Predictor.from_weights(path, **kw).soft(image)
    b = OnnxPredictor.from_weights(path, **kw).soft(image)
    assert len(a.scores) == len(b.scores) == 5
    np.testing.assert_array_equal(a.classes, b.classes)
    np.testing.assert_allclose(a.scores, b.scores, atol=1e-5)
    np.testing.assert_allclose(a.boxes, b.boxes, atol=1e-3)
    np.testing.assert_allclose(a.masks, b.masks, atol=1e-4)
    np.testing.assert_allclose(a.quality, b.quality, atol=1e-5)


# ------------------------------------------------------------------------- the shipped model


needs_shipped = pytest.mark.skipif(not (WEIGHTS.exists() and ONNX.exists()), reason="shipped weights not present")


@needs_shipped
def test_shipped_onnx_is_current_and_small():
    meta = json.loads(WEIGHTS.with_suffix(".json").read_text())
    info = meta["onnx"]
    assert ONNX.stat().st_size <= 25e6
    assert info["file"] == ONNX.name and info["opset"] >= 13
    # exported from exactly the shipped safetensors: re-run scripts/export_onnx.py when they change
    assert info["source_sha256"] == hashlib.sha256(WEIGHTS.read_bytes()).hexdigest()
    assert info["sha256"] == hashlib.sha256(ONNX.read_bytes()).hexdigest()


@needs_shipped
@pytest.mark.skipif(not (FIXTURES / "fixtures.json").exists(), reason="no YOLACT fixtures")
def test_shipped_onnx_matches_torch_on_fixture_photos():
    torch = pytest.importorskip("torch")
    pytest.importorskip("onnxruntime")
    from product_augment.models.yolact.onnx_predict import OnnxPredictor
    from product_augment.models.yolact.predict import Predictor

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        ref = Predictor.from_weights(WEIGHTS, refiner=False)
        onx = OnnxPredictor.from_weights(WEIGHTS)
        for item in json.loads((FIXTURES / "fixtures.json").read_text()):
            image = _read(FIXTURES / item["image"])
            for agnostic in (True, False):
                a, b = ref.soft(image, agnostic=agnostic), onx.soft(image, agnostic=agnostic)
                assert len(a.scores) == len(b.scores) > 0, item["image"]
                assert a.classes[0] == b.classes[0], item["image"]  # the same top pick
                assert _iou(a.masks[0] >= 0.5, b.masks[0] >= 0.5) >= 0.99, item["image"]
                np.testing.assert_allclose(a.scores, b.scores, atol=1e-4)
                np.testing.assert_allclose(a.boxes, b.boxes, atol=0.05)
                assert float(np.abs(a.masks - b.masks).max()) < 1e-3
    finally:
        torch.set_num_threads(threads)


@needs_shipped
def test_load_predictor_picks_onnx_on_the_cpu():
    pytest.importorskip("onnxruntime")
    from product_augment.models.yolact.onnx_predict import OnnxPredictor
    from product_augment.models.yolact.runtime import load_predictor

    pred = load_predictor(WEIGHTS, device="cpu", refine_radius=0.0)
    assert isinstance(pred, OnnxPredictor) and pred.refine_radius == 0.0
    assert pred.meta["config"]["num_classes"] == 21
    assert isinstance(load_predictor(ONNX), OnnxPredictor)
    image = _read(ROOT / "examples" / "cup_coffee.jpg")
    found, soft = pred.soft_masks(image, score_threshold=0.3)
    assert found and soft.shape == (len(found), *image.shape[:2]) and soft.dtype == np.float32


def test_load_predictor_names_the_missing_onnx_file(tmp_path, monkeypatch):
    from product_augment.models.yolact import runtime

    weights = tmp_path / "model.safetensors"
    weights.write_bytes(b"")
    monkeypatch.setattr(runtime, "_torch_or_none", lambda: None)
    with pytest.raises(FileNotFoundError, match=r"model\.onnx.*export_onnx"):
        runtime.load_predictor(weights)


# ------------------------------------------------------------------ the default path is torch-free


def _no_torch_env(tmp_path: Path) -> dict:
    site = tmp_path / "notorch"
    site.mkdir(exist_ok=True)
    (site / "sitecustomize.py").write_text(NO_TORCH)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(site), os.environ.get("PYTHONPATH", "")]),
           "OMP_NUM_THREADS": "1"}
    return env


def test_blocker_really_blocks_torch(tmp_path):
    r = subprocess.run([sys.executable, "-c", "import torch"], env=_no_torch_env(tmp_path),
                       capture_output=True, text=True, check=False)
    assert r.returncode != 0 and "blocked by the test" in r.stderr


@needs_shipped
def test_augment_run_needs_no_torch(tmp_path):
    out = tmp_path / "out"
    code = ("import sys; from product_augment.cli.main import main; "
            "sys.argv[0] = 'augment'; main()")
    r = subprocess.run([sys.executable, "-c", code, "run", "--config", str(ROOT / "configs" / "catalog-white.yaml"),
                        "--input", str(ROOT / "examples"), "--output", str(out), "--limit", "2", "--workers", "1"],
                       cwd=tmp_path, env=_no_torch_env(tmp_path), capture_output=True, text=True, timeout=300, check=False)
    assert r.returncode == 0, r.stdout + r.stderr
    lines = [json.loads(x) for x in (out / "manifest.jsonl").read_text().splitlines()]
    assert len(lines) == 2 and all(x.get("status", "ok") == "ok" for x in lines), lines
    assert len(list((out / "images").glob("*.jpg"))) == 2


def test_onnx_runtime_writes_nothing_in_the_home_folder(tmp_path):
    """The runtime's telemetry is off: a segmenter load + inference leaves HOME untouched (ONNX
    Runtime would write ~/.cache/Microsoft/DeveloperTools/.onnxruntime/deviceid)."""
    home = tmp_path / "home"
    home.mkdir()
    code = ("import numpy as np; from product_augment.models.yolact.onnx_predict import OnnxPredictor; "
            f"p = OnnxPredictor.from_weights({str(WEIGHTS)!r}); p.soft(np.zeros((64, 64, 3), np.uint8))")
    env = {k: v for k, v in os.environ.items() if not k.startswith("ORT_")}
    subprocess.run([sys.executable, "-c", code], check=True, env={**env, "HOME": str(home)})
    assert [p.relative_to(home).as_posix() for p in home.rglob("*")] == []
