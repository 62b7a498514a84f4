"""The cause arms, the albumentations classical recipe, resuming a bench and an optional test set
that is missing (issue 26), on the quick profile with the tiny sets of test_unet."""
import json
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from product_augment.bench import causes
from product_augment.bench.augment import Classical, _fill_nearest, bench_steps, make_augmented
from product_augment.bench.data import load_set
from product_augment.bench.profiles import ClassicalSpec
from product_augment.cli.main import main

from .test_unet import bench_config  # noqa: F401  (the fixture)

STEPS = [{"segment": {"backend": "masks", "path": "x"}}, {"palette": {"k": 3}},
         {"background": {"choice": [{"kind": "gradient", "canvas": {"size": 64}, "scale": {"range": [0.4, 0.8]}},
                                    {"kind": "texture", "path": "t", "canvas": {"size": 64}}], "weights": [1, 3]}},
         {"shadow": {"kind": {"choice": ["mirror", "drop", "none"]}, "opacity": 0.4, "azimuth": 30}},
         {"logo": {"kind": "logo", "path": "l"}}]


def test_cause_arms_change_only_their_part_of_the_recipe():
    assert causes.available(STEPS) == ["geometry", "appearance", "bg-gradient", "bg-texture", "shadow-mirror",
                                       "shadow-drop", "shadow-none", "no-logo"]
    by = lambda steps: {next(iter(s)): next(iter(s.values())) for s in steps}
    app = by(causes.variant_steps(STEPS, "appearance"))
    assert all(c["canvas"] is None and c["scale"] is None for c in app["background"]["choice"])
    assert app["shadow"] == STEPS[3]["shadow"] and "logo" in app
    assert by(causes.variant_steps(STEPS, "bg-texture"))["background"] == STEPS[2]["background"]["choice"][1]
    # a kind gets the shared fields it knows (mirror has no azimuth)
    assert by(causes.variant_steps(STEPS, "shadow-mirror"))["shadow"] == {"kind": "mirror", "opacity": 0.4}
    assert by(causes.variant_steps(STEPS, "shadow-drop"))["shadow"]["azimuth"] == 30
    assert "logo" not in by(causes.variant_steps(STEPS, "no-logo"))
    assert causes.variant_steps(STEPS, "geometry") == STEPS
    assert STEPS[2]["background"]["choice"][0]["canvas"] == {"size": 64}  # the input is not changed
    with pytest.raises(ValueError, match="no kind 'studio'"):
        causes.variant_steps(STEPS, "bg-studio")


def test_geometry_reframes_the_base_photo_like_the_augmented_image(bench_config, tmp_path):  # noqa: F811
    base = tmp_path / "sets" / "base"
    make_augmented(tmp_path / "preset.yaml", base, tmp_path / "aug", seed=1, expansion=2, limit=4)
    aug = load_set(tmp_path / "aug", 32)
    geo = causes.reframe_set(base, "coco", tmp_path / "aug", 32)
    assert len(geo) == len(aug) == 8 and geo.names[0].startswith("geometry/")
    # the same placement: the product masks coincide; the backdrop is the base's own (plain light grey)
    inter, union = (geo.y & aug.y).sum((1, 2)), (geo.y | aug.y).sum((1, 2))
    assert (inter / union > 0.8).all()
    assert np.abs(geo.x[~geo.y].astype(int) - 240).mean() < 12 < np.abs(aug.x[~aug.y].astype(int) - 240).mean()
    # appearance: the new backdrop at the photo's own framing (the masks are the base's)
    make_augmented(tmp_path / "preset.yaml", base, tmp_path / "app", seed=1, expansion=1, limit=4,
                   variant="appearance")
    app, b = load_set(tmp_path / "app", 32), load_set(base, 32, limit=4)
    assert (app.y == b.y).mean() > 0.98 and np.abs(app.x[~app.y].astype(int) - 240).mean() > 12
    steps = bench_steps(tmp_path / "preset.yaml", base, "coco", variant="bg-solid")
    assert steps[2]["background"]["kind"] == "solid"


