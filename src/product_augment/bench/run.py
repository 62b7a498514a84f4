"""`augment bench`: every arm × seed of the U-Net benchmark, results.json, report.md, curves.png.

Arms (same model, preprocessing, loss, optimiser and evaluation; N base images, expansion f, E the
profile's epochs):

- base: the N base images for E epochs (epoch-matched with `augmented`).
- base-steps: the base images for E·(1+f) epochs — the same number of images seen (and, up to the
  rounding of the last batch, optimiser steps) as `augmented` (compute-matched).
- base-long: the base images for long_factor·E·(1+f) epochs (longer-trained than every other arm).
- classical: the base images with classical augmentation on the fly (flip, scale/crop, colour
  jitter), E·(1+f) epochs (steps-matched with `augmented`).
- copy-paste: the base images + f copy-paste images per base image, E epochs.
- augmented: the base images + f images per base image made by this pipeline, E epochs.
- augmented+classical: `augmented` with classical augmentation on the fly, E epochs.
"""
from __future__ import annotations

import json
import math
import platform
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .data import ArraySet, detect_format, load_set
from .metrics import converge_epoch, mean_std
from .profiles import BenchConfig, Profile
from .report import PAPER, write_outputs

TEST_METRICS = ("pixel_accuracy", "iou_image", "iou_set", "ap", "ap50")


@dataclass(frozen=True)
class Arm:
    data: str            # base | augmented | copy-paste
    epochs_factor: str   # "1" (E), "1+f" (E·(1+f)), "long" (long_factor·E·(1+f))
    classical: bool
    matched: str


ARMS: dict[str, Arm] = {
    "base": Arm("base", "1", False, "epoch-matched with augmented (E epochs; sees 1/(1+f) of its images)"),
    "base-steps": Arm("base", "1+f", False, "steps-matched with augmented (same images seen, E·(1+f) epochs)"),
    "base-long": Arm("base", "long", False, "long_factor × the augmented arm's steps"),
    "classical": Arm("base", "1+f", True, "steps-matched with augmented; classical augmentation on the fly"),
    "copy-paste": Arm("copy-paste", "1", False, "epoch- and steps-matched with augmented"),
    "augmented": Arm("augmented", "1", False, "the pipeline's images added (E epochs)"),
    "augmented+classical": Arm("augmented", "1", True, "augmented + classical augmentation on the fly"),
}


def arm_epochs(arm: Arm, epochs: int, expansion: int, long_factor: float) -> int:
    if arm.epochs_factor == "1":
        return epochs
    if arm.epochs_factor == "1+f":
        return epochs * (1 + expansion)
    return round(long_factor * epochs * (1 + expansion))


def _now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


def _limit(profile_limit: int | None, set_limit: int | None) -> int | None:
    vals = [v for v in (profile_limit, set_limit) if v is not None]
    return min(vals) if vals else None


