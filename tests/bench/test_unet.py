"""`augment bench` end to end on the quick profile, with tiny data sets built here."""
import json
from pathlib import Path

import numpy as np
import pytest
import torch
from click.testing import CliRunner
from PIL import Image

from product_augment.bench.augment import Classical, bench_steps, copy_paste, make_augmented
from product_augment.bench.data import load_set
from product_augment.bench.profiles import ClassicalSpec
from product_augment.bench.unet import load_coco_set
from product_augment.models.unet.model import UNet, UNetConfig

PRESET = """version: 1
seed: 0
variants: 1
output: {format: jpg, quality: 90, annotations: [coco]}
steps:
  - segment: {backend: classical}
  - palette: {k: 3}
  - background:
      choice:
        - {kind: gradient, canvas: {size: 64, aspect: 1.0}, scale: {range: [0.4, 0.8]}, position: random}
        - {kind: solid, color: random, canvas: {size: 64, aspect: 1.0}, scale: {range: [0.4, 0.8]}}
  - shadow: {kind: drop, opacity: 0.4}
"""


def _scene(rng, h, w, plain: bool):
    yy, xx = np.mgrid[:h, :w]
    if plain:
        img = np.full((h, w, 3), 240, np.float32)
    else:
        img = rng.uniform(40, 220, 3)[None, None] + 30 * np.sin(xx / rng.uniform(2, 6))[..., None]
        img = np.broadcast_to(img, (h, w, 3)).astype(np.float32).copy()
    r = rng.uniform(0.2, 0.35) * min(h, w)
    cy, cx = rng.uniform(r, h - r), rng.uniform(r, w - r)
    mask = (yy - cy) ** 2 + (xx - cx) ** 2 <= r * r
    img[mask] = rng.uniform(0, 255, 3) * (0.8 + 0.2 * (yy[mask, None] - cy) / r)
    return np.clip(img + rng.normal(0, 3, img.shape), 0, 255).astype(np.uint8), mask


def _coco_folder(root: Path, n: int, seed: int, plain: bool, shape=(64, 64)) -> Path:
    from pycocotools import mask as mask_utils

    rng = np.random.default_rng(seed)
    (root / "images").mkdir(parents=True)
    images, anns = [], []
    for i in range(n):
        img, mask = _scene(rng, *shape, plain)
        name = f"images/{i:03d}.png"
        Image.fromarray(img).save(root / name)
        rle = mask_utils.encode(np.asfortranarray(mask.astype(np.uint8)))
        rle["counts"] = rle["counts"].decode()
        images.append({"id": i + 1, "file_name": name, "height": shape[0], "width": shape[1]})
        anns.append({"id": i + 1, "image_id": i + 1, "category_id": 5, "segmentation": rle, "iscrowd": 0,
                     "area": int(mask.sum()), "bbox": [float(b) for b in mask_utils.toBbox(rle)]})
    (root / "annotations.json").write_text(json.dumps(
        {"images": images, "annotations": anns, "categories": [{"id": 5, "name": "cup"}]}))
    return root


def _mask_folder(root: Path, n: int, seed: int) -> Path:
    rng = np.random.default_rng(seed)
    (root / "images").mkdir(parents=True)
    (root / "masks").mkdir()
    for i in range(n):
        h, w = [(48, 72), (72, 48), (60, 60)][i % 3]
        img, mask = _scene(rng, h, w, plain=False)
        Image.fromarray(img).save(root / "images" / f"p{i}.jpg", quality=92)
        Image.fromarray(mask.astype(np.uint8) * 255).save(root / "masks" / f"p{i}.png")
    return root


@pytest.fixture
def bench_config(tmp_path: Path) -> Path:
    d = tmp_path / "sets"
    _coco_folder(d / "base", 8, 0, plain=True)
    _mask_folder(d / "val", 3, 1)
    _coco_folder(d / "scenes", 6, 2, plain=False)
    _mask_folder(d / "photos", 6, 3)
    (tmp_path / "preset.yaml").write_text(PRESET)
    cfg = tmp_path / "bench.yaml"
    cfg.write_text("""version: 1
base: {path: sets/base}
preset: preset.yaml
expansion: 1
val: [{name: v, path: sets/val}]
tests:
  - {name: scenes, path: sets/scenes}
  - {name: photos, path: sets/photos, format: masks}
profile: quick
profiles:
  quick: {size: 32, base_images: 8, val_images: 3, test_images: 6, epochs: 2, batch: 4, widths: [8, 16], seeds: 1}
""")
    return cfg