def test_classical_recipe_is_seeded_and_keeps_masks_right():
    rng = np.random.default_rng(0)
    x = rng.integers(0, 255, (32, 32, 3), dtype=np.uint8)
    y = np.zeros((32, 32), bool)
    y[8:20, 6:18] = True
    v = np.ones((32, 32), bool)
    v[:, 28:] = False  # the resize policy's fill
    spec = ClassicalSpec.model_validate({"hflip": 0, "affine": {"p": 1, "scale": [0.6, 0.7], "rotate": 0,
                                                                 "translate": 0}, "random_resized_crop": {"p": 0},
                                         "color_jitter": {"p": 0}})
    c = Classical(spec, 32)
    a, b = c(x, y, v, np.random.default_rng(5)), c(x, y, v, np.random.default_rng(5))
    assert all((p == q).all() for p, q in zip(a, b))  # the same generator state: the same sample
    xo, yo, vo = a
    # zoomed out: the border came from outside the frame, so it is invalid, and it repeats the nearest
    # pixel that came from inside (not black)
    assert not vo[0].any() and not vo[:, 0].any() and vo[16, 12] and not (yo & ~vo).any()
    assert 0.6**2 * 0.8 < vo.mean() < 0.7**2 * 0.9 + 0.02 and 0.6**2 < yo.sum() / y.sum() < 0.7**2 + 0.05
    assert (xo[0, 0] == xo[1, 1]).all() or xo[:2, :2].std() < xo.std()
    full = Classical(ClassicalSpec(), 32)
    outs = [full(x, y, v, np.random.default_rng(s)) for s in range(6)]
    assert len({o[0].tobytes() for o in outs}) == 6 and all(not (o[1] & ~o[2]).any() for o in outs)


def test_fill_nearest_copies_the_nearest_known_pixel():
    img = np.zeros((4, 6, 3), np.uint8)
    img[:, :3] = np.arange(4)[:, None, None] * 50 + 10
    known = np.zeros((4, 6), bool)
    known[:, :3] = True
    out = _fill_nearest(img, known)
    assert (out[:, 3:] == out[:, 2:3]).all() and (out[:, :3] == img[:, :3]).all()


def test_bench_resumes_refuses_other_settings_and_skips_a_missing_optional_set(bench_config, tmp_path):  # noqa: F811
    cfg = bench_config.read_text().replace(
        "  - {name: photos, path: sets/photos, format: masks}",
        "  - {name: photos, path: sets/photos, format: masks}\n"
        "  - {name: real, path: sets/nowhere, format: masks, stems: test.txt, optional: true}")
    bench_config.write_text(cfg)
    out = tmp_path / "out"
    args = ["bench", "--config", str(bench_config), "--out", str(out), "--no-progress", "--jobs", "1",
            "--threads", "1", "--arms", "base-steps,augmented,geometry,appearance"]
    res = CliRunner().invoke(main, args)
    assert res.exit_code == 0, res.output
    assert "test set 'real' skipped" in res.output and "sets/nowhere is missing" in res.output
    r = json.loads((out / "results.json").read_text())
    assert set(r["data"]["tests"]) == {"scenes", "photos"} and "real" in r["data"]["skipped"]
    assert r["arms"]["geometry"]["runs"][0]["train_images"] == r["arms"]["augmented"]["runs"][0]["train_images"]
    assert set(r["causes"]) == {"augmented", "geometry", "appearance"}
    c = r["causes"]["geometry"]["photos"]
    assert set(c) == {"base-steps", "augmented"} and c["augmented"]["iou_image"]["n"] == 1
    report = (out / "report.md").read_text()
    assert "**What helps**" in report and "| geometry |" in report and "Skipped set `real`" in report
    # a rerun skips what is done; a second seed runs only the new runs
    again = CliRunner().invoke(main, args + ["--seeds", "2"])
    assert again.exit_code == 0, again.output
    assert "4 of the requested runs are done, 4 to run" in again.output
    r2 = json.loads((out / "results.json").read_text())
    assert r2["arms"]["geometry"]["runs"][0] == r["arms"]["geometry"]["runs"][0]
    assert [x["seed"] for x in r2["arms"]["appearance"]["runs"]] == [0, 1] and r2["seeds"] == 2
    assert len(r2["sessions"]) == 1 and r2["complete"]
    # other settings: refused, naming the difference
    other = CliRunner().invoke(main, args + ["--pad", "constant"])
    assert other.exit_code != 0 and "differs in: pad" in other.output
    # an arm the preset cannot make is refused before any work
    bad = CliRunner().invoke(main, args[:-1] + ["no-logo"])
    assert bad.exit_code != 0 and "unknown arm 'no-logo'" in bad.output