def run_bench(cfg: BenchConfig, profile: str | None = None, seeds: int | None = None, device: str = "auto",
              out_dir: Path | None = None, ablate: str | None = None, arms: list[str] | None = None,
              workers: int | None = None, augmented_dir: Path | None = None, steps: int | None = None,
              first_seed: int = 0, threads: int | None = None, jobs: int | None = None,
              log: Callable[[str], None] | None = None, progress: bool = True, command: str = "") -> dict:
    """Run the benchmark; writes results.json (after every run, so an interrupted bench keeps what
    ran), report.md and curves.png into `out_dir`, and returns the results.
    `augmented_dir`: a ready augmented COCO folder used for every seed instead of running the
    pipeline; `steps`: train every arm for this many steps instead of epochs (the legacy command)."""
    import torch

    from .augment import copy_paste, make_augmented
    from .train import TrainSpec, resolve_device

    say = log or (lambda _m: None)
    pname = profile or cfg.profile
    if pname not in cfg.profiles:
        raise ValueError(f"profile {pname!r} is not in the config (have: {', '.join(cfg.profiles)})")
    prof: Profile = cfg.profiles[pname]
    n_seeds = seeds or prof.seeds
    arm_names = list(arms or cfg.arms)
    for a in arm_names:
        if a not in ARMS:
            raise ValueError(f"unknown arm {a!r} (arms: {', '.join(ARMS)})")
    dev = resolve_device(device)
    if threads or prof.threads:
        torch.set_num_threads(threads or prof.threads)
    out = Path(out_dir or Path("runs/bench") / (f"unet-{pname}" + (f"-no-{ablate}" if ablate else "")))
    out.mkdir(parents=True, exist_ok=True)
    t_start = time.perf_counter()

    base_root = cfg.resolve(cfg.base.path)
    base_fmt = detect_format(base_root) if cfg.base.format == "auto" else cfg.base.format
    n_base = _limit(prof.base_images, cfg.base.limit)
    t0 = time.perf_counter()
    base = load_set(base_root, prof.size, base_fmt, n_base, cfg.pad)
    vals = [load_set(cfg.resolve(v.path), prof.size, v.format, _limit(prof.val_images, v.limit), cfg.pad)
            for v in cfg.val]
    val = ArraySet.concat(*vals) if vals else None
    tests = {t.name: load_set(cfg.resolve(t.path), prof.size, t.format, _limit(prof.test_images, t.limit), cfg.pad)
             for t in cfg.tests}
    say(f"data: base {len(base)} images, val {len(val) if val else 0}, tests "
        + ", ".join(f"{k} {len(v)}" for k, v in tests.items()) + f" ({time.perf_counter() - t0:.1f} s to load)")

    results: dict = {
        "version": 1,
        "command": command,
        "started": _now(),
        "profile": pname,
        "profile_config": {**prof.model_dump(), "seeds": n_seeds},
        "seeds": n_seeds,
        "device": dev,
        "torch_threads": torch.get_num_threads(),
        "machine": f"{platform.machine()} {platform.processor() or ''}".strip(),
        "python": sys.version.split()[0],
        "torch": torch.__version__,
        "ablate": ablate,
        "config": {**cfg.model_dump(), "path": str(cfg.path) if cfg.path else None},
        "data": {
            "base": {"path": str(base_root), "format": base_fmt, "images": len(base)},
            "val": {"sets": [v.name for v in cfg.val], "images": len(val) if val else 0},
            "tests": {k: {"images": len(v), "aspect_ratios": sorted({round(float(a), 2) for a in v.aspect})}
                      for k, v in tests.items()},
            "augmented": {}, "copy_paste": {},
        },
        "paper": {k: list(v) for k, v in PAPER.items()},
        "arms": {a: {"matched": ARMS[a].matched, "classical": ARMS[a].classical, "data": ARMS[a].data,
                     "epochs": arm_epochs(ARMS[a], prof.epochs, cfg.expansion, cfg.long_factor),
                     "runs": []} for a in arm_names},
        "complete": False,
        "out": str(out),
    }
    needs_aug = any(ARMS[a].data == "augmented" for a in arm_names)
    needs_cp = any(ARMS[a].data == "copy-paste" for a in arm_names)
    aug_label = "augmented" + (f"-no-{ablate}" if ablate else "")

    seed_list = list(range(first_seed, first_seed + n_seeds))
    # 1. the training sets of every seed (this pipeline's and copy-paste images are drawn per seed)
    seed_sets: dict[int, dict[str, ArraySet]] = {}
    for seed in seed_list:
        sets: dict[str, ArraySet] = {"base": base}
        if needs_aug:
            if augmented_dir is not None:
                aug_root, info = Path(augmented_dir), {"premade": str(augmented_dir)}
            else:
                aug_root = out / "data" / aug_label / f"n{len(base)}-x{cfg.expansion}-seed{seed}"
                say(f"seed {seed}: expanding the base set with {cfg.preset} (×{cfg.expansion}) → {aug_root}")
                info = make_augmented(cfg.resolve(cfg.preset), base_root, aug_root, seed, cfg.expansion,
                                      limit=n_base, base_format=base_fmt, ablate=ablate,
                                      workers=workers or prof.workers)
            aug = load_set(aug_root, prof.size, "coco", None, cfg.pad)
            info["loaded"] = len(aug)
            results["data"]["augmented"][str(seed)] = info
            sets["augmented"] = ArraySet.concat(base, aug)
        if needs_cp:
            t0 = time.perf_counter()
            cp = copy_paste(base, cfg.expansion, seed)
            results["data"]["copy_paste"][str(seed)] = {"images": len(cp),
                                                        "seconds": round(time.perf_counter() - t0, 1)}
            sets["copy-paste"] = ArraySet.concat(base, cp)
        seed_sets[seed] = sets

    # 2. every (seed, arm) run: in this process, or `jobs` processes of one thread each
    tasks = []
    for seed in seed_list:
        for name in arm_names:
            arm = ARMS[name]
            spec = TrainSpec(epochs=arm_epochs(arm, prof.epochs, cfg.expansion, cfg.long_factor), steps=steps,
                             batch=prof.batch, lr=prof.lr, widths=tuple(prof.widths), classical=arm.classical)
            tasks.append((seed, name, arm.data, spec))
    n_jobs = max(1, min(jobs or prof.jobs, len(tasks)))
    results["jobs"] = n_jobs
    left = {seed: len(arm_names) for seed in seed_list}

    def done(seed: int, name: str, run: dict) -> None:
        results["arms"][name]["runs"].append(run)
        results["arms"][name]["runs"].sort(key=lambda r: r["seed"])
        say(f"{name} seed {seed}: {run['train_images']} images, {run['steps']} steps, {run['train_seconds']:.0f} s; "
            + ", ".join(f"{t} IoU {_fmt(m['iou_image'])} mAP {_fmt(m['ap'])}" for t, m in run["tests"].items()))
        results["seconds"] = round(time.perf_counter() - t_start, 1)
        _summarise(results)
        _save(results, out / "results.json")
        left[seed] -= 1
        if not left[seed]:
            write_outputs(results, out)  # the report and curves so far, after every seed

    if n_jobs == 1:
        for seed, name, data_name, spec in tasks:
            bar = _progress_bar(f"{name} s{seed}", progress)
            run = _train_and_evaluate(seed_sets[seed][data_name], val, tests, spec, seed, dev, bar.update)
            bar.close()
            done(seed, name, run)
    else:
        import multiprocessing as mp
        from concurrent.futures import ProcessPoolExecutor, as_completed

        say(f"{len(tasks)} runs on {n_jobs} processes of {threads or prof.threads or 1} thread(s) each")
        overall = _progress_bar("runs", progress, unit="run")
        overall.update({"step": 0, "total": len(tasks)})
        with ProcessPoolExecutor(n_jobs, mp_context=mp.get_context("spawn"), initializer=_worker_init,
                                 initargs=(seed_sets, val, tests, dev, threads or prof.threads or 1)) as ex:
            futures = {ex.submit(_worker_run, seed, data_name, spec): (seed, name)
                       for seed, name, data_name, spec in tasks}
            for k, fut in enumerate(as_completed(futures), 1):
                seed, name = futures[fut]
                run = fut.result()
                done(seed, name, run)
                first = next(iter(run["tests"]))
                overall.update({"step": k, "total": len(tasks)})
                overall.postfix(f"last: {name} s{seed} {first} IoU {_fmt(run['tests'][first]['iou_image'])}")
        overall.close()
    results["complete"] = True
    results["finished"] = _now()
    results["seconds"] = round(time.perf_counter() - t_start, 1)
    _summarise(results)
    write_outputs(results, out)
    _save(results, out / "results.json")
    return results