def test_unet_shapes():
    assert UNet()(torch.zeros(2, 3, 64, 48)).shape == (2, 64, 48)
    assert UNet(UNetConfig(widths=(12, 24, 48)))(torch.zeros(1, 3, 32, 32)).shape == (1, 32, 32)


def test_bench_quick_profile_end_to_end(bench_config, tmp_path):
    out = tmp_path / "out"
    res = CliRunner().invoke(__import__("product_augment.cli.main", fromlist=["main"]).main,
                             ["bench", "--config", str(bench_config), "--profile", "quick", "--seeds", "2",
                              "--device", "auto", "--out", str(out), "--no-progress", "--jobs", "2"])
    assert res.exit_code == 0, res.output
    r = json.loads((out / "results.json").read_text())
    assert r["complete"] and r["profile"] == "quick" and r["seeds"] == 2 and r["device"] in ("cpu", "cuda")
    assert set(r["arms"]) == {"base", "base-steps", "base-long", "classical", "copy-paste", "augmented",
                              "augmented+classical"}
    assert r["data"]["tests"]["photos"]["aspect_ratios"] == [0.67, 1.0, 1.5]
    assert r["data"]["augmented"]["0"]["images"] == 8 and r["data"]["augmented"]["0"]["failed"] == 0
    E = r["profile_config"]["epochs"]
    steps = {a: v["runs"][0]["steps"] for a, v in r["arms"].items()}
    assert steps["base"] == E * 2 and steps["augmented"] == steps["base-steps"] == steps["classical"] \
        == steps["copy-paste"] == 2 * steps["base"] and steps["base-long"] == 4 * steps["base"]
    for arm in r["arms"].values():
        assert len(arm["runs"]) == 2 and [x["seed"] for x in arm["runs"]] == [0, 1]
        run = arm["runs"][0]
        assert len(run["curve"]) == arm["epochs"] and all(0 <= p["val_iou"] <= 1 for p in run["curve"])
        assert 1 <= run["converge_epoch"] <= arm["epochs"] and run["train_seconds"] > 0
        for t in ("scenes", "photos"):
            m = run["tests"][t]
            assert set(m) >= {"pixel_accuracy", "iou_image", "iou_set", "component_ap", "component_ap50", "n",
                              "n_empty_agree", "by_aspect"}
            assert 0 <= m["pixel_accuracy"] <= 1 and 0 <= m["iou_image"] <= 1 and 0 <= m["component_ap"] <= 1
        # the COCO test set has its instances scored too; the image+mask one has none
        assert 0 <= run["tests"]["scenes"]["instance_ap"] <= 1 and "instance_ap" not in run["tests"]["photos"]
        assert len(arm["runs"][0]["tests"]["photos"]["by_aspect"]) == 3
        s = arm["summary"]["tests"]["scenes"]["iou_image"]
        assert s["n"] == 2 and s["std"] >= 0
    report = (out / "report.md").read_text()
    assert "| pixel accuracy | 85 % → 92 % |" in report and "| epochs to converge | 150 → 120 |" in report
    assert "scenes: base → augmented (paired Δ)" in report and "augmented+classical" in report
    assert "by the original's aspect ratio" in report
    # paired Δ against every control, base-steps first, with the sign count and the test's p
    assert r["profile_config"]["seeds"] == 2
    dv = r["arms"]["augmented"]["summary"]["tests"]["photos"]["delta_vs"]
    assert next(iter(dv)) == "base-steps" and set(dv) == {"base-steps", "base", "classical", "copy-paste"}
    assert "augmented" in r["arms"]["augmented+classical"]["summary"]["tests"]["photos"]["delta_vs"]
    assert r["data"]["tests"]["scenes"]["instances"] and not r["data"]["tests"]["photos"]["instances"]
    assert "component mAP" in report and "instance mAP" in report and "scenes inst. mAP" in report
    assert "2 seeds cannot go below p 0.50" in report  # the floor of the sign-flip test for the seeds run
    d = dv["base-steps"]["iou_image"]
    assert d["n"] == 2 and d["positive"] + d["negative"] <= 2 and (d["p"] is None or 0 < d["p"] <= 1)
    assert "| augmented − base-steps |" in report and "Test sets (images): `scenes`" in report
    try:
        import matplotlib  # noqa: F401
        assert (out / "curves.png").stat().st_size > 1000 and r["curves"] == "curves.png"
    except ImportError:
        assert "curves.png skipped" in report
    assert report.splitlines()[0] in res.output  # the table is printed too
    assert r["jobs"] == 2
    # runs are independent of the process that made them: one arm again, here, one thread
    res1 = CliRunner().invoke(__import__("product_augment.cli.main", fromlist=["main"]).main,
                              ["bench", "--config", str(bench_config), "--arms", "base", "--seeds", "1",
                               "--jobs", "1", "--threads", "1", "--out", str(tmp_path / "one"), "--no-progress"])
    assert res1.exit_code == 0, res1.output
    r1 = json.loads((tmp_path / "one" / "results.json").read_text())
    assert r1["arms"]["base"]["runs"][0]["tests"] == r["arms"]["base"]["runs"][0]["tests"]


