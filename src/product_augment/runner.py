"""The batch loop: inputs × variants through the pipeline, outputs, manifest, resume, errors.

The main process owns the manifest (append-only JSON lines); workers write the image files of
their item atomically and return its manifest entry. A killed run restarted with the same preset
skips every item whose entry says ok and whose files exist, so the final set equals an
uninterrupted run's.
"""
from __future__ import annotations

import hashlib
import json
import multiprocessing as mp
import os
import shutil
import time
import traceback
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from . import __version__
from .annotations import build_coco, build_layer_coco, mask_to_rle, yolo_seg_lines
from .io import (
    SUPPORTED_SUFFIXES,
    ImageReadError,
    encode_image,
    encode_mask,
    list_inputs,
    read_image,
    remove_stale_temps,
    write_atomic,
)
from .pipeline import SampleError
from .presets.loader import Preset, load_preset
from .sample import Sample, mask_box

MANIFEST = "manifest.jsonl"
ANNOTATIONS = "annotations.json"
LAYER_ANNOTATIONS = "layers.json"
OUTPUT_DIRS = ("images", "masks", "layers", "labels")


class RunError(Exception):
    """A run that cannot start (bad input folder, output folder of another preset, ...)."""


@dataclass(frozen=True)
class RunOptions:
    """Where and how to run; what to make (seed, variants, formats) is the preset's alone (the CLI
    folds its --seed/--variants/--format into the preset when it loads it)."""

    input_dir: Path
    output_dir: Path
    workers: int = 1
    limit: int | None = None
    overwrite: bool = False


@dataclass
class RunSummary:
    total: int = 0
    done: int = 0
    resumed: int = 0
    failed: list[tuple[str, str]] = field(default_factory=list)  # (item, reason)
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        return not self.failed


@dataclass(frozen=True)
class Task:
    item_id: str      # output base name: "<relpath without suffix>__v<variant>"
    relpath: str
    variant: int


def plan_tasks(relpaths: list[str], variants: int) -> list[Task]:
    """Deterministic output names; inputs differing only by suffix keep it in their name."""
    bases = [str(Path(r).with_suffix("")) for r in relpaths]
    dup = {b for b in bases if bases.count(b) > 1}
    tasks = []
    for rel, base in zip(relpaths, bases):
        if base in dup:
            base = rel.replace(".", "_")
        tasks += [Task(f"{base}__v{v:02d}", rel, v) for v in range(variants)]
    return tasks


def file_sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


# ---------------------------------------------------------------- manifest

def read_manifest(path: Path) -> list[dict]:
    """Entries of a manifest; a torn last line (killed mid-write) is dropped from the file."""
    if not path.exists():
        return []
    data = path.read_bytes()
    if data and not data.endswith(b"\n"):
        cut = data.rfind(b"\n") + 1
        with open(path, "r+b") as f:
            f.truncate(cut)
        data = data[:cut]
    out = []
    for line in data.decode("utf-8", errors="replace").splitlines():
        try:
            out.append(json.loads(line))
        except json.JSONDecodeError:
            continue
    return out


def append_manifest(path: Path, entry: dict) -> None:
    with open(path, "a", encoding="utf-8") as f:
        f.write(json.dumps(entry, separators=(",", ":")) + "\n")
        f.flush()
        os.fsync(f.fileno())


def latest_entries(entries: list[dict]) -> dict[str, dict]:
    latest: dict[str, dict] = {}
    for e in entries:
        latest[e["id"]] = e
    return latest


# ---------------------------------------------------------------- worker side

_STATE: dict[str, Any] = {}


# variables read by numeric libraries when they load (torch reads OMP_NUM_THREADS when the
# segmenter first imports it, on the first image)
THREAD_ENV = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")


