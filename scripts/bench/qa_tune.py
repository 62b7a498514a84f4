"""The quality gate on real photographs: measure its signals, tune its thresholds, report the table.

    # 1. signals + IoU against the checked masks, one thread (re-run after the cut model changes)
    python scripts/bench/qa_tune.py measure data/real/all --stems data/real/all/val.txt --json runs/qa/val.json
    python scripts/bench/qa_tune.py measure data/real/all --stems data/real/all/test.txt --json runs/qa/test.json
    # 2. thresholds from the validation half only (prints a `qa:` section)
    python scripts/bench/qa_tune.py tune runs/qa/val.json --max-good 0.08
    # 3. the table: reject vs the verdict, with the preset's (default) thresholds or a tuned YAML
    python scripts/bench/qa_tune.py report runs/qa/test.json [--qa qa.yaml]

A photo is **defective** when the segment step's product mask has IoU < `--iou` (0.85) with the
checked mask (`masks/<stem>.png`): a hole, a lost part, background or a cast shadow taken all lower
it. `measure` runs the preset's whole pipeline (default `configs/catalog-white.yaml`, the shipped
segmenter) on every photo, exactly as `augment run` does one job, with the quality gate watching;
the segment step's mask is compared with the truth.
"""
from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path

import click
import numpy as np

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(Path(__file__).resolve().parent))

# the checks the tuner may make reject: (signal, QAConfig field, a high value fails)
TUNABLE = {"confidence": ("confidence", "min_confidence", False),
           "mask_quality": ("mask_quality", "min_mask_quality", False),
           "border_touch": ("border_touch", "max_border_touch", True),
           "fragments": ("fragment_area", "max_fragment_area", True),
           "holes": ("hole_product_area", "max_hole_area", True),
           "ragged": ("ragged", "max_ragged", True),
           "lost": ("lost_area", "max_lost_area", True),
           "taken": ("backdrop_inside", "max_backdrop_inside", True),
           "shadow": ("shadow_area", "max_shadow_area", True)}


@click.group()
def main() -> None:
    """Measure, tune and report the quality gate on real photos."""


