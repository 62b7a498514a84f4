"""The defect risk: the logistic model's arithmetic, its file, the fit, and the gate's `risk` check."""
from __future__ import annotations

import json

import numpy as np
import pytest

from product_augment.qa import QAConfig, judge
from product_augment.qa.risk import (
    DIGITS,
    FEATURES,
    RiskModel,
    feature_row,
    fit_logistic,
    load,
    operating_point,
)
from product_augment.resources import asset_dir

from .test_qa import disc, sig


def _model(**meta):
    # risk rises with lost_area (sqrt), falls with confidence
    return RiskModel(("lost_area", "confidence"), (0.1, 0.8), (0.1, 0.1), (2.0, -1.0), -1.0, meta)


def test_risk_is_the_logistic_of_the_standardised_features():
    m = _model()
    s = {"product_area": 0.2, "lost_area": 0.04, "confidence": 0.9}
    z = -1.0 + 2.0 * (0.2 - 0.1) / 0.1 - 1.0 * (0.9 - 0.8) / 0.1
    assert m.risk(s) == pytest.approx(1 / (1 + np.exp(-z)), abs=1e-12)
    assert m.risk({**s, "lost_area": 0.16}) > m.risk(s) > m.risk({**s, "lost_area": 0.0})
    assert m.risk({**s, "confidence": 0.3}) > m.risk(s)
    # a missing signal counts as its training mean; no product: no risk
    assert m.risk({"product_area": 0.2, "confidence": 0.9}) == pytest.approx(
        1 / (1 + np.exp(-(-1.0 + 2.0 * 0 - 1.0))), abs=1e-12)
    assert m.risk({"product_area": 0.0}) is None and m.risk({}) is None


def test_model_file_round_trip_and_clear_errors(tmp_path):
    m = _model(fitted={"photos": 3})
    p = tmp_path / "risk.json"
    p.write_text(json.dumps(m.to_json()))
    back = load(p)
    assert back == RiskModel.from_json(m.to_json()) and back.meta == {"fitted": {"photos": 3}}
    raw = m.to_json()
    with pytest.raises(ValueError, match="format"):
        RiskModel.from_json({**raw, "format": "other/1"})
    with pytest.raises(ValueError, match="'lost_area' with transform 'log1p'"):
        RiskModel.from_json({**raw, "features": {"lost_area": "log1p", "confidence": "identity"}})
    with pytest.raises(ValueError, match="same length"):
        RiskModel(("lost_area",), (0.0,), (1.0,), (1.0, 2.0), 0.0, {})
    bad = tmp_path / "broken.json"
    bad.write_text("{")
    with pytest.raises(ValueError, match="broken.json"):
        load(bad)


def test_fit_recovers_the_direction_and_separates():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(400, 3))
    y = (x[:, 0] - 0.5 * x[:, 2] + 0.3 * rng.normal(size=400) > 1.0).astype(float)
    coef, b = fit_logistic(x, y, l2=1.0)
    assert coef[0] > 1.0 and coef[2] < -0.3 and abs(coef[1]) < 0.5 * coef[0]
    p = 1 / (1 + np.exp(-(x @ coef + b)))
    assert ((p > 0.5) == (y > 0)).mean() > 0.9
    # more L2: smaller coefficients
    assert np.abs(fit_logistic(x, y, l2=100.0)[0]).sum() < np.abs(coef).sum()