def _train_and_evaluate(data: ArraySet, val: ArraySet | None, tests: dict[str, ArraySet], spec, seed: int,
                        device: str, progress: Callable[[dict], None] | None = None) -> dict:
    """One run: train on `data`, validate every epoch, evaluate on every test set."""
    from .train import evaluate, train

    tr = train(data, spec, seed, val=val, device=device, progress=progress)
    t0 = time.perf_counter()
    per_test = {t: evaluate(tr.model, ts, device) for t, ts in tests.items()}
    curve = [p.get("val_iou") for p in tr.curve]
    return {"seed": seed, "train_images": len(data), "epochs": round(tr.epochs, 3), "steps": tr.steps,
            "batch": spec.batch, "train_seconds": tr.train_seconds, "val_seconds": tr.val_seconds,
            "eval_seconds": round(time.perf_counter() - t0, 2), "converge_epoch": converge_epoch(curve),
            "best_val_iou": max((v for v in curve if v is not None), default=None),
            "curve": tr.curve, "tests": per_test}


_WORKER: dict = {}


def _worker_init(seed_sets, val, tests, device, threads) -> None:
    import torch

    torch.set_num_threads(threads)
    _WORKER.update(seed_sets=seed_sets, val=val, tests=tests, device=device)


def _worker_run(seed: int, data_name: str, spec) -> dict:
    w = _WORKER
    return _train_and_evaluate(w["seed_sets"][seed][data_name], w["val"], w["tests"], spec, seed, w["device"])


