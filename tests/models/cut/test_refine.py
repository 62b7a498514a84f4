"""The cut's refiner (models/cut/refine.py): its box, its training pairs, its export and its place in
`CutPredictor`."""
import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from product_augment.models.cut.refine import _crop, sample
from product_augment.models.cut.runtime import net_input, refine_box

torch = pytest.importorskip("torch")

WEIGHTS = Path(__file__).resolve().parents[3] / "weights" / "cut_effnetlite0"


def test_refine_box_grows_the_mask_box_inside_the_picture():
    m = np.zeros((100, 200), bool)
    m[40:60, 20:120] = True  # 100 × 20
    assert refine_box(m, 0.1) == (10, 38, 130, 62)
    assert refine_box(m, 0.5) == (0, 30, 170, 70)  # clipped at the left edge
    assert refine_box(np.zeros((10, 10), bool), 0.1) is None
    tiny = np.zeros((50, 50), bool)
    tiny[10:12, 10:12] = True
    assert refine_box(tiny, 0.1) is None  # under 8 px: nothing to redraw


def test_net_input_and_training_pairs():
    rng = np.random.default_rng(0)
    rgb = rng.integers(0, 256, (90, 120, 3), dtype=np.uint8)
    truth = np.zeros((90, 120), np.uint8)
    truth[20:70, 30:90] = 255
    logits = np.where(truth > 0, 4.0, -4.0).astype(np.float32)
    x = net_input(rgb, logits, (30, 20, 90, 70), 32)
    assert x.shape == (1, 4, 32, 32) and x.dtype == np.float32
    assert (x[0, 3] == 4.0).all()  # the box is all product: the logits there, resampled
    item = {"rgb": rgb, "truth": truth, "logits": logits.astype(np.float16)}
    a, t = sample(np.random.default_rng(1), item, 64)
    b, u = sample(np.random.default_rng(1), item, 64)
    assert np.array_equal(a, b) and np.array_equal(t, u)  # seeded
    assert a.shape == (4, 64, 64) and t.shape == (1, 64, 64) and 0 <= t.min() and t.max() <= 1
    assert 0.2 < t.mean() < 0.95  # the box holds the product and some backdrop
    c, v = _crop(np.random.default_rng(2), a, t, 16)
    assert c.shape == (4, 16, 16) and v.shape == (1, 16, 16)


def test_residual_starts_at_zero():
    from product_augment.models.cut.refine import RefineConfig, _net
    net = _net(RefineConfig(size=32))
    x = torch.cat([torch.rand(2, 3, 32, 32) * 255, torch.randn(2, 1, 32, 32) * 5], 1)
    for mode in (net.train, net.eval):
        mode()
        with torch.no_grad():
            assert torch.equal(net(x), x[:, 3:4])  # untrained: the coarse logits unchanged


def _tiny_cache(d: Path) -> None:
    rng = np.random.default_rng(0)
    d.mkdir()
    for i, src in enumerate(("real", "composite")):
        rgb = rng.integers(0, 256, (48, 64, 3), dtype=np.uint8)
        truth = np.zeros((48, 64), np.uint8)
        truth[10:40, 15:50] = 255
        lg = np.where(truth > 0, 3.0, -3.0).astype(np.float16)
        np.savez(d / f"{i:05d}.npz", rgb=rgb, truth=truth, logits=lg, source=src)
    (d / "cache.json").write_text(json.dumps({"composites": 1, "photos": 1}))


