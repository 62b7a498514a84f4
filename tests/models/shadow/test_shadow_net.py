"""ShadowNet: shapes, conditioning, a training run + resume, checkpoint and ONNX round trips, the frame."""
from __future__ import annotations

import json

import numpy as np
import pytest

from product_augment.models.shadow import frame

torch = pytest.importorskip("torch")

from product_augment.models.shadow.model import ShadowNet, ShadowNetConfig

TINY = ShadowNetConfig(res=32, widths=(4, 8, 8, 16), dim=16, depth=1, heads=2, mlp=32)


def test_shapes_range_and_light_conditioning():
    torch.manual_seed(0)
    m = ShadowNet(TINY).eval()
    x = torch.randn(2, 4, 32, 32)
    li = torch.randn(2, 5)
    y = m(x, li)
    assert y.shape == (2, 2, 32, 32) and float(y.min()) >= 0 and float(y.max()) <= 1
    with torch.no_grad():
        for p in m.films.parameters():
            p.normal_(0, 0.5)
    assert not torch.allclose(m(x, li), m(x, li + 1.0))   # the light changes the output


def test_default_size_fits_the_budget():
    n = sum(p.numel() for p in ShadowNet().parameters())
    assert n * 4 < 15e6


def _pairs(root, n_views=3, res=32):
    rng = np.random.default_rng(0)
    alpha = np.zeros((n_views, res, res), np.uint8)
    alpha[:, 8:20, 12:20] = 255
    rgba = np.concatenate([rng.integers(0, 255, (n_views, res, res, 3), dtype=np.uint8), alpha[..., None]], -1)
    cast = np.zeros((2 * n_views, res, res), np.uint8)
    cast[:, 10:20, 18:30] = 200
    for split in ("train", "val"):
        np.savez(root / f"{split}.npz", rgba=rgba, ao=(alpha // 3), cast=cast,
                 view=np.repeat(np.arange(n_views), 2), light=rng.uniform(0, 1, (2 * n_views, 4)).astype(np.float32),
                 source=np.array([f"s{i}" for i in range(n_views)]))
    recs = [{"split": split, "class": "chair" if k % 2 else "cup"} for split in ("train", "val")
            for k in range(2 * n_views)]
    (root / "pairs.jsonl").write_text("".join(json.dumps(r) + "\n" for r in recs))


def test_training_runs_resumes_and_exports(tmp_path, monkeypatch):
    from product_augment.models.shadow import train as T
    from product_augment.models.shadow.checkpoint import load_model

    monkeypatch.setattr(T, "RES", 32)
    monkeypatch.setattr(T, "ShadowNetConfig", lambda **kw: ShadowNetConfig(
        **{**TINY.to_dict(), "widths": TINY.widths, **kw}))
    _pairs(tmp_path)
    cfg = T.ShadowTrainConfig(data=str(tmp_path), batch_size=2, iterations=4, eval_every_iters=2, warmup_iters=1,
                              out_dir=str(tmp_path / "run"), device="cpu", depth=1, dim=16)
    last = T.train(cfg, log=lambda m: None)
    meta = json.loads(last.with_suffix(".json").read_text())
    assert meta["train"]["step"] == 4 and len(meta["train"]["history"]) == 2
    T.train(cfg.model_copy(update={"iterations": 6}), resume=True, log=lambda m: None)
    meta = json.loads(last.with_suffix(".json").read_text())
    assert meta["train"]["step"] == 6 and len(meta["train"]["history"]) == 3
    model, _, _ = load_model(tmp_path / "run" / "best.safetensors")
    assert model.cfg.res == 32

    pytest.importorskip("onnx")
    pytest.importorskip("onnxruntime")
    from product_augment.models.shadow.export import export
    from product_augment.models.shadow.onnx_predict import ShadowPredictor

    _, side, onnx_path = export(last, tmp_path / "w" / "shadow_net")
    info = json.loads(side.read_text())
    assert info["onnx"]["max_abs_diff_vs_torch"] < 1e-4 and "train" in info
    p = ShadowPredictor(onnx_path)
    x = np.random.default_rng(1).uniform(-1, 1, (4, 32, 32)).astype(np.float32)
    cast, ao = p(x, 30.0, 50.0, 0.1, 0.3)
    with torch.no_grad():
        ref = model(torch.from_numpy(x[None]), torch.from_numpy(frame.light_vector(30.0, 50.0, 0.1, 0.3)[None]))
    assert np.abs(cast - ref[0, 0].numpy()).max() < 1e-4 and ao.shape == (32, 32)

    from product_augment.models.shadow.evaluate import evaluate

    m = evaluate(onnx_path, tmp_path, "val")
    assert m["pairs"] == 6 and set(m["per_class"]) == {"chair", "cup"}
    for name in ("realistic", "drop"):
        assert 0 <= m[name]["rmse"] <= 1 and 0 <= m[name]["ber"] <= 100
    assert set(m["gain_percent"]) == {"rmse", "rmse_shadow", "ber"}


def test_frame_crop_and_uncrop_line_up():
    h, w = 300, 400
    alpha = np.zeros((h, w), np.float32)
    alpha[100:200, 150:220] = 1.0
    canvas = frame.canvas_for((150, 100, 220, 200), 200)
    assert canvas.side == pytest.approx(frame.SCALE * 100)
    c = frame.crop(alpha, canvas, 64)
    rows = np.flatnonzero(c.max(1) > 0.5)
    assert abs(rows[-1] + 1 - frame.BASE * 64) <= 1.5            # the base sits at BASE of the canvas
    back, y0, x0 = frame.uncrop(c, canvas, (h, w), fade=0.0)
    full = np.zeros((h, w), np.float32)
    full[y0:y0 + back.shape[0], x0:x0 + back.shape[1]] = back
    inter = ((full > 0.5) & (alpha > 0.5)).sum() / ((full > 0.5) | (alpha > 0.5)).sum()
    assert inter > 0.85


def test_network_input_and_combine():
    rgb = np.full((8, 8, 3), 255, np.uint8)
    a = np.zeros((8, 8), np.float32)
    a[2:6, 2:6] = 1
    x = frame.network_input(rgb, a)
    assert x.shape == (4, 8, 8) and x[0, 3, 3] == 1 and x[0, 0, 0] == 0 and x[3, 3, 3] == 1
    assert frame.combine(np.ones(1), np.zeros(1), 0.5, 0.9)[0] == pytest.approx(0.5)
    assert frame.combine(np.zeros(1), np.ones(1), 0.5, 0.9)[0] == pytest.approx(0.9)