def _fmt(v: float | None) -> str:
    return "–" if v is None else f"{v:.3f}"


# The controls every arm is compared with, most telling first: base-steps has seen as many images as
# the augmented arm; base has half its optimiser steps.
CONTROLS = ("base-steps", "base", "classical", "copy-paste")


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


def _summarise(results: dict) -> None:
    base_runs = results["arms"].get("base", {}).get("runs", [])
    controls = {c: results["arms"][c]["runs"] for c in CONTROLS if results["arms"].get(c, {}).get("runs")}
    for name, arm in results["arms"].items():
        runs = arm["runs"]
        if not runs:
            continue
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
                               for c, c_runs in controls.items() if c != name}
            summ["tests"][t] = per
        curves = [[p.get("val_iou") for p in r["curve"]] for r in runs]
        length = min(len(c) for c in curves)
        summ["val_curve_mean"] = [float(np.mean([c[i] for c in curves])) if all(c[i] is not None for c in curves)
                                  else None for i in range(length)]
        arm["summary"] = summ


def _save(results: dict, path: Path) -> None:
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(results, indent=1, default=_json_default))
    tmp.replace(path)


def _json_default(o):
    if isinstance(o, (np.floating, np.integer)):
        return o.item()
    if isinstance(o, Path):
        return str(o)
    if isinstance(o, float) and math.isnan(o):
        return None
    raise TypeError(type(o).__name__)


class _progress_bar:
    """tqdm over a run's steps with the running loss and the last validation IoU (stderr)."""

    def __init__(self, desc: str, enabled: bool, unit: str = "step"):
        self.bar = None
        if enabled:
            from tqdm import tqdm

            self.bar = tqdm(total=None, desc=desc, unit=unit, file=sys.stderr, leave=True, dynamic_ncols=True)
        self.val = None

    def postfix(self, text: str) -> None:
        if self.bar is not None:
            self.bar.set_postfix_str(text, refresh=True)

    def update(self, state: dict) -> None:
        if self.bar is None:
            return
        if self.bar.total is None:
            self.bar.total = state["total"]
        if state.get("epoch_end"):
            self.val = state.get("val_iou")
            post = {"epoch": state["epoch"], "loss": f"{state['loss']:.3f}"}
            if self.val is not None:
                post["val_IoU"] = f"{self.val:.3f}"
            self.bar.set_postfix(post, refresh=True)
            return
        self.bar.update(state["step"] - self.bar.n)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