def test_train_resume_and_export(tmp_path):
    from product_augment.models.cut.refine import main
    _tiny_cache(tmp_path / "cache")
    out = tmp_path / "run"
    args = ["train", "--cache", str(tmp_path / "cache"), "--out", str(out), "--size", "32", "--crop", "16",
            "--batch", "2", "--threads", "1", "--save-every", "1", "--keep-every", "1"]
    r = CliRunner().invoke(main, args + ["--minutes", "0.005"])
    assert r.exit_code == 0, r.output
    meta = json.loads((out / "last.json").read_text())
    assert meta["iteration"] >= 1 and meta["config"]["size"] == 32 and meta["items"] == {"real": 1, "composite": 1}
    r = CliRunner().invoke(main, args + ["--minutes", "0.01", "--resume"])
    assert r.exit_code == 0, r.output
    assert json.loads((out / "last.json").read_text())["iteration"] > meta["iteration"]
    r = CliRunner().invoke(main, ["export", str(out / "last.safetensors"), "--out", str(tmp_path / "r.onnx")])
    assert r.exit_code == 0, r.output
    assert "max |onnx − torch|" in r.output
    # a kept copy (weights alone) exports with its run's record
    r = CliRunner().invoke(main, ["export", str(out / "it00001.safetensors"), "--out", str(tmp_path / "k.onnx")])
    assert r.exit_code == 0, r.output
    # a fine-tune from kept weights: their size, a fresh schedule, the start recorded
    r = CliRunner().invoke(main, ["train", "--cache", str(tmp_path / "cache"), "--out", str(tmp_path / "ft"),
                                  "--size", "64", "--crop", "16", "--batch", "2", "--threads", "1", "--save-every", "1",
                                  "--minutes", "0.002", "--init", str(out / "it00001.safetensors")])
    assert r.exit_code == 0, r.output
    ft = json.loads((tmp_path / "ft" / "last.json").read_text())
    assert ft["config"]["size"] == 32 and ft["init"].endswith("it00001.safetensors") and ft["iteration"] >= 1
    # publish: model tensors alone, a sidecar that names the config and the ONNX file it was checked with
    extra = tmp_path / "extra.json"
    extra.write_text(json.dumps({"metrics": {"val_iou": 0.5}}))
    ship = tmp_path / "w" / "cut_refine.safetensors"
    ship.parent.mkdir()
    r = CliRunner().invoke(main, ["publish", str(out / "it00001.safetensors"), "--out", str(ship),
                                  "--extra", str(extra)])
    assert r.exit_code == 0, r.output
    from safetensors.numpy import load_file

    from product_augment.io import file_sha256
    assert all(k.startswith("model.") for k in load_file(str(ship)))
    side = json.loads(ship.with_suffix(".json").read_text())
    assert side["format"] == "product_augment.cut_refine/1" and side["config"]["size"] == 32
    assert side["metrics"] == {"val_iou": 0.5} and "optimizer_param_groups" not in side
    assert side["iteration"] == 1  # the kept copy's own, not its run's last
    for text, match in (("{", "not a readable JSON file"), ("[1]", "must hold a JSON object")):
        extra.write_text(text)
        r = CliRunner().invoke(main, ["publish", str(out / "it00001.safetensors"), "--out", str(ship),
                                      "--extra", str(extra)])
        assert r.exit_code != 0 and "extra.json" in r.output and match in r.output, r.output
    assert not list(ship.parent.glob("*.tmp"))
    assert side["onnx"]["sha256"] == file_sha256(ship.with_suffix(".onnx"))
    assert side["onnx"]["source_sha256"] == file_sha256(ship)