def limit_threads() -> Callable[[], None]:
    """Run every numeric library of this process on one thread; returns a function that undoes it.

    Each worker is one process with one thread, whatever the worker count: a worker that ran
    multi-threaded would give other bytes (torch's convolutions and BLAS sum in an order that
    depends on the thread count), so `--workers 1` applies the same limits in the main process
    as every pool worker does. Libraries already loaded are limited now (cv2, torch, BLAS/OpenMP
    through threadpoolctl); libraries loaded later see the environment variables.
    """
    import sys

    import cv2
    from threadpoolctl import threadpool_limits

    env = {k: os.environ.get(k) for k in THREAD_ENV}
    os.environ.update(dict.fromkeys(THREAD_ENV, "1"))
    cv2_threads = cv2.getNumThreads()
    cv2.setNumThreads(1)
    torch = sys.modules.get("torch")
    torch_threads = torch.get_num_threads() if torch is not None else None
    if torch is not None:
        torch.set_num_threads(1)
    pools = threadpool_limits(1)

    def restore() -> None:
        pools.restore_original_limits()
        if torch is not None and torch_threads is not None:
            torch.set_num_threads(torch_threads)
        cv2.setNumThreads(cv2_threads)
        for k, v in env.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v

    return restore


def _init_worker(preset: Preset, output_dir: str, input_dir: str) -> None:
    """Build the pipeline once for this process (the preset comes validated: nothing is re-read)."""
    _STATE.update(preset=preset, pipeline=preset.build_pipeline(), output_dir=Path(output_dir),
                  input_dir=Path(input_dir))


def _init_pool_worker(*init_args: Any) -> None:
    limit_threads()  # for the worker process's whole life
    _init_worker(*init_args)


def _run_task(task: Task) -> dict:
    preset: Preset = _STATE["preset"]
    out_dir: Path = _STATE["output_dir"]
    src = _STATE["input_dir"] / task.relpath if _STATE["input_dir"].is_dir() else _STATE["input_dir"]
    t0 = time.perf_counter()
    entry: dict[str, Any] = {"id": task.item_id, "source": task.relpath, "variant": task.variant,
                             "preset_sha256": preset.sha256, "seed": preset.model.seed}
    try:
        entry["source_sha256"] = file_sha256(src)
        rgb, alpha = read_image(src, preset.model.input.max_side)
        sample = Sample(image=rgb, alpha=alpha, meta={"relpath": task.relpath})
        sample = _STATE["pipeline"](sample, preset.model.seed, task.relpath, task.variant)
        entry.update(_write_outputs(task, sample, preset, out_dir))
        entry["status"] = "ok"
    except (ImageReadError, SampleError) as e:
        entry.update(status="failed", error=str(e))
    except Exception as e:  # a bug: report it with its traceback, keep the batch going
        entry.update(status="failed", error=f"internal error: {type(e).__name__}: {e}",
                     traceback=traceback.format_exc(limit=8))
    entry["seconds"] = round(time.perf_counter() - t0, 4)
    return entry


def _write_outputs(task: Task, sample: Sample, preset: Preset, out_dir: Path) -> dict:
    opts = preset.model.output
    formats = opts.annotations
    fmt = "png" if sample.output_alpha is not None and opts.format == "jpg" else opts.format
    image_rel = f"images/{task.item_id}.{fmt}"
    write_atomic(out_dir / image_rel, encode_image(sample.image, sample.output_alpha, fmt, opts.quality))
    h, w = sample.image.shape[:2]
    instances, mask_rels = [], []
    for j, inst in enumerate(sample.instances):
        rel = f"masks/{task.item_id}__i{j}.png"
        write_atomic(out_dir / rel, encode_mask(inst.mask))
        mask_rels.append(rel)
        instances.append({"class_id": int(inst.class_id), "score": round(float(inst.score), 4),
                          "box": [float(v) for v in inst.box], "mask": rel, "rle": mask_to_rle(inst.mask)})
    layers, layer_rles, layer_boxes = {}, {}, {}
    for name in opts.layers:
        matte = sample.layers.get(name)
        if matte is None:
            continue
        rel = f"layers/{task.item_id}__{name}.png"
        write_atomic(out_dir / rel, encode_mask(matte))
        layers[name] = rel
        binary = matte > 0.5 if name == "logo" else matte > 0.1
        if binary.any():
            layer_rles[name] = mask_to_rle(binary)
            layer_boxes[name] = list(mask_box(binary))
    outputs: dict[str, Any] = {"image": image_rel, "masks": mask_rels, "layers": layers}
    if "yolo" in formats:
        rel = f"labels/{task.item_id}.txt"
        write_atomic(out_dir / rel, "\n".join(yolo_seg_lines(sample.instances, w, h)).encode() + b"\n")
        outputs["label"] = rel
    result = {"size": [w, h], "outputs": outputs, "instances": instances,
              "layer_rles": layer_rles, "layer_boxes": layer_boxes,
              "applied": _jsonable(sample.meta.get("applied", {})),
              "models": sample.meta.get("models", {}), "version": __version__}
    if sample.meta.get("segment_fallback"):  # the configured backend found nothing; this one made the mask
        result["fallback"] = {"segment": sample.meta["segment_fallback"]}
    return result