def test_signed_fit_keeps_each_coefficient_on_its_side_and_is_optimal_there():
    """Feature 2 truly lowers the risk; constrained to raise it only (+1) its coefficient is 0,
    the free ones stay where the data put them, and the answer equals the unconstrained fit on
    the other features alone (the optimum with that coefficient held at 0)."""
    rng = np.random.default_rng(1)
    x = rng.normal(size=(500, 3))
    y = (x[:, 0] - 0.8 * x[:, 2] + 0.3 * rng.normal(size=500) > 0.8).astype(float)
    free, _ = fit_logistic(x, y, l2=1.0)
    assert free[2] < -0.5
    coef, b = fit_logistic(x, y, l2=1.0, signs=np.array([1.0, 0.0, 1.0]))
    assert coef[0] > 1.0 and coef[2] == 0.0
    alone, b_alone = fit_logistic(x[:, :2], y, l2=1.0)
    assert coef[:2] == pytest.approx(alone, abs=1e-4) and b == pytest.approx(b_alone, abs=1e-4)
    with pytest.raises(ValueError, match="one per feature"):
        fit_logistic(x, y, signs=np.array([1.0, 0.0]))
    # signs the free fit already keeps change nothing
    same, _ = fit_logistic(x, y, l2=1.0, signs=np.array([1.0, 0.0, -1.0]))
    assert same == pytest.approx(free, abs=1e-6)


def test_feature_transforms():
    row = feature_row({"lost_area": 0.25, "fragments": 3, "confidence": 0.5}, ("lost_area", "fragments", "confidence"))
    assert row == pytest.approx([0.5, np.log1p(3), 0.5])
    assert np.isnan(feature_row({}, ("ragged",))[0])
    assert feature_row({}, ("ragged",), fill=(0.7,))[0] == 0.7


def test_the_gate_rejects_on_risk_only_when_asked(tmp_path):
    s = {"product_area": 0.2, "defect_risk": 0.9}
    assert "risk" not in {f["check"] for f in judge(s, QAConfig(max_defect_risk=None))["failed"]}
    out = judge(s, QAConfig(max_defect_risk=0.5))
    assert out["verdict"] == "reject" and out["failed"][0]["check"] == "risk"
    assert "defect_risk 0.9000 > 0.5000" in out["failed"][0]["reason"]
    assert judge({**s, "defect_risk": 0.4}, QAConfig(max_defect_risk=0.5))["verdict"] == "keep"


def test_inspector_records_the_risk_with_the_preset_model(tmp_path):
    from product_augment.qa import Inspector
    from product_augment.sample import Sample

    p = tmp_path / "risk.json"
    p.write_text(json.dumps(_model().to_json()))
    img, mask = disc()
    sample = Sample(image=img, alpha=mask.astype(np.float32), meta={})
    on = Inspector(QAConfig(max_defect_risk=0.99, risk_model=str(p)))
    on.observe("segment", sample)
    expected = _model().risk(sig(img, mask))
    assert on.signals["defect_risk"] == pytest.approx(expected, abs=1e-4)
    off = Inspector(QAConfig(max_defect_risk=None, risk_model=str(p)))
    off.observe("segment", sample)
    assert "defect_risk" not in off.signals


def test_shipped_model_loads_and_uses_known_features():
    path = asset_dir("weights") / "qa_risk.json"
    if not path.exists():
        pytest.skip("no shipped risk model")
    m = load(path)
    assert set(m.features) <= set(FEATURES) and m.meta["fitted"]["photos"] > 100
    img, mask = disc()
    r = m.risk(sig(img, mask, score=0.9))
    assert r is not None and 0 <= r < QAConfig().max_defect_risk  # a clean packshot passes


def test_reasons_name_only_signals_on_their_bad_side():
    m = _model()
    base = {"product_area": 0.2, "lost_area": 0.01, "confidence": 0.8}  # lost_area enters as its sqrt
    assert m.reasons(base) == []                                         # at the means: nothing stands out
    assert m.reasons({**base, "lost_area": 0.3}) == ["lost_area"]
    assert m.reasons({**base, "lost_area": 0.3, "confidence": 0.5}) == ["lost_area", "confidence"]
    assert m.reasons({**base, "confidence": 0.99}) == []                 # a high score is never a reason
    neg = RiskModel(("lost_area",), (0.1,), (0.1,), (-1.0,), 0.0, {})  # a fitted sign against the meaning
    assert neg.reasons({"product_area": 0.2, "lost_area": 0.0}) == []