def test_cut_predictor_redraws_only_the_products_grown_box(tmp_path):
    """A refiner that adds +30 to every logit (head bias) makes the grown box product and leaves
    every pixel outside it as the cut had it."""
    if not WEIGHTS.with_suffix(".onnx").exists():
        pytest.skip("no shipped cut weights")
    from product_augment.models.cut.refine import RefineConfig, _net
    from product_augment.models.cut.runtime import CutPredictor, drop_fragments
    net = _net(RefineConfig(size=32)).eval()
    with torch.no_grad():
        net.head.bias.fill_(30.0)
    shutil.copy(WEIGHTS.with_suffix(".onnx"), tmp_path / "cut.onnx")
    meta = json.loads(WEIGHTS.with_suffix(".json").read_text())
    meta.setdefault("postprocess", {}).pop("zoom_margin", None)
    meta["postprocess"].pop("refine", None)  # the shipped refiner: this test brings its own
    (tmp_path / "cut.json").write_text(json.dumps(meta))
    plain = CutPredictor(tmp_path / "cut.onnx")
    assert plain.refiner is None
    meta["postprocess"]["refine"] = {"onnx": "cut_refine.onnx", "margin": 0.1}
    (tmp_path / "cut.json").write_text(json.dumps(meta))
    with pytest.raises(FileNotFoundError, match=r"cut_refine\.onnx: the cut's refiner is missing"):
        CutPredictor(tmp_path / "cut.onnx")
    torch.onnx.export(net, (torch.zeros(1, 4, 32, 32),), str(tmp_path / "cut_refine.onnx"), input_names=["x"],
                      output_names=["logits"], opset_version=17, dynamo=False)
    refined = CutPredictor(tmp_path / "cut.onnx")
    assert refined.refiner is not None and refined.refiner.size == 32 and refined.keep_joins is None
    for bad in (-0.1, "wide", True, float("nan"), float("inf")):
        meta["postprocess"]["refine"]["keep_joins"] = bad
        (tmp_path / "cut.json").write_text(json.dumps(meta))
        with pytest.raises(ValueError, match=r"cut\.json: postprocess\.refine\.keep_joins must be a finite number"):
            CutPredictor(tmp_path / "cut.onnx")
    meta["postprocess"]["refine"]["keep_joins"] = 0.02
    (tmp_path / "cut.json").write_text(json.dumps(meta))
    assert CutPredictor(tmp_path / "cut.onnx").keep_joins == 0.02
    img = np.full((160, 200, 3), 235, np.uint8)
    img[50:110, 60:140] = (30, 90, 200)  # a blue box on white paper
    base = plain.full_logits(img)
    t = np.log(plain.threshold / (1 - plain.threshold))
    box = refine_box(drop_fragments(base > t, plain.min_fragment), 0.1)
    assert box is not None
    x0, y0, x1, y1 = box
    info = {}
    got = refined.full_logits(img, info)
    assert np.array_equal(got, refined.full_logits(img))
    # the gate's `refine_change`: the box's backdrop turned product, over the product's area after
    moved = int(((base > t) != (got > t)).sum())
    assert moved > 0 and info["refine_change"] == round(moved / int((got > t).sum()), 4)
    assert (base[y0:y1, x0:x1] < t).any()  # the box holds backdrop for the cut …
    assert (got[y0:y1, x0:x1] > 10).all()  # … and the refiner's +30 makes all of it product
    outside = np.ones(base.shape, bool)
    outside[y0:y1, x0:x1] = False
    assert np.array_equal(got[outside], base[outside])


def test_band_redraws_only_where_the_cut_is_undecided(tmp_path):
    from product_augment.models.cut.refine import RefineConfig, _net
    from product_augment.models.cut.runtime import Refiner
    m = _net(RefineConfig(size=32)).eval()
    with torch.no_grad():
        m.head.bias.fill_(5.0)
    torch.onnx.export(m, (torch.zeros(1, 4, 32, 32),), str(tmp_path / "r.onnx"), input_names=["x"],
                      output_names=["logits"], opset_version=17, dynamo=False)
    img = np.full((64, 64, 3), 200, np.uint8)
    yy, xx = np.mgrid[:64, :64]
    logits = ((32 - np.hypot(yy - 32, xx - 32)) / 4).astype(np.float32)  # a disc, soft over ±4 px
    mask = logits > 0
    everywhere = Refiner(tmp_path / "r.onnx", margin=0.1)(img, logits, mask)
    banded = Refiner(tmp_path / "r.onnx", margin=0.1, band=1.0)(img, logits, mask)
    box = refine_box(mask, 0.1)
    inside = np.zeros_like(mask)
    inside[box[1]:box[3], box[0]:box[2]] = True
    sure = inside & (np.abs(logits) >= 1.0)
    assert np.array_equal(banded[sure], logits[sure]) and not np.array_equal(everywhere[sure], logits[sure])
    edge = inside & (np.abs(logits) < 1.0)
    assert np.allclose(banded[edge], everywhere[edge])
    assert (banded[edge] > logits[edge] + 4).all()  # the +5 residual, where the cut was undecided


