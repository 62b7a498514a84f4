"""qa_tune.py fit: the defect-risk model fitted on a training set, with a cross-fitted fold."""
import json
from pathlib import Path

import numpy as np
from click.testing import CliRunner

from product_augment.qa.risk import FEATURES

from ._scripts import load


def _tool():
    return load("qa_tune")


def _measure(path: Path, n: int, n_bad: int, seed: int, prefix: str) -> Path:
    """A measure JSON: clean cuts, and `n_bad` defective ones whose holes and ragged edge are large."""
    rng = np.random.default_rng(seed)
    images = {}
    for i in range(n):
        bad = i < n_bad
        sig = {name: 0.0 for name in FEATURES}
        sig.update(confidence=1.0, mask_quality=0.8 + 0.1 * rng.random(), product_area=0.3, agreement=0.9,
                   uncertain_width=5 + 5 * rng.random(), ragged=0.001 * rng.random(),
                   hole_product_area=(0.05 + 0.1 * rng.random()) if bad else 0.002 * rng.random())
        images[f"{prefix}_{i:03d}"] = {"iou": 0.6 if bad else 0.97, "signals": sig}
    path.write_text(json.dumps({"preset": "test", "images": images}))
    return path


def _fit(tool, out: Path, *args: str) -> dict:
    """`qa_tune.py fit ARGS --l2 1 --out OUT`, which must succeed; the model file it wrote."""
    run = CliRunner().invoke(tool.main, ["fit", *args, "--l2", "1", "--out", str(out)])
    assert run.exit_code == 0, run.output
    return json.loads(out.read_text())


def test_fit_with_a_cross_fitted_fold(tmp_path):
    tool = _tool()
    # the halves are fixed by name, and both are used
    halves = [tool._fold(f"gate_{i:03d}") for i in range(60)]
    assert halves == [tool._fold(f"gate_{i:03d}") for i in range(60)] and 0 < sum(halves) < 60
    train = _measure(tmp_path / "pool.json", 80, 8, 0, "pool")
    cross = _measure(tmp_path / "gate.json", 60, 10, 1, "gate")
    val = _measure(tmp_path / "val.json", 40, 6, 2, "val")
    plain = _fit(tool, tmp_path / "plain.json", "--train", str(train), "--val", str(val))
    assert plain["fitted"]["photos"] == 80 and "cross" not in plain["chosen_on"]
    model = _fit(tool, tmp_path / "cross.json", "--train", str(train), "--cross", str(cross), "--val", str(val))
    # fitted on the training set and the whole fold; chosen on val and the fold's out-of-fold risks
    assert model["fitted"]["photos"] == 140 and model["fitted"]["defective"] == 18
    chosen = model["chosen_on"]
    assert chosen["cross_defective_rejected"] == "10/10" and chosen["val_defective_rejected"] == "6/6"
    assert chosen["cross_out_of_fold_auc"] == 1.0 and chosen["budget"] == "6/84 good of val and cross together"
    # holes raise the risk: the one signal that tells the defective apart carries the weight
    coef = dict(zip(model["features"], model["coef"]))
    assert coef["hole_product_area"] > 0 and coef["hole_product_area"] == max(coef.values())


def test_fit_on_cross_fitted_photos_alone_and_a_clear_usage_error(tmp_path):
    tool = _tool()
    cross = _measure(tmp_path / "gate.json", 60, 10, 1, "gate")
    val = _measure(tmp_path / "val.json", 40, 6, 2, "val")
    model = _fit(tool, tmp_path / "m.json", "--cross", str(cross), "--cross", str(val))
    assert model["fitted"]["photos"] == 100 and "val" not in model["chosen_on"]
    assert model["chosen_on"]["cross_defective_rejected"] == "16/16"
    run = CliRunner().invoke(tool.main, ["fit", "--val", str(val), "--out", str(tmp_path / "n.json")])
    assert run.exit_code != 0 and "give --train or --cross" in run.output and not (tmp_path / "n.json").exists()


def test_fit_refuses_a_photo_counted_twice_and_a_fold_in_one_half(tmp_path):
    tool = _tool()
    val = _measure(tmp_path / "val.json", 40, 6, 2, "val")
    run = CliRunner().invoke(tool.main, ["fit", "--cross", str(val), "--val", str(val), "--out", str(tmp_path / "m.json")])
    assert run.exit_code != 0 and "photo val_000 is given twice (--cross and --val)" in run.output
    one = json.loads(val.read_text())
    one["images"] = {k: v for k, v in one["images"].items() if tool._fold(k) == 0}
    (tmp_path / "one.json").write_text(json.dumps(one))
    run = CliRunner().invoke(tool.main, ["fit", "--cross", str(tmp_path / "one.json"), "--out", str(tmp_path / "m.json")])
    assert run.exit_code != 0 and "fall in one half" in run.output


def test_out_of_fold_risks_do_not_see_their_own_labels(tmp_path):
    """Labels that no signal explains: a model fitted on the photos ranks them well, but each half
    scored by the model of the other half ranks them no better than chance."""
    tool = _tool()
    rng = np.random.default_rng(5)
    images = {}
    for i in range(120):
        sig = {name: 0.01 * float(rng.random()) for name in FEATURES}  # under every other check's threshold
        sig.update(confidence=1.0, product_area=0.3, mask_quality=0.5 + 0.5 * float(rng.random()),
                   uncertain_width=20 * float(rng.random()), agreement=float(rng.random()))
        images[f"noise_{i:03d}"] = {"iou": 0.6 if rng.random() < 0.3 else 0.97, "signals": sig}
    (tmp_path / "noise.json").write_text(json.dumps({"preset": "test", "images": images}))
    model = _fit(tool, tmp_path / "m.json", "--cross", str(tmp_path / "noise.json"), "--free")
    assert model["chosen_on"]["train_auc"] > 0.75 and model["chosen_on"]["cross_out_of_fold_auc"] < 0.65