def test_ablation_drops_a_family_and_pipeline_uses_known_masks(bench_config, tmp_path):
    base = tmp_path / "sets" / "base"
    steps = bench_steps(tmp_path / "preset.yaml", base, "coco", ablate="shadow")
    assert [next(iter(s)) for s in steps] == ["segment", "palette", "background"]
    assert steps[0]["segment"] == {"backend": "masks", "path": str((base / "annotations.json").resolve())}
    info = make_augmented(tmp_path / "preset.yaml", base, tmp_path / "aug", seed=3, expansion=2, limit=4,
                          ablate="shadow")
    assert info["images"] == 8 and info["failed"] == 0 and "shadow" not in info["steps"]
    x, y = load_coco_set(tmp_path / "aug", 32)
    assert x.shape == (8, 32, 32, 3) and 0.03 < y.mean() < 0.6  # the known masks went through
    # an image+mask base folder: the masks backend reads its masks/ folder
    photos = tmp_path / "sets" / "photos"
    assert bench_steps(tmp_path / "preset.yaml", photos, "masks")[0]["segment"]["path"] == str(
        (photos / "masks").resolve())
    info = make_augmented(tmp_path / "preset.yaml", photos, tmp_path / "aug2", seed=0, expansion=1, limit=3)
    assert info["images"] == 3 and info["failed"] == 0
    assert load_set(tmp_path / "aug2", 32).y.mean() > 0.02


def test_copy_paste_and_classical_keep_masks_consistent(bench_config, tmp_path):
    base = load_set(tmp_path / "sets" / "base", 32)
    cp = copy_paste(base, 2, seed=0)
    assert len(cp) == 16 and cp.x.shape == (16, 32, 32, 3)
    assert (cp.y.sum((1, 2)) >= 1).all()
    # the copy-paste masks hold more foreground than the backdrop's own (a second object)
    assert cp.y.sum() > 2 * base.y.sum() * 1.05
    classical = Classical(ClassicalSpec(), 32)
    rng = np.random.default_rng(0)
    for i in range(8):
        x, y, v = classical(base.x[i], base.y[i], base.valid[i], rng)
        assert x.shape == (32, 32, 3) and x.dtype == np.uint8 and y.dtype == bool
        assert not (y & ~v).any()  # no foreground outside the valid region


def test_legacy_unet_command(bench_config, tmp_path):
    from product_augment.cli.main import main

    sets = tmp_path / "sets"
    res = CliRunner().invoke(main, ["bench", "unet", "--base", str(sets / "base"), "--augmented",
                                    str(sets / "scenes"), "--test", f"s={sets / 'scenes'}", "--size", "32",
                                    "--steps", "3", "--batch", "4", "--widths", "8,16", "--device", "cpu",
                                    "--out", str(tmp_path / "legacy")])
    assert res.exit_code == 0, res.output
    r = json.loads((tmp_path / "legacy" / "results.json").read_text())
    assert r["arms"]["base"]["runs"][0]["steps"] == 3 and r["arms"]["augmented"]["runs"][0]["train_images"] == 14
