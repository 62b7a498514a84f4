"""`augment bench`: every arm × seed of the U-Net benchmark, results.json, report.md, curves.png.

Arms (same model, preprocessing, loss, optimiser and evaluation; N base images, expansion f, E the
profile's epochs):

- base: the N base images for E epochs (epoch-matched with `augmented`).
- base-steps: the base images for E·(1+f) epochs — the same number of images seen (and, up to the
  rounding of the last batch, optimiser steps) as `augmented` (compute-matched).
- base-long: the base images for long_factor·E·(1+f) epochs (longer-trained than every other arm).
- classical: the base images with the config's albumentations recipe on the fly (flip, affine,
  random resized crop, colour jitter), E·(1+f) epochs (steps-matched with `augmented`).
- copy-paste: the base images + f copy-paste images per base image, E epochs.
- augmented: the base images + f images per base image made by this pipeline, E epochs.
- augmented+classical: `augmented` with the classical recipe on the fly, E epochs.
- the cause arms (bench/causes.py: geometry, appearance, bg-<kind>, shadow-<kind>, no-logo): like
  `augmented`, with the added images made by a changed recipe.

A bench resumes: results.json in `--out` is read again and the (arm, seed) runs it holds are not
run again, when it was made with the same data, profile and settings (else it refuses, naming the
difference; `restart` starts over).
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

from . import causes
from .data import ArraySet, detect_format, has_instances, load_set
from .metrics import converge_epoch
from .profiles import BenchConfig, Profile
from .progress import _progress_bar
from .report import PAPER, write_outputs
from .summary import CONTROLS, TEST_METRICS, sign_flip_p, summarise  # noqa: F401  (re-exported)


@dataclass(frozen=True)
class Arm:
    data: str            # base | augmented | copy-paste | augmented:<cause arm>
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


def get_arm(name: str) -> Arm:
    if name in ARMS:
        return ARMS[name]
    return Arm(f"augmented:{name}", "1", False, "as augmented, the added images made by a changed recipe "
                                               "(bench/causes.py)")


def resolve_arms(requested: list[str], cfg: BenchConfig, prof: Profile, allowed: list[str]) -> list[str]:
    """The arm names to run: `main` is the profile's (or config's) arms, `causes` the config's cause
    arms; every name must be a known arm or a cause arm the preset allows (`allowed`)."""
    out: list[str] = []
    for a in requested:
        names = (prof.arms or cfg.arms) if a == "main" else cfg.cause_arms if a == "causes" else [a]
        for n in names:
            if n not in ARMS and n not in allowed:
                raise ValueError(f"unknown arm {n!r} (arms: {', '.join(ARMS)}; cause arms of this preset: "
                                 f"{', '.join(allowed)})")
            if n not in out:
                out.append(n)
    return out


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


def _load_sets(cfg: BenchConfig, specs, size: int, limit: int | None, say, what: str, instances: bool = False
               ) -> tuple[dict[str, ArraySet], dict[str, str]]:
    """The named sets that exist; an optional set that is missing is reported and skipped."""
    sets, skipped = {}, {}
    for spec in specs:
        root = cfg.resolve(spec.path)
        stems = root / spec.stems if spec.stems else None
        missing = not root.is_dir() or (stems is not None and not stems.is_file())
        if missing and spec.optional:
            why = f"{stems if stems is not None and root.is_dir() else root} is missing"
            say(f"{what} set {spec.name!r} skipped: {why} (docs/DATA.md says how to build it)")
            skipped[spec.name] = why
            continue
        if not root.is_dir():
            raise FileNotFoundError(f"{what} set {spec.name!r}: {root} is missing (docs/DATA.md says how to build it)")
        with_inst = instances and (spec.instances if spec.instances is not None else has_instances(root, spec.format))
        sets[spec.name] = load_set(root, size, spec.format, _limit(limit, spec.limit), cfg.pad, stems, with_inst)
    return sets, skipped


def run_bench(cfg: BenchConfig, profile: str | None = None, seeds: int | None = None, device: str = "auto",
              out_dir: Path | None = None, ablate: str | None = None, arms: list[str] | None = None,
              workers: int | None = None, augmented_dir: Path | None = None, steps: int | None = None,
              first_seed: int = 0, threads: int | None = None, jobs: int | None = None,
              log: Callable[[str], None] | None = None, progress: bool = True, command: str = "",
              restart: bool = False) -> dict:
    """Run the benchmark; writes results.json (after every run, so an interrupted bench keeps what
    ran, and a rerun skips it), report.md and curves.png into `out_dir`, and returns the results.
    `arms` may name `main` (the config's arms) and `causes` (its cause arms);
    `augmented_dir`: a ready augmented COCO folder used for every seed instead of running the
    pipeline; `steps`: train every arm for this many steps instead of epochs (the legacy command)."""
    import torch

    from .augment import bench_steps, copy_paste, make_augmented
    from .train import TrainSpec, resolve_device

    say = log or (lambda _m: None)
    pname = profile or cfg.profile
    if pname not in cfg.profiles:
        raise ValueError(f"profile {pname!r} is not in the config (have: {', '.join(cfg.profiles)})")
    prof: Profile = cfg.profiles[pname]
    n_seeds = seeds or prof.seeds
    base_root = cfg.resolve(cfg.base.path)
    if not base_root.is_dir():
        raise FileNotFoundError(f"base set {base_root} is missing (docs/DATA.md says how to build it)")
    base_fmt = detect_format(base_root) if cfg.base.format == "auto" else cfg.base.format
    allowed = (causes.available(bench_steps(cfg.resolve(cfg.preset), base_root, base_fmt, ablate))
               if augmented_dir is None and cfg.preset != "-" else [])
    arm_names = resolve_arms(list(arms or ["main"]), cfg, prof, allowed)
    dev = resolve_device(device)
    if threads or prof.threads:
        torch.set_num_threads(threads or prof.threads)
    out = Path(out_dir or Path("runs/bench") / (f"unet-{pname}" + (f"-no-{ablate}" if ablate else "")))
    out.mkdir(parents=True, exist_ok=True)
    t_start = time.perf_counter()

    n_base = _limit(prof.base_images, cfg.base.limit)
    t0 = time.perf_counter()
    base = load_set(base_root, prof.size, base_fmt, n_base, cfg.pad)
    vals, val_skipped = _load_sets(cfg, cfg.val, prof.size, prof.val_images, say, "validation")
    val = ArraySet.concat(*vals.values()) if vals else None
    tests, test_skipped = _load_sets(cfg, cfg.tests, prof.size, prof.test_images, say, "test", instances=True)
    if not tests:
        raise FileNotFoundError("no test set is available: " + "; ".join(f"{k}: {v}" for k, v in test_skipped.items()))
    say(f"data: base {len(base)} images, val {len(val) if val else 0}, tests "
        + ", ".join(f"{k} {len(v)}" for k, v in tests.items()) + f" ({time.perf_counter() - t0:.1f} s to load)")

    fingerprint = {"profile": pname, "profile_config": prof.model_dump(exclude={"seeds", "jobs", "threads", "workers",
                                                                                "arms", "description"}),
                   "base": str(base_root), "base_images": len(base), "preset": cfg.preset, "expansion": cfg.expansion,
                   "val": {k: len(v) for k, v in vals.items()}, "tests": {k: len(v) for k, v in tests.items()},
                   "long_factor": cfg.long_factor, "pad": cfg.pad, "classical": cfg.classical.model_dump(),
                   "ablate": ablate, "device": dev, "steps": steps,
                   "augmented_dir": str(augmented_dir) if augmented_dir else None}
    fingerprint = json.loads(json.dumps(fingerprint))
    results: dict = {
        "version": 2, "command": command, "started": _now(), "profile": pname,
        "profile_config": {**prof.model_dump(), "seeds": n_seeds}, "seeds": n_seeds, "device": dev,
        "torch_threads": torch.get_num_threads(),
        "machine": f"{platform.machine()} {platform.processor() or ''}".strip(),
        "python": sys.version.split()[0], "torch": torch.__version__, "ablate": ablate,
        "config": {**cfg.model_dump(), "path": str(cfg.path) if cfg.path else None},
        "data": {
            "base": {"path": str(base_root), "format": base_fmt, "images": len(base)},
            "val": {"sets": list(vals), "images": len(val) if val else 0},
            "tests": {k: {"images": len(v), "instances": v.instances is not None,
                          "aspect_ratios": sorted({round(float(a), 2) for a in v.aspect})} for k, v in tests.items()},
            "skipped": {**{f"val:{k}": v for k, v in val_skipped.items()}, **test_skipped},
            "augmented": {}, "copy_paste": {},
        },
        "paper": {k: list(v) for k, v in PAPER.items()},
        "arms": {}, "fingerprint": fingerprint, "complete": False, "out": str(out), "sessions": [],
    }
    old_path = out / "results.json"
    if old_path.is_file() and not restart:
        old = json.loads(old_path.read_text())
        diff = sorted(k for k in set(fingerprint) | set(old.get("fingerprint") or {})
                      if fingerprint.get(k) != (old.get("fingerprint") or {}).get(k))
        if diff:
            raise ValueError(f"{old_path} was made with other settings (differs in: {', '.join(diff)}); "
                             f"use another --out, or --restart to start over")
        results["arms"] = old["arms"]
        results["sessions"] = old.get("sessions", []) + [{"started": old.get("started"), "command": old.get("command"),
                                                          "seconds": old.get("seconds")}]
        for key in ("augmented", "copy_paste"):
            results["data"][key] = old["data"].get(key, {})
    for a in arm_names:
        arm = get_arm(a)
        results["arms"].setdefault(a, {"matched": arm.matched, "classical": arm.classical, "data": arm.data,
                                       "epochs": arm_epochs(arm, prof.epochs, cfg.expansion, cfg.long_factor),
                                       "runs": []})

    seed_list = list(range(first_seed, first_seed + n_seeds))
    done_runs = {(a, r["seed"]) for a, v in results["arms"].items() for r in v["runs"]}
    todo = [(seed, a) for seed in seed_list for a in arm_names if (a, seed) not in done_runs]
    if len(todo) < len(seed_list) * len(arm_names):
        say(f"resuming {old_path}: {len(seed_list) * len(arm_names) - len(todo)} of the requested runs are done, "
            f"{len(todo)} to run")
    aug_label = "augmented" + (f"-no-{ablate}" if ablate else "")

    # 1. the training sets each seed's runs need (this pipeline's and copy-paste images are drawn per seed)
    made: dict[tuple[int, str | None], Path] = {}

    def make(seed: int, variant: str | None) -> Path:
        if (seed, variant) in made:
            return made[seed, variant]
        if augmented_dir is not None:
            results["data"]["augmented"][str(seed)] = {"premade": str(augmented_dir)}
            return Path(augmented_dir)
        label = aug_label + (f"-{variant}" if variant else "")
        root = out / "data" / label / f"n{len(base)}-x{cfg.expansion}-seed{seed}"
        say(f"seed {seed}: expanding the base set with {cfg.preset}" + (f" ({variant})" if variant else "")
            + f" (×{cfg.expansion}) → {root}")
        info = make_augmented(cfg.resolve(cfg.preset), base_root, root, seed, cfg.expansion, limit=n_base,
                              base_format=base_fmt, ablate=ablate, workers=workers or prof.workers, variant=variant)
        key = f"augmented:{variant}" if variant else "augmented"
        results["data"][key] = {**results["data"].get(key, {}), str(seed): info}
        made[seed, variant] = root
        return root

    def training_set(seed: int, data_name: str) -> ArraySet:
        if data_name == "base":
            return base
        if data_name == "copy-paste":
            t0 = time.perf_counter()
            cp = copy_paste(base, cfg.expansion, seed)
            results["data"]["copy_paste"][str(seed)] = {"images": len(cp), "seconds": round(time.perf_counter() - t0, 1)}
            return ArraySet.concat(base, cp)
        variant = data_name.partition(":")[2] or None
        if variant == "geometry":
            return ArraySet.concat(base, causes.reframe_set(base_root, base_fmt, make(seed, None), prof.size, cfg.pad))
        return ArraySet.concat(base, load_set(make(seed, variant), prof.size, "coco", None, cfg.pad))

    tasks = []
    for seed in seed_list:
        names = sorted((a for s_, a in todo if s_ == seed), key=lambda a: -results["arms"][a]["epochs"])
        sets = {d: training_set(seed, d) for d in dict.fromkeys(get_arm(a).data for a in names)}
        for name in names:
            arm = get_arm(name)
            spec = TrainSpec(epochs=results["arms"][name]["epochs"], steps=steps, batch=prof.batch, lr=prof.lr,
                             widths=tuple(prof.widths), classical=arm.classical,
                             classical_spec=cfg.classical.model_dump())
            tasks.append((seed, name, sets[arm.data], spec))
    n_jobs = max(1, min(jobs or prof.jobs, len(tasks) or 1))
    results["jobs"] = n_jobs
    left = {seed: sum(1 for t in tasks if t[0] == seed) for seed in seed_list}

    def finish_run(seed: int, name: str, run: dict) -> None:
        results["arms"][name]["runs"].append(run)
        results["arms"][name]["runs"].sort(key=lambda r: r["seed"])
        say(f"{name} seed {seed}: {run['train_images']} images, {run['steps']} steps, {run['train_seconds']:.0f} s; "
            + ", ".join(f"{t} IoU {_fmt(m['iou_image'])}" for t, m in run["tests"].items()))
        results["seconds"] = round(time.perf_counter() - t_start, 1)
        summarise(results)
        _save(results, out / "results.json")
        left[seed] -= 1
        if not left[seed]:
            write_outputs(results, out)  # the report and curves so far, after every seed

    # 2. every (seed, arm) run: in this process, or `jobs` processes of one thread each
    if n_jobs == 1:
        for seed, name, data, spec in tasks:
            bar = _progress_bar(f"{name} s{seed}", progress)
            run = _train_and_evaluate(data, val, tests, spec, seed, dev, bar.update)
            bar.close()
            finish_run(seed, name, run)
    else:
        import multiprocessing as mp
        from concurrent.futures import ProcessPoolExecutor, as_completed

        say(f"{len(tasks)} runs on {n_jobs} processes of {threads or prof.threads or 1} thread(s) each")
        overall = _progress_bar("runs", progress, unit="run")
        overall.update({"step": 0, "total": len(tasks)})
        with ProcessPoolExecutor(n_jobs, mp_context=mp.get_context("spawn"), initializer=_worker_init,
                                 initargs=(val, tests, dev, threads or prof.threads or 1)) as ex:
            futures = {ex.submit(_worker_run, data, seed, spec): (seed, name) for seed, name, data, spec in tasks}
            tasks.clear()  # the futures hold the data until their run is done
            for k, fut in enumerate(as_completed(futures), 1):
                seed, name = futures.pop(fut)
                run = fut.result()
                finish_run(seed, name, run)
                first = next(iter(run["tests"]))
                overall.update({"step": k, "total": len(futures) + k})
                overall.postfix(f"last: {name} s{seed} {first} IoU {_fmt(run['tests'][first]['iou_image'])}")
        overall.close()
    ran = max((len(v["runs"]) for v in results["arms"].values()), default=0)
    results["seeds"] = results["profile_config"]["seeds"] = ran
    results["complete"] = all(len(results["arms"][a]["runs"]) >= n_seeds for a in arm_names)
    results["finished"] = _now()
    results["seconds"] = round(time.perf_counter() - t_start, 1)
    summarise(results)
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


def _worker_init(val, tests, device, threads) -> None:
    import torch

    torch.set_num_threads(threads)
    _WORKER.update(val=val, tests=tests, device=device)


def _worker_run(data: ArraySet, seed: int, spec) -> dict:
    w = _WORKER
    return _train_and_evaluate(data, w["val"], w["tests"], spec, seed, w["device"])


def _fmt(v: float | None) -> str:
    return "–" if v is None else f"{v:.3f}"


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
