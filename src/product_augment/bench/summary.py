"""Per-arm summaries of results.json: mean ± std over seeds and paired Δ against every control."""
from __future__ import annotations

import numpy as np

from .causes import TWINS
from .causes import summarise as causes_summary
from .metrics import mean_std

TEST_METRICS = ("pixel_accuracy", "iou_image", "iou_set", "component_ap", "component_ap50", "instance_ap",
                "instance_ap50")

# The controls every arm is compared with, most telling first: base-steps has seen as many images as
# the augmented arm; base has half its optimiser steps; `augmented` is the control of the cause arms.
CONTROLS = ("base-steps", "base", "classical", "copy-paste", "augmented")


def _paired_delta(runs: list[dict], base_runs: list[dict], test: str, metric: str) -> dict:
    """mean ± std over seeds of (arm − control) for the seeds both have (same seed = same init), the
    sign count (`positive`/`negative` of `n`) and the paired sign-flip test's two-sided `p`."""
    base_by_seed = {r["seed"]: r["tests"][test].get(metric) for r in base_runs}
    diffs = [r["tests"][test].get(metric) - base_by_seed[r["seed"]] for r in runs
             if base_by_seed.get(r["seed"]) is not None and r["tests"][test].get(metric) is not None]
    out = mean_std(diffs)
    out["positive"] = sum(d > 0 for d in diffs)
    out["negative"] = sum(d < 0 for d in diffs)
    out["p"] = sign_flip_p(diffs)
    return out


def sign_flip_p(diffs: list[float]) -> float | None:
    """Two-sided p of the exact paired sign-flip (randomisation) test: the share of the 2^n sign
    patterns whose mean is at least as far from 0 as the observed one. None below 2 pairs; with n
    pairs the smallest possible p is 2/2^n (0.0625 for 5 seeds)."""
    n = len(diffs)
    if n < 2 or n > 16:
        return None
    d = np.asarray(diffs, dtype=float)
    signs = 1 - 2 * ((np.arange(2 ** n)[:, None] >> np.arange(n)) & 1)
    means = np.abs((signs * d).mean(axis=1))
    return float((means >= abs(d.mean()) - 1e-12).mean())


def summarise(results: dict) -> None:
    base_runs = results["arms"].get("base", {}).get("runs", [])
    controls = {c: results["arms"][c]["runs"] for c in CONTROLS if results["arms"].get(c, {}).get("runs")}
    for name, arm in results["arms"].items():
        runs = arm["runs"]
        if not runs:
            continue
        own_controls = dict(controls)  # a cause arm is also set against its twin (bg-image − bg-image-plain)
        twin = TWINS.get(name)
        if twin and results["arms"].get(twin, {}).get("runs"):
            own_controls[twin] = results["arms"][twin]["runs"]
        summ: dict = {"train_seconds": mean_std([r["train_seconds"] for r in runs]),
                      "converge_epoch": mean_std([r["converge_epoch"] for r in runs]),
                      "best_val_iou": mean_std([r["best_val_iou"] for r in runs]),
                      "train_images": runs[0]["train_images"], "steps": runs[0]["steps"], "tests": {}}
        for t in runs[0]["tests"]:
            per = {m: mean_std([r["tests"][t].get(m) for r in runs]) for m in TEST_METRICS}
            buckets = sorted({b for r in runs for b in r["tests"][t].get("by_aspect", {})})
            per["by_aspect"] = {b: {"n": runs[0]["tests"][t]["by_aspect"].get(b, {}).get("n", 0),
                                    "iou_image": mean_std([r["tests"][t]["by_aspect"].get(b, {}).get("iou_image")
                                                           for r in runs])} for b in buckets}
            if base_runs:
                per["delta_vs_base"] = {m: _paired_delta(runs, base_runs, t, m) for m in TEST_METRICS}
            per["delta_vs"] = {c: {m: _paired_delta(runs, c_runs, t, m) for m in TEST_METRICS}
                               for c, c_runs in own_controls.items() if c != name}
            summ["tests"][t] = per
        curves = [[p.get("val_iou") for p in r["curve"]] for r in runs]
        length = min(len(c) for c in curves)
        summ["val_curve_mean"] = [float(np.mean([c[i] for c in curves])) if all(c[i] is not None for c in curves)
                                  else None for i in range(length)]
        arm["summary"] = summ
    results["causes"] = causes_summary(results)