def test_shipped_config_names_cause_arms_its_preset_can_make(tmp_path):
    from product_augment.bench.profiles import load_bench_config

    cfg = load_bench_config(Path(__file__).parents[2] / "configs" / "bench" / "default.yaml")
    steps = bench_steps(cfg.resolve(cfg.preset), tmp_path, "coco")
    assert set(cfg.cause_arms) <= set(causes.available(steps)) and len(cfg.cause_arms) == 11
    real = [t for t in cfg.tests if t.name == "real"]
    assert real and real[0].optional and real[0].stems == "test.txt"
    assert "base-long" not in cfg.profiles["medium"].arms and cfg.profiles["medium"].base_images == 1500


def test_plain_image_arm_turns_the_scene_realism_off():
    steps = [*STEPS[:2], {"background": {"choice": [
        {"kind": "gradient"}, {"kind": "image", "path": "b", "harmonize": 0.5, "canvas": {"size": 64}}]}}, *STEPS[3:]]
    assert causes.available(steps)[2:5] == ["bg-gradient", "bg-image", "bg-image-plain"]
    assert "bg-image-plain" not in causes.available(STEPS)  # no image choice, no plain arm
    by = lambda s: {next(iter(x)): next(iter(x.values())) for x in s}
    image = by(causes.variant_steps(steps, "bg-image"))["background"]
    plain = by(causes.variant_steps(steps, "bg-image-plain"))["background"]
    assert image == {"kind": "image", "path": "b", "harmonize": 0.5, "canvas": {"size": 64}}
    assert plain == {**image, "sizing": "scale", "harmonize": 0.0}
    # the changed step is a valid image background config
    from product_augment.steps.background import ImageConfig
    cfg = ImageConfig.model_validate({**plain, "path": str(Path(__file__).parents[2] / "backgrounds")})
    assert cfg.sizing == "scale" and cfg.harmonize == 0.0
    with pytest.raises(ValueError, match="no kind 'image'"):
        causes.variant_steps(STEPS, "bg-image-plain")


def test_realism_is_the_paired_difference_of_the_image_arm_and_its_plain_twin():
    from product_augment.bench.summary import summarise

    def arm(ious):
        return {"runs": [{"seed": s, "train_seconds": 1.0, "converge_epoch": 1, "best_val_iou": 0.5,
                          "train_images": 4, "steps": 2, "curve": [{"val_iou": 0.5}],
                          "tests": {"real": {"iou_image": v}}} for s, v in enumerate(ious)]}

    results = {"data": {"tests": {"real": {}}},
               "arms": {"base-steps": arm([0.70, 0.70, 0.70]), "augmented": arm([0.72, 0.71, 0.73]),
                        "bg-image": arm([0.69, 0.74, 0.70]), "bg-image-plain": arm([0.70, 0.70, 0.70])}}
    summarise(results)
    realism = results["causes"]["bg-image"]["real"]["bg-image-plain"]["iou_image"]
    assert realism["mean"] == pytest.approx((-0.01 + 0.04 + 0.0) / 3)
    assert (realism["n"], realism["positive"], realism["negative"]) == (3, 1, 1)
    assert "bg-image-plain" not in results["causes"]["bg-image-plain"]["real"]  # not paired with itself
    line = causes.table(results)[-2]
    assert line.startswith("`bg-image` − `bg-image-plain`") and "real +0.010 ± 0.026 (1/3)" in line