@main.command()
@click.argument("data_dir", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("--stems", "stems_file", type=click.Path(exists=True, dir_okay=False, path_type=Path), required=True)
@click.option("--preset", default=str(ROOT / "configs" / "catalog-white.yaml"), show_default=True)
@click.option("--json", "json_out", type=click.Path(dir_okay=False, path_type=Path), required=True)
@click.option("--masks", "mask_dir", type=click.Path(file_okay=False, path_type=Path),
              help="Also write the segment step's masks here.")
def measure(data_dir, stems_file, preset, json_out, mask_dir) -> None:
    """Every photo through the preset's pipeline with the gate watching; signals and IoU to JSON."""
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    import cv2
    from mask_metrics import scores

    from product_augment.io import read_image
    from product_augment.presets.loader import load_preset
    from product_augment.qa import Inspector, QAConfig
    from product_augment.sample import Sample
    from product_augment.threads import limit_threads

    limit_threads()
    pr = load_preset(preset)
    pipe = pr.build_pipeline()
    images = {p.stem: p for p in (data_dir / "images").iterdir()}
    rows = {}
    for stem in stems_file.read_text().split():
        rgb, alpha = read_image(images[stem])
        gt = cv2.imread(str(data_dir / "masks" / f"{stem}.png"), cv2.IMREAD_GRAYSCALE) > 127
        if gt.shape != rgb.shape[:2]:
            gt = cv2.resize(gt.view(np.uint8), rgb.shape[1::-1], interpolation=cv2.INTER_NEAREST).view(bool)
        seen = {}
        insp = Inspector(QAConfig(action="keep"))

        def observe(name, sample, _insp=insp, _seen=seen):
            if name == "segment":
                _seen["mask"] = sample.instances[0].mask if sample.instances else sample.alpha > 0.5
            _insp.observe(name, sample)

        t0 = time.perf_counter()
        timings: dict[str, float] = {}
        try:
            out = pipe(Sample(image=rgb, alpha=alpha, meta={"relpath": stem}), pr.model.seed, stem, 0, timings,
                       observe)
            qa = insp.finish(out)
        except Exception as e:  # noqa: BLE001 - no product: an empty mask, no signals
            print(f"{stem}: {e}", file=sys.stderr)
            qa = {"signals": {}, "failed": []}
            seen.setdefault("mask", np.zeros_like(gt))
        seconds = time.perf_counter() - t0
        sc = scores(seen["mask"], gt)
        rows[stem] = {"iou": round(sc["iou"], 4), "missed": round(sc["missed"], 4), "extra": round(sc["extra"], 4),
                      "signals": qa["signals"], "qa_seconds": round(insp.seconds, 4),
                      "seconds": round(seconds, 4), "step_seconds": timings}
        if mask_dir:
            mask_dir.mkdir(parents=True, exist_ok=True)
            cv2.imwrite(str(mask_dir / f"{stem}.png"), seen["mask"].astype(np.uint8) * 255)
        print(f"{stem}\tIoU {sc['iou']:.3f}\t" + " ".join(
            f"{k}={v}" for k, v in qa["signals"].items() if k != "backdrop_lab"), flush=True)
    qa_s = sum(r["qa_seconds"] for r in rows.values())
    tot = sum(r["seconds"] for r in rows.values())
    print(f"{len(rows)} photos; gate {qa_s:.2f} s of {tot:.2f} s pipeline time ({100 * qa_s / max(tot, 1e-9):.1f} %)")
    json_out.parent.mkdir(parents=True, exist_ok=True)
    json_out.write_text(json.dumps({"preset": str(preset), "images": rows}, indent=1))


def _rows(path: Path, iou: float) -> tuple[list[dict], np.ndarray]:
    rows = json.loads(Path(path).read_text())["images"]
    stems = sorted(rows)
    return [dict(rows[s], stem=s) for s in stems], np.array([rows[s]["iou"] < iou for s in stems])


def _verdicts(rows: list[dict], cfg) -> list[str]:
    from product_augment.qa import judge
    return [judge(r["signals"], cfg)["verdict"] for r in rows]


def _table(rows, bad, verdicts) -> str:
    rej = np.array([v == "reject" for v in verdicts])
    flag = np.array([v == "flag" for v in verdicts])
    n_bad, n_good = int(bad.sum()), int((~bad).sum())
    lines = ["| by the checked mask | photos | rejected | flagged | kept |", "|---|---|---|---|---|"]
    for name, sel in (("defective (IoU < thr)", bad), ("good", ~bad)):
        lines.append(f"| {name} | {int(sel.sum())} | {int((rej & sel).sum())} | {int((flag & sel).sum())} | "
                     f"{int((~rej & ~flag & sel).sum())} |")
    tp = int((rej & bad).sum())
    prec = tp / max(int(rej.sum()), 1)
    lines.append("")
    lines.append(f"reject: recall {tp}/{n_bad} = {tp / max(n_bad, 1):.2f} of the defective, "
                 f"{int((rej & ~bad).sum())}/{n_good} = {(rej & ~bad).sum() / max(n_good, 1):.2f} of the good; "
                 f"precision {tp}/{int(rej.sum())} = {prec:.2f}")
    return "\n".join(lines)


def _load_qa(qa_yaml: Path | None):
    import yaml

    from product_augment.qa import QAConfig
    if qa_yaml is None:
        return QAConfig()
    raw = yaml.safe_load(Path(qa_yaml).read_text())
    return QAConfig.model_validate(raw.get("qa", raw))


@main.command()
@click.argument("json_in", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--iou", default=0.85, show_default=True, help="Defective below this IoU.")
@click.option("--max-good", default=0.08, show_default=True, help="Largest share of good photos rejected.")
@click.option("--max-checks", default=5, show_default=True, help="At most this many rejecting checks.")
def tune(json_in, iou, max_good, max_checks) -> None:
    """Greedy thresholds: repeatedly add (or tighten) the rejecting check whose threshold rejects the
    most newly caught defective photos per newly rejected good one, while at most --max-good of the
    good photos are rejected. Checks not chosen are off (their defaults stay as they are)."""
    rows, bad = _rows(json_in, iou)
    n_good = int((~bad).sum())
    budget = int(np.floor(max_good * n_good))
    fails_at: dict[str, list[tuple[float, np.ndarray]]] = {}
    for check, (sig, _, high) in TUNABLE.items():
        v = np.array([float(r["signals"].get(sig, np.nan)) for r in rows])
        opts = []
        for t in np.unique(v[~np.isnan(v)]):
            # a threshold just inside each observed value: that photo and those beyond it fail
            thr = round(float(t) - 1e-4, 4) if high else round(float(t) + 1e-4, 4)
            fail = (v > thr) if high else (v < thr)
            opts.append((thr, np.nan_to_num(fail, nan=0).astype(bool)))
        fails_at[check] = opts
    chosen: dict[str, tuple[float, np.ndarray]] = {}

    def rejected(sel):
        out = np.zeros(len(rows), bool)
        for _, f in sel.values():
            out |= f
        return out

    while True:
        cur = rejected(chosen)
        best = None
        for check, opts in fails_at.items():
            if check not in chosen and len(chosen) >= max_checks:
                continue
            for thr, f in opts:
                trial = {**chosen, check: (thr, f)}
                rej = rejected(trial)
                fp = int((rej & ~bad).sum())
                if fp > budget:
                    continue
                gain = int((rej & bad).sum()) - int((cur & bad).sum())
                cost = fp - int((cur & ~bad).sum())
                if gain <= 0:
                    continue
                key = (gain / (cost + 1), gain)
                if best is None or key > best[0]:
                    best = (key, check, thr, f)
        if best is None:
            break
        chosen[best[1]] = (best[2], best[3])
    rej = rejected(chosen)
    verdicts = ["reject" if x else "keep" for x in rej]
    print(_table(rows, bad, verdicts))
    print("tuned (" + json_in.name + f", defective: IoU < {iou}, at most {budget}/{n_good} good rejected):")
    for check, (thr, _) in sorted(chosen.items()):
        print(f"  {TUNABLE[check][1]}: {thr:g}    # check `{check}`")


def _auc(score: np.ndarray, bad: np.ndarray) -> float:
    """P(a defective photo scores above a good one), ties counting half."""
    pos, neg = score[bad], score[~bad]
    if not len(pos) or not len(neg):
        return float("nan")
    return float(((pos[:, None] > neg[None]).sum() + 0.5 * (pos[:, None] == neg[None]).sum()) / (len(pos) * len(neg)))


def _matrix(rows: list[dict], names) -> tuple[np.ndarray, np.ndarray]:
    from product_augment.qa.risk import feature_row
    x = np.array([feature_row(r["signals"], names) for r in rows])
    has = np.array([bool(r["signals"].get("product_area")) for r in rows])
    return x, has


def _fold(stem: str) -> int:
    """A photo's half of a cross-fitted set (0 or 1): fixed by its name, not by its order."""
    import hashlib
    return int(hashlib.sha256(stem.encode()).hexdigest(), 16) % 2


def _load_rows(paths, iou: float) -> tuple[list[dict], np.ndarray]:
    rows, bad = [], []
    for j in paths:
        r, b = _rows(j, iou)
        rows += r
        bad += list(b)
    return rows, np.array(bad, bool)


@main.command()
@click.option("--train", "train_json", multiple=True,
              type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="measure JSON(s) to fit on (e.g. the training pool with teacher masks).")
@click.option("--val", "val_json", multiple=True,
              type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="measure JSON(s) that choose the L2 strength and the threshold (the real val half).")
@click.option("--cross", "cross_json", multiple=True, type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="measure JSON(s) of photos no model was trained on (the gate fold): split in two halves by "
              "name; each half is scored by a model fitted on --train and the other half, and those "
              "out-of-fold risks join --val in choosing; the model written is fitted on --train and all of them.")
@click.option("--iou", default=0.85, show_default=True, help="Defective below this IoU.")
@click.option("--max-good", default=0.08, show_default=True, help="Largest share of good val photos rejected.")
@click.option("--l2", "l2s", multiple=True, type=float, default=(0.3, 1.0, 3.0, 10.0, 30.0), show_default=True)
@click.option("--feature", "features", multiple=True, help="Features to use (default: all known).")
@click.option("--qa", "qa_yaml", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="The other checks' thresholds (default: the built-in defaults).")
@click.option("--signed/--free", default=True, show_default=True,
              help="Each signal may raise the risk only on its bad side (qa.risk.BAD_SIDE), or free signs.")
@click.option("--out", "out_path", type=click.Path(dir_okay=False, path_type=Path), required=True)
def fit(train_json, val_json, cross_json, iou, max_good, l2s, features, qa_yaml, signed, out_path) -> None:
    """Fit the defect-risk model (qa/risk.py) on --train (and --cross), choose its L2 strength by AUC
    and the risk threshold on --val and the out-of-fold --cross risks (with the other checks as they
    are: the most defective rejected with at most --max-good of the good), write the model file. The
    test half is never read."""
    import datetime

    from product_augment.qa.risk import BAD_SIDE, FEATURES, RiskModel, fit_logistic, operating_point
    if not (train_json or cross_json) or not (val_json or cross_json):
        raise click.UsageError("give --train or --cross to fit on, and --val or --cross to choose on")
    names = tuple(features) or tuple(FEATURES)
    rows, bad = _load_rows(train_json, iou)
    crows, cbad = _load_rows(cross_json, iou)
    half = np.array([_fold(r["stem"]) for r in crows], int)
    if crows and len(set(half.tolist())) < 2:
        raise click.ClickException(f"--cross: all {len(crows)} photos fall in one half; cross-fitting needs both")
    vrows, vbad = _load_rows(val_json, iou)
    seen: dict[str, str] = {}
    for flag, some in (("--train", rows), ("--cross", crows), ("--val", vrows)):
        for r in some:
            if r["stem"] in seen:
                raise click.ClickException(f"photo {r['stem']} is given twice ({seen[r['stem']]} and {flag}): "
                                           f"each photo may be counted once")
            seen[r["stem"]] = flag
    cfg = _load_qa(qa_yaml).model_copy(update={"max_defect_risk": None})  # the other checks alone
    # the photos the choice is made on: val, then the cross-fitted ones
    chosen_rows, chosen_bad = vrows + crows, np.concatenate([vbad, cbad])
    others = np.array([v == "reject" for v in _verdicts(chosen_rows, cfg)], bool)
    n_good = int((~chosen_bad).sum())
    budget = int(np.floor(max_good * n_good))
    signs = np.array([BAD_SIDE[n] for n in names], float) if signed else None

    def fitted(fit_rows, fit_bad, l2):  # a RiskModel fitted on these photos (class-balanced)
        x, has = _matrix(fit_rows, names)
        x, y = x[has], fit_bad[has].astype(float)
        mean = np.nanmean(x, 0)
        x = np.where(np.isnan(x), mean, x)
        scale = x.std(0)
        scale[scale < 1e-6] = 1.0
        xs = (x - mean) / scale
        # positives are few: weight the classes equally
        wts = np.where(y > 0, 0.5 / max(y.mean(), 1e-9), 0.5 / max(1 - y.mean(), 1e-9))
        coef, b0 = fit_logistic(xs, y, l2=l2, weights=wts, signs=signs)
        model = RiskModel(names, tuple(mean), tuple(scale), tuple(coef), b0, {})
        return model, _auc(1.0 / (1.0 + np.exp(-(xs @ coef + b0))), y > 0), len(y), int(y.sum())

    def scored(model, some_rows):  # a photo without a product counts as certainly defective
        return np.array([1.0 if (v := model.risk(r["signals"])) is None else v for r in some_rows])

    all_rows, all_bad = rows + crows, np.concatenate([bad, cbad])
    best = None
    print(f"train: {len(rows)} photos, {int(bad.sum())} defective; cross-fitted: {len(crows)}, {int(cbad.sum())}; "
          f"val: {len(vrows)}, {int(vbad.sum())}")
    for l2 in l2s:
        model, auc_t, n_fit, n_bad = fitted(all_rows, all_bad, l2)
        risk = scored(model, vrows)
        if crows:  # each half scored by a model that never saw it
            out_of_fold = np.zeros(len(crows))
            for h in (0, 1):
                keep = half != h
                part, _, _, _ = fitted(rows + [r for r, k in zip(crows, keep) if k],
                                       np.concatenate([bad, cbad[keep]]), l2)
                out_of_fold[~keep] = scored(part, [r for r, k in zip(crows, keep) if not k])
            risk = np.concatenate([risk, out_of_fold])
        auc_v = _auc(risk, chosen_bad)
        op = operating_point(risk, others, chosen_bad, budget)
        caught = int((op[1] & chosen_bad).sum()) if op else -1
        print(f"l2 {l2:g}: train AUC {auc_t:.3f}, choice AUC {auc_v:.3f} ("
              + ", ".join(([f"val {_auc(risk[:len(vrows)], vbad):.3f}"] if vrows else [])
                          + ([f"cross out-of-fold {_auc(risk[len(vrows):], cbad):.3f}"] if crows else []))
              + f"), defective rejected within the budget {caught}/{int(chosen_bad.sum())}")
        # the operating point first (what the gate does), the ranking (AUC) second
        if best is None or (caught, auc_v) > best[0]:
            best = ((caught, auc_v), l2, model, risk, auc_t, n_fit, n_bad)
    (_, auc_v), l2, model, risk, auc_t, n_fit, n_bad = best
    choice = operating_point(risk, others, chosen_bad, budget)
    if choice is None:
        raise click.ClickException(f"the other checks alone reject more than {budget}/{n_good} good photos")
    thr, rej = choice
    tp, fp = int((rej & chosen_bad).sum()), int((rej & ~chosen_bad).sum())
    nv = len(vrows)
    vtp, vfp = int((rej[:nv] & vbad).sum()), int((rej[:nv] & ~vbad).sum())
    print(f"chosen: l2 {l2:g} (AUC {auc_v:.3f}); max_defect_risk {thr:g}: {tp}/{int(chosen_bad.sum())} defective "
          f"and {fp}/{n_good} good rejected with the other checks (val {vtp}/{int(vbad.sum())} and "
          f"{vfp}/{int((~vbad).sum())}" + (f"; cross out-of-fold {tp - vtp}/{int(cbad.sum())} and "
                                          f"{fp - vfp}/{int((~cbad).sum())}" if crows else "") + ")")
    meta = {"fitted": {"on": [str(j) for j in train_json + cross_json], "photos": n_fit, "defective": n_bad,
                       "defective_below_iou": iou, "l2": l2, "class_weights": "balanced",
                       "signs": "each signal on its bad side (qa.risk.BAD_SIDE)" if signed else "free",
                       "date": datetime.date.today().isoformat()},
            "chosen_on": {"train_auc": round(auc_t, 4), "max_defect_risk": thr, "max_good": max_good}}
    if vrows:
        meta["chosen_on"].update({
            "val": [str(j) for j in val_json] if len(val_json) > 1 else str(val_json[0]),
            "val_auc": round(_auc(risk[:nv], vbad), 4), "val_defective_rejected": f"{vtp}/{int(vbad.sum())}",
            "val_good_rejected": f"{vfp}/{int((~vbad).sum())}"})
    if crows:
        meta["chosen_on"].update({
            "cross": [str(j) for j in cross_json], "cross_out_of_fold_auc": round(_auc(risk[nv:], cbad), 4),
            "cross_defective_rejected": f"{tp - vtp}/{int(cbad.sum())}",
            "cross_good_rejected": f"{fp - vfp}/{int((~cbad).sum())}",
            "budget": f"{budget}/{n_good} good of val and cross together"})
    model = RiskModel(model.features, tuple(round(v, 6) for v in model.mean),
                      tuple(round(v, 6) for v in model.scale), tuple(round(v, 6) for v in model.coef),
                      round(model.intercept, 6), meta)
    out_path.write_text(json.dumps(model.to_json(), indent=1) + "\n")
    print(f"wrote {out_path}")


@main.command()
@click.argument("json_in", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--iou", default=0.85, show_default=True, help="Defective below this IoU.")
@click.option("--qa", "qa_yaml", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="A preset or YAML with a `qa:` section (default: the built-in defaults).")
@click.option("--list", "show", is_flag=True, help="Also list every photo with its verdict.")
@click.option("--risk", "risk_path", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="Score the defect risk with this model file (default: the one the thresholds name).")
@click.option("--max-risk", type=float, help="Override max_defect_risk (1 turns the risk check off).")
def report(json_in, iou, qa_yaml, show, risk_path, max_risk) -> None:
    """The confusion table of the gate's verdicts against the IoU verdicts."""
    from product_augment.qa import judge
    from product_augment.qa.risk import DIGITS, load
    rows, bad = _rows(json_in, iou)
    cfg = _load_qa(qa_yaml)
    if max_risk is not None:
        cfg = cfg.model_copy(update={"max_defect_risk": max_risk})
    if cfg.max_defect_risk is not None:  # re-scored from the recorded signals: the measuring may predate the model
        model = load(risk_path or cfg.risk_model)
        for r in rows:
            risk = model.risk(r["signals"])
            if risk is not None:
                r["signals"] = {**r["signals"], "defect_risk": round(risk, DIGITS),
                                "defect_risk_from": model.reasons(r["signals"])}
    verdicts = _verdicts(rows, cfg)
    print(_table(rows, bad, verdicts))
    if show:
        for r, b, v in zip(rows, bad, verdicts):
            reasons = "; ".join(f["reason"] for f in judge(r["signals"], cfg)["failed"])
            print(f"{r['stem']:<32} IoU {r['iou']:.3f} {'DEFECT' if b else 'good  '} {v:<6} {reasons}")


if __name__ == "__main__":
    main()