def test_cache_stores_photo_sized_logits_single_pass_or_as_at_run_time(tmp_path):
    """`refine cache`: each real photo with its mask and CutNet's logits at the photo's size; with
    --run-time-logits, the logits the refiner gets at run time (the zoomed pass averaged in)."""
    if not WEIGHTS.with_suffix(".onnx").exists():
        pytest.skip("no shipped cut weights")
    import cv2
    from tests.conftest import real_photo

    from product_augment.models.cut.refine import main
    from product_augment.models.cut.runtime import CutPredictor
    image, truth = real_photo("rds_electronics_2")
    real = tmp_path / "real"
    (real / "images").mkdir(parents=True)
    (real / "masks").mkdir()
    cv2.imwrite(str(real / "images" / "p.png"), cv2.cvtColor(image, cv2.COLOR_RGB2BGR))
    cv2.imwrite(str(real / "masks" / "p.png"), truth.astype(np.uint8) * 255)
    cut_dir = tmp_path / "cutouts"
    cut_dir.mkdir()
    rgba = np.zeros((60, 40, 4), np.uint8)
    rgba[10:50, 10:30] = (200, 40, 40, 255)
    cv2.imwrite(str(cut_dir / "c.png"), rgba)
    weights = str(WEIGHTS.with_suffix(".safetensors"))
    runs = {}
    for flag in ([], ["--run-time-logits"]):
        out = tmp_path / f"cache{len(flag)}"
        r = CliRunner().invoke(main, ["cache", "--out", str(out), "--real", str(real), "--cut-weights", weights,
                                      "--composites", "1", "--cutouts", str(cut_dir), "--backdrops", "textures",
                                      *flag])
        assert r.exit_code == 0, r.output
        runs[bool(flag)] = dict(np.load(out / "00000.npz"))
        assert json.loads((out / "cache.json").read_text())["run_time_logits"] is bool(flag)
        assert (out / "00001.npz").exists()  # the composite
    one, rt = runs[False], runs[True]
    assert one["logits"].shape == rt["logits"].shape == one["truth"].shape
    cut = CutPredictor.from_weights(weights, precision="auto", refiner=False)
    assert np.array_equal(rt["logits"], cut.full_logits(rt["rgb"]).astype(np.float16))  # stored as float16
    assert not np.allclose(rt["logits"], one["logits"], atol=1e-2)  # the zoomed pass changed them


def _logits(shape: tuple[int, int], *boxes: tuple[slice, slice]) -> np.ndarray:
    """Logits of −5 with the boxes painted +5 (a product of boxes)."""
    out = np.full(shape, -5.0, np.float32)
    for box in boxes:
        out[box] = 5.0
    return out