def _jsonable(x: Any) -> Any:
    if isinstance(x, dict):
        return {str(k): _jsonable(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [_jsonable(v) for v in x]
    if isinstance(x, np.generic):
        return x.item()
    if isinstance(x, np.ndarray):
        return x.tolist()
    if isinstance(x, Path):
        return str(x)
    return x


# ---------------------------------------------------------------- main side

def plan(preset: Preset, opts: RunOptions) -> tuple[list[Task], list[str]]:
    """The tasks (input × variant) of a run and the unsupported files, after --limit; reads no image.
    Raises RunError for a missing input, an output folder that is or holds the input, or no inputs."""
    if not opts.input_dir.exists():
        raise RunError(f"input not found: {opts.input_dir}")
    out = opts.output_dir
    inp = opts.input_dir.resolve()
    if inp == out.resolve():
        raise RunError(f"output folder {out} is the input folder: choose another --output "
                       f"(a sub-folder of the input is fine)")
    if out.resolve() in inp.parents:
        raise RunError(f"output folder {out} contains the input {opts.input_dir}: choose another "
                       f"--output (a new sub-folder is fine)")
    # an output folder inside the input folder is skipped when listing inputs
    relpaths, unsupported = list_inputs(opts.input_dir, preset.model.input.recursive, exclude=out)
    if opts.limit is not None:  # the first N files, supported or not
        first = set(sorted(relpaths + unsupported)[: opts.limit])
        relpaths = [r for r in relpaths if r in first]
        unsupported = [r for r in unsupported if r in first]
    if not relpaths and not unsupported:
        raise RunError(f"no images found in {opts.input_dir} (supported: {' '.join(SUPPORTED_SUFFIXES)})")
    return plan_tasks(relpaths, preset.model.variants), unsupported


def run(preset: Preset | Path | str, opts: RunOptions, progress: Callable[[dict], None] | None = None,
        on_start: Callable[[int], None] | None = None) -> RunSummary:
    """Process every input × variant of a loaded preset (a path is loaded first); returns a summary.
    Raises RunError before any work. The pipeline is built once per worker process.
    `on_start(n)` is told how many items will be processed (after resume); `progress(entry)` gets
    each item's manifest entry as it finishes."""
    if not isinstance(preset, Preset):
        preset = load_preset(preset)
    t0 = time.perf_counter()
    tasks, unsupported = plan(preset, opts)
    out = opts.output_dir
    out.mkdir(parents=True, exist_ok=True)
    manifest_path = out / MANIFEST
    if opts.overwrite:
        _clear_outputs(out)
    remove_stale_temps(out)
    previous = read_manifest(manifest_path)
    other = {e.get("preset_sha256") for e in previous if e.get("status") == "ok"} - {preset.sha256}
    if other:
        raise RunError(f"{out} holds results of a different preset or options; use --overwrite or another "
                       f"--output")
    done = {i for i, e in latest_entries(previous).items()
            if e.get("status") == "ok" and _files_exist(out, e)}
    todo = [t for t in tasks if t.item_id not in done]
    summary = RunSummary(total=len(tasks) + len(unsupported), resumed=len(tasks) - len(todo))

    latest = latest_entries(previous)
    for rel in unsupported:
        reason = f"unsupported file type {Path(rel).suffix or '(none)'}"
        entry = {"id": rel, "source": rel, "status": "failed", "error": reason}
        if latest.get(rel) != entry:  # a resumed run does not repeat what the manifest says
            append_manifest(manifest_path, entry)
        summary.failed.append((rel, reason))

    init_args = (preset, str(out), str(opts.input_dir))
    if on_start:
        on_start(len(todo))
    failed_variants: dict[tuple[str, str], list[int]] = {}
    for entry in _execute(todo, init_args, opts.workers):
        append_manifest(manifest_path, entry)
        if entry["status"] == "ok":
            summary.done += 1
        else:
            failed_variants.setdefault((entry["source"], entry["error"]), []).append(entry["variant"])
        if progress:
            progress(entry)
    # one line per file and reason: an unreadable file fails the same way in every variant
    for (source, error), vs in sorted(failed_variants.items()):
        which = "" if len(vs) == preset.model.variants else f" (variant {', '.join(map(str, sorted(vs)))})"
        summary.failed.append((source + which, error))

    _write_annotations(out, read_manifest(manifest_path), preset, {t.item_id for t in tasks})
    summary.seconds = time.perf_counter() - t0
    return summary


def _execute(todo: list[Task], init_args: tuple, workers: int) -> Iterator[dict]:
    if not todo:
        return
    if workers <= 1 or len(todo) == 1:
        # in this process, with the pool workers' one-thread limits (same bytes on any worker
        # count); the limits are undone when the batch ends
        restore = limit_threads()
        try:
            _init_worker(*init_args)
            for t in todo:
                yield _run_task(t)
        finally:
            restore()
        return
    ctx = mp.get_context("spawn")
    with ctx.Pool(min(workers, len(todo)), initializer=_init_pool_worker, initargs=init_args) as pool:
        yield from pool.imap_unordered(_run_task, todo, chunksize=1)


def _files_exist(out: Path, entry: dict) -> bool:
    o = entry.get("outputs") or {}
    paths = [o.get("image"), *o.get("masks", []), *o.get("layers", {}).values()]
    if "label" in o:
        paths.append(o["label"])
    return all(p and (out / p).exists() for p in paths)


def _clear_outputs(out: Path) -> None:
    """Remove what an earlier run wrote (only our own files and folders)."""
    for name in OUTPUT_DIRS:
        if (out / name).is_dir():
            shutil.rmtree(out / name)
    for name in (MANIFEST, ANNOTATIONS, LAYER_ANNOTATIONS, "dataset.yaml", "train.txt", "val.txt"):
        (out / name).unlink(missing_ok=True)


def _write_annotations(out: Path, entries: list[dict], preset: Preset, wanted: set[str]) -> None:
    formats = preset.model.output.annotations
    ok = [e for e in latest_entries(entries).values() if e.get("status") == "ok" and e["id"] in wanted]
    if "coco" in formats:
        write_atomic(out / ANNOTATIONS, json.dumps(build_coco(ok)).encode())
        if preset.model.output.layers:  # layer mattes are not products: their own file
            write_atomic(out / LAYER_ANNOTATIONS,
                         json.dumps(build_layer_coco(ok, list(preset.model.output.layers))).encode())
    if "yolo" in formats:
        _write_yolo_dataset(out, ok)


YOLO_VAL_SHARE = 10  # percent of source images (with all their variants) in the YOLO val list


def _write_yolo_dataset(out: Path, ok: list[dict]) -> None:
    """dataset.yaml with a real split: train.txt / val.txt list the images, split by *source*
    (a stable hash of its path) so no variant of a validation photo is trained on; the names are
    the 21 classes, plus `product` only when an instance has the generic class."""
    from .annotations import yolo_class_index
    from .classes import CLASS_NAMES, GENERIC_PRODUCT
    from .pipeline import stable_hash

    lists: dict[str, list[str]] = {"train": [], "val": []}
    for e in sorted(ok, key=lambda e: e["id"]):
        split = "val" if stable_hash(e["source"]) % 100 < YOLO_VAL_SHARE else "train"
        lists[split].append(f"./{e['outputs']['image']}")
    if not lists["val"] and len(lists["train"]) > 1:  # tiny runs: still something to validate on
        lists["val"].append(lists["train"].pop())
    for split, files in lists.items():
        write_atomic(out / f"{split}.txt", "".join(f + "\n" for f in files).encode())
    generic = any(i["class_id"] == GENERIC_PRODUCT.id for e in ok for i in e["instances"])
    names = list(CLASS_NAMES) + ([GENERIC_PRODUCT.name] if generic else [])
    assert not generic or yolo_class_index(GENERIC_PRODUCT.id) == len(CLASS_NAMES)
    body = "\n".join(f"  {i}: {n}" for i, n in enumerate(names))
    write_atomic(out / "dataset.yaml", f"path: .\ntrain: train.txt\nval: val.txt\nnames:\n{body}\n".encode())