def test_shipped_model_scores_a_bad_cut_above_a_clean_one():
    if not (asset_dir("weights") / "qa_risk.json").exists():
        pytest.skip("no shipped risk model")
    m = load(None)
    from product_augment.qa.risk import BAD_SIDE
    # fitted with each signal on its bad side (qa_tune.py fit --signed): a lower score never lowers the risk
    assert all(c * BAD_SIDE[f] >= 0 for f, c in zip(m.features, m.coef))
    img, mask = disc(r=60)
    clean = sig(img, mask, score=0.95, certainty={"mask_quality": 0.9, "uncertain_width": 8.0, "agreement": 0.95})
    bad = mask.copy()
    bad[60:180, 200:260] = True  # backdrop taken, a ragged outline, and the models disagree
    bad[100:140, 100:180] = False
    worse = sig(img, bad, score=0.6, certainty={"mask_quality": 0.5, "uncertain_width": 30.0, "agreement": 0.6})
    worst = sig(img, bad, score=0.3, certainty={"mask_quality": 0.3, "uncertain_width": 40.0, "agreement": 0.3})
    assert m.risk(worst) > m.risk(worse) > m.risk(clean)
    # the default threshold (0.8593 since session 13, chosen on val for the cut with the refiner)
    assert m.risk(worst) > QAConfig().max_defect_risk > m.risk(clean)


def test_a_missing_risk_model_stops_the_run_before_any_work_and_paths_are_the_presets(tmp_path, input_dir):
    from product_augment.presets.loader import load_preset
    from product_augment.runner import RunError, RunOptions, run

    preset = tmp_path / "p.yaml"
    body = "version: 1\nqa: {{risk_model: {model}}}\nsteps:\n  - segment: {{backend: classical, class_name: cup}}\n"
    preset.write_text(body.format(model="no_such_model.json"))
    with pytest.raises(RunError, match="no_such_model.json: cannot read the quality gate's risk model"):
        run(load_preset(preset), RunOptions(input_dir=input_dir, output_dir=tmp_path / "o"))
    assert not (tmp_path / "o" / "images").exists()
    # a relative path is the preset's folder's, like every path in a preset
    (tmp_path / "m.json").write_text(json.dumps(_model().to_json()))
    preset.write_text(body.format(model="m.json"))
    s = run(load_preset(preset), RunOptions(input_dir=input_dir, output_dir=tmp_path / "o2"))
    assert s.ok and s.done
    entry = json.loads((tmp_path / "o2" / "manifest.jsonl").read_text().splitlines()[0])
    assert "defect_risk" in entry["qa"]["signals"]


def test_operating_point_is_chosen_on_the_values_the_gate_compares():
    # a good photo at 0.91586 rounds to 0.9159 in the gate: a threshold of 0.9158 (one step below the
    # rounded value of a risk it does not reject) would reject it (session 11's fit did so)
    risk = np.array([0.95, 0.91594, 0.91586, 0.5])
    bad = np.array([True, True, False, False])
    none = np.zeros(4, bool)
    thr, rej = operating_point(risk, none, bad, budget=0)
    assert thr == 0.9499 and rej.tolist() == [True, False, False, False]
    # the gate, given each photo's recorded (rounded) risk, gives exactly the verdicts chosen with
    cfg = QAConfig(max_defect_risk=thr)
    verdicts = [judge({"defect_risk": round(float(r), DIGITS)}, cfg)["verdict"] == "reject" for r in risk]
    assert verdicts == rej.tolist()
    # one good photo allowed: both 0.9159s are rejected, 0.5 is not
    thr, rej = operating_point(risk, none, bad, budget=1)
    assert thr == 0.9158 and rej.tolist() == [True, True, True, False]
    # the other checks use the budget up first; beyond it there is no operating point
    assert operating_point(risk, np.array([False, False, True, True]), bad, budget=1) is None