def test_keep_joins_mends_only_the_bridge_the_refiner_cut():
    """A seat and a base joined by a thin stem: the refiner cuts the stem's middle and trims the
    seat's edge elsewhere. Only the stem's pixels come back; the trim stays; one part stays one."""
    from product_augment.models.cut.runtime import keep_joins
    # a seat, a stem 4 px wide, a base
    old = _logits((120, 100), np.s_[10:50, 20:80], np.s_[50:90, 48:52], np.s_[90:110, 30:70])
    new = old.copy()
    new[60:75, 48:52] = -5.0  # the refiner cut the stem
    new[10:50, 20:23] = -5.0  # and trimmed the seat's left edge
    out = keep_joins(old, new, 0.0, 0.05, 0.02)
    assert np.array_equal(out[60:75, 48:52], old[60:75, 48:52])  # the stem is whole again
    assert np.array_equal(out[10:50, 20:23], new[10:50, 20:23])  # the trim is kept
    assert np.array_equal(np.delete(out, np.s_[60:75], 0), np.delete(new, np.s_[60:75], 0))
    from product_augment.ops.matte import parts
    assert parts(out > 0, 8)[0] == 2 and parts(new > 0, 8)[0] == 3
    # one part: nothing to mend; a split the cut had not joined is left alone
    assert keep_joins(old, old, 0.0, 0.05, 0.02) is old
    apart = old.copy()
    apart[55:88, 48:52] = -5.0
    assert np.array_equal(keep_joins(apart, apart.copy(), 0.0, 0.05, 0.02), apart)
    # a part smaller than min_fraction of the largest is a speck, dropped later: not mended to
    tiny = old.copy()
    tiny[90:110, 30:70] = -5.0
    tiny[90:93, 48:52] = 5.0
    cut = tiny.copy()
    cut[60:75, 48:52] = -5.0
    assert np.array_equal(keep_joins(tiny, cut, 0.0, 0.05, 0.02), cut)


def test_keep_joins_leaves_a_wide_gap_cut_and_mends_through_a_speck():
    from product_augment.models.cut.runtime import keep_joins
    # a lipstick and its cap side by side: the refiner cut away the backdrop between them (8 px wide,
    # 400 px tall): not a thin bridge, so it stays cut
    old = _logits((600, 400), np.s_[100:500, 50:150], np.s_[100:500, 150:158], np.s_[200:500, 158:250])
    new = old.copy()
    new[100:500, 150:158] = -5.0
    assert np.array_equal(keep_joins(old, new, 0.0, 0.05, 0.02), new)
    # a stem cut in two places with a speck of it left between: mended through the speck
    stem = _logits((120, 100), np.s_[10:50, 20:80], np.s_[50:90, 48:52], np.s_[90:110, 30:70])
    cut = stem.copy()
    cut[58:68, 48:52] = -5.0
    cut[71:82, 48:52] = -5.0  # rows 68-70 stay: a speck
    out = keep_joins(stem, cut, 0.0, 0.05, 0.02)
    assert (out[50:90, 48:52] > 0).all()
    # a mend must join the parts again: shapes that do not match are refused
    with pytest.raises(ValueError, match="keep_joins: the cut's logits are"):
        keep_joins(stem, cut[:, :50], 0.0, 0.05, 0.02)


def test_merge_mends_a_stem_the_yolact_blend_cuts():
    """YOLACT's mask lacks the thin stem the cut keeps: blended, the stem falls under the threshold
    and the base would be a second part; with `joins` the cut's stem stays."""
    from product_augment.models.cut.runtime import merge_with_detections
    from product_augment.ops.matte import parts
    from product_augment.sample import Instance
    alpha = np.zeros((120, 100), np.float32)
    alpha[10:50, 20:80] = 0.95
    alpha[50:90, 48:52] = 0.5  # the stem: above 0.4 alone, under it once blended with YOLACT's 0
    alpha[90:110, 30:70] = 0.95
    yolact = np.zeros_like(alpha)
    yolact[10:50, 20:80] = 0.9
    yolact[90:110, 30:70] = 0.9
    found = [Instance.from_mask(3, yolact > 0.5, 0.9)]
    kw = {"threshold": 0.4, "blend": 0.3, "min_fraction": 0.05}
    (cut_up, _), = merge_with_detections(found, yolact[None], alpha, 22, **kw)
    (mended, _), = merge_with_detections(found, yolact[None], alpha, 22, joins=0.02, **kw)
    assert parts(cut_up.mask, 8)[0] - 1 == 2 and not cut_up.mask[70, 50]
    assert parts(mended.mask, 8)[0] - 1 == 1 and mended.mask[50:90, 48:52].all()
