"""The batch loop: inputs × variants through the pipeline, outputs, manifest, resume, errors.

A run is planned as jobs (`jobs.Job`: input × variant, with a stable id from the input's path and
content hash, the preset hash and the variant) grouped in shards, which an executor (`executors/`:
a local process pool by default, or Ray) runs with `jobs.process_shard`: outputs are written
atomically, then the shard's manifest part (`parts/`) as its completion marker. A killed run
restarted with the same preset skips every job whose latest entry says ok and whose files exist,
so the final set equals an uninterrupted run's. `mode="incremental"` also skips inputs that failed
before with the same content (only new or changed inputs are processed) and keeps the outputs of
earlier inputs in the dataset. No run removes outputs it did not just replace (`--prune` asks for
it). The history is `history.History` (parts over a compacted SQLite index, asked in batches);
the plan streams into the executor; at the end the main process streams the views
(`views.write_views`: `manifest.jsonl`, `annotations.json`, `layers.json`, the YOLO lists).
"""
from __future__ import annotations

import hashlib
import json
import os
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from . import jobs as J
from . import views as V
from .history import COMPACT_PARTS, History, Rec
from .io import SUPPORTED_SUFFIXES, check_writable, odd_name, remove_stale_temps
from .presets.loader import Preset, load_preset
from .storage import Store, UnsafePath

MANIFEST = J.MANIFEST
ANNOTATIONS = "annotations.json"
LAYER_ANNOTATIONS = "layers.json"
OUTPUT_DIRS = ("images", "masks", "layers", "labels", J.PARTS, J.REJECTED)
FLAGGED = "flagged.txt"  # the dataset's images the quality gate flagged, one per line, with the reasons
MODES = ("resume", "incremental")


class RunError(Exception):
    """A run that cannot start (bad input folder, output folder of another preset, ...)."""


@dataclass(frozen=True)
class RunOptions:
    """Where and how to run; what to make (seed, variants, formats) is the preset's alone (the CLI
    folds its --seed/--variants/--format into the preset when it loads it)."""

    input_dir: Path | str          # a folder, one image, or an fsspec URL (s3://, gs://, memory://)
    output_dir: Path | str
    workers: int = 1
    limit: int | None = None
    overwrite: bool = False
    mode: str = "resume"           # resume | incremental
    executor: str = "local"        # local | ray
    ray_address: str | None = None
    shard_size: int = 16           # jobs per shard (a manifest part); the variants of an input stay together
    retries: int = 2               # transient failures: tries of a job, and of a shard whose worker died
    balance: Any = None            # balance.Balance: variants per input from class counts
    compact_parts: int = COMPACT_PARTS  # manifest parts waiting before they are compacted (history.py)
    prune: bool = False            # remove the outputs of earlier runs this run does not plan (never by default)


@dataclass
class RunSummary:
    total: int = 0
    done: int = 0
    resumed: int = 0
    failed: list[tuple[str, str]] = field(default_factory=list)  # (item, reason)
    seconds: float = 0.0
    known_failed: int = 0          # incremental: unchanged inputs that failed in an earlier run (not retried)
    replaced: int = 0              # outputs of changed inputs written again
    removed: int = 0               # --prune: earlier outputs this run's plan no longer has, removed
    hidden: list[str] = field(default_factory=list)  # input names starting with "." (a folder once, "name/"), skipped
    classes_before: dict[str, int] | None = None   # balancing: input images per class
    classes_after: dict[str, int] | None = None    # balancing: output images per class
    executor: str = "local"
    startup_seconds: float = 0.0   # the executor's start (Ray)
    qa: dict[str, int] = field(default_factory=dict)          # this run's outputs by verdict
    qa_reasons: dict[str, dict[str, int]] = field(default_factory=dict)  # verdict -> check -> count

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
    bases = J.output_bases(relpaths)
    return [Task(f"{bases[rel]}__v{v:02d}", rel, v) for rel in relpaths for v in range(variants)]


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
    return J.parse_lines(data)


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


# ---------------------------------------------------------------- main side

def _inputs(preset: Preset, opts: RunOptions, hidden: list[str] | None = None
            ) -> tuple[Store, Store, list[str], list[str]]:
    """(input store, output store, supported, unsupported), after --limit; reads no image. The
    hidden names skipped (starting with ".") are appended to `hidden` when given.
    Raises RunError for a missing input, an output folder that is or holds the input, or no inputs."""
    inputs, out = Store(opts.input_dir), Store(opts.output_dir)
    if not inputs.exists():
        raise RunError(f"input not found: {opts.input_dir}")
    if inputs.local and out.local and inputs.root.resolve() == out.root.resolve():
        raise RunError(f"output folder {opts.output_dir} is the input folder: choose another --output "
                       f"(a sub-folder of the input is fine)")
    if out.contains(inputs):
        raise RunError(f"output folder {opts.output_dir} contains the input {opts.input_dir}: choose another "
                       f"--output (a new sub-folder is fine)")
    # an output folder inside the input folder is skipped when listing inputs
    relpaths, unsupported = inputs.list_inputs(preset.model.input.recursive, exclude=out, hidden=hidden)
    if opts.limit is not None:  # the first N files, supported or not
        first = set(sorted(relpaths + unsupported)[: opts.limit])
        relpaths = [r for r in relpaths if r in first]
        unsupported = [r for r in unsupported if r in first]
    if not relpaths and not unsupported:
        raise RunError(f"no images found in {opts.input_dir} (supported: {' '.join(SUPPORTED_SUFFIXES)})")
    return inputs, out, relpaths, unsupported


def plan(preset: Preset, opts: RunOptions) -> tuple[list[Task], list[str]]:
    """The tasks (input × variant, the preset's variant count) of a run and the unsupported files,
    after --limit; reads no image. Raises RunError as `run` does before any work."""
    _, _, relpaths, unsupported = _inputs(preset, opts)
    return plan_tasks(relpaths, preset.model.variants), unsupported


def run(preset: Preset | Path | str, opts: RunOptions, progress: Callable[[dict], None] | None = None,
        on_start: Callable[[int], None] | None = None) -> RunSummary:
    """Process every input × variant of a loaded preset (a path is loaded first); returns a summary.
    Raises RunError before any work. The pipeline is built once per worker process.
    `on_start(n)` is told how many jobs will be processed (after resume) once the plan is complete
    (the first shards may have finished by then); `progress(entry)` gets each job's manifest entry
    as its shard finishes."""
    if not isinstance(preset, Preset):
        preset = load_preset(preset)
    if opts.mode not in MODES:
        raise RunError(f"mode {opts.mode!r}: use {' or '.join(MODES)}")
    if opts.prune and opts.limit is not None:
        raise RunError("--prune removes every output the run does not plan; with --limit the plan is only "
                       "the first inputs: drop one of the two")
    t0 = time.perf_counter()
    hidden: list[str] = []
    inputs, out, relpaths, unsupported = _inputs(preset, opts, hidden)
    try:  # build here, once: resources that fail (a malformed COCO file, an unreadable font) stop
        # the run before any work, and never inside a pool worker's initializer. Building lists
        # folders and parses files; models load on their first image. `--workers 1` reuses it.
        J.worker_pipeline(preset)
    except (ValueError, OSError) as e:
        raise RunError(f"{preset.path}: cannot build the pipeline: {e}") from None
    if out.local:
        try:
            out.root.mkdir(parents=True, exist_ok=True)
        except OSError as e:
            raise RunError(f"{opts.output_dir}: cannot create the output folder: "
                           f"{e.strerror or e}") from None
        if not out.root.is_dir():
            raise RunError(f"{opts.output_dir}: --output is a file, not a folder")
    with output_lock(out):
        try:
            summary = _run_locked(preset, opts, inputs, out, relpaths, unsupported, t0, progress, on_start)
        except OSError as e:  # anything else on the output side that no retry mends: one line
            if J.output_error(e) is None:
                raise
            raise RunError(f"cannot write the outputs: {J.output_error(e)} (what is done is kept; "
                           f"the same command resumes)") from None
    summary.hidden = hidden
    return summary


LOCK_FILE = ".augment.lock"


@contextmanager
def output_lock(out: Store) -> Iterator[None]:
    """One run at a time per output folder: an exclusive `flock` on `<output>/.augment.lock`, held
    for the whole run. The kernel releases it when the process ends, however it ends (kill -9
    included), so a stale lock never blocks the next run. The file names its holder (pid, host,
    start time) for the message a second run gets. Remote (fsspec) outputs are not locked."""
    if not out.local:
        yield
        return
    import fcntl
    import socket

    path = out.root / LOCK_FILE
    if path.is_symlink():
        raise RunError(f"{path} is a symlink: the run writes only inside --output; remove the link")
    try:  # O_NOFOLLOW: a link made after the check is refused too
        fd = os.open(path, os.O_RDWR | os.O_CREAT | getattr(os, "O_NOFOLLOW", 0), 0o644)
    except OSError as e:
        raise RunError(f"{path}: cannot open the run lock: {e.strerror or e}") from None
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 4096, 0).decode(errors="replace").strip() or "another process"
            raise RunError(f"{out.root} is in use by another augment run ({holder}); wait for it to end "
                           f"or choose another --output") from None
        os.ftruncate(fd, 0)
        started = time.strftime("%Y-%m-%dT%H:%M:%S")
        os.pwrite(fd, f"pid {os.getpid()} on {socket.gethostname()}, started {started}\n".encode(), 0)
        yield
    finally:
        os.close(fd)  # releases the lock


def _run_locked(preset: Preset, opts: RunOptions, inputs: Store, out: Store, relpaths: list[str],
                unsupported: list[str], t0: float, progress: Callable[[dict], None] | None,
                on_start: Callable[[int], None] | None) -> RunSummary:
    """`run` once the output folder is locked."""
    if out.local:
        for name in (*OUTPUT_DIRS, J.PARTS, MANIFEST, ANNOTATIONS, J.HISTORY_DB):
            if (out.root / name).is_symlink():
                raise RunError(f"{out.root / name} is a symlink: the run writes only inside --output; "
                               f"remove the link or choose another --output")
        # a read-only, forbidden or full folder stops the run here, before any image is processed
        for folder in (out.root, *(out.root / d for d in OUTPUT_DIRS if (out.root / d).is_dir())):
            try:
                check_writable(folder)
            except OSError as e:
                raise RunError(f"{folder}: cannot write in the output folder: {e.strerror or e}") from None

    if opts.overwrite:
        _clear_outputs(out)
    J.migrate_legacy(out)
    with History.open(out, writable=True, compact_parts=opts.compact_parts) as history:
        if out.local:
            # the stale-temp sweep walks the folder only when it is not as a clean end left it (a
            # killed run, a crashed worker, a part added or removed by hand, a view missing)
            if history.get_meta(CLEAN_KEY) != _clean_stamp(out, history, preset):
                remove_stale_temps(out.root)
            history.set_meta(CLEAN_KEY, "")
        return _run_history(preset, opts, inputs, out, history, relpaths, unsupported, t0, progress, on_start)


PLAN_CHUNK = 2000    # inputs planned at a time (the first shards start after the first chunk)
CLEAN_KEY = "clean"  # history.db meta: the folder's stamp when the last run ended cleanly


def _clean_stamp(out: Store, history: History, preset: Preset) -> str:
    views_present = [n for n in (MANIFEST, ANNOTATIONS, "train.txt") if out.exists(n)]
    return json.dumps([history.stamp_parts(), history.get_meta(V.VIEWS_KEY), views_present])


def _run_history(preset: Preset, opts: RunOptions, inputs: Store, out: Store, history: History,
                 relpaths: list[str], unsupported: list[str], t0: float, progress: Callable[[dict], None] | None,
                 on_start: Callable[[int], None] | None) -> RunSummary:
    from .executors import make_executor

    run_no = history.next_run
    other = history.ok_presets() - {preset.sha256}
    if other:
        raise RunError(f"{opts.output_dir} holds results of a different preset or options; use --overwrite "
                       f"or another --output")
    executor = make_executor(opts.executor, workers=opts.workers, ray_address=opts.ray_address)
    # workers' writes are made durable once per shard (Store.sync before the part), not file by file
    ctx = J.ShardContext(preset, inputs, Store(out.url, defer_sync=True), retries=opts.retries)
    summary = RunSummary(executor=opts.executor)
    check = V.FileCheck(out)
    verified: set[str] = set()       # names whose files this run found or wrote
    overlay: dict[str, dict] = {}    # entries of shards that failed as a whole (no part): the views only
    planned: set[str] = set()        # --prune: every output name of the plan
    counts = {"jobs": 0, "todo": 0, "known_failed": 0}
    try:
        variants: dict[str, int] | int = preset.model.variants
        known: tuple[dict, dict] | None = None
        if opts.balance is not None:  # the allocation needs every input's class first
            known = _content_hashes(inputs, relpaths, history)
            variants = _balance(opts.balance, preset, relpaths, known[0], out, executor, ctx, summary)
        bases = J.output_bases(relpaths)

        def todo() -> Iterator[J.Job]:
            """The jobs to run, planned 2,000 inputs at a time while the first shards already run
            (content hashes, job ids, the history asked in batches). New and changed jobs go
            first; the files of the jobs the history says are done are checked after them."""
            done: list[tuple[J.Job, Rec]] = []
            for k in range(0, len(relpaths), PLAN_CHUNK):
                chunk = relpaths[k:k + PLAN_CHUNK]
                hashes, stats = known or _content_hashes(inputs, chunk, history)
                jobs = J.make_jobs(chunk, variants, hashes, preset.sha256, stats, bases)
                counts["jobs"] += len(jobs)
                if opts.prune:
                    planned.update(j.item_id for j in jobs)
                recs = history.get_many(j.item_id for j in jobs)
                for job in jobs:
                    r = recs.get(job.item_id)
                    same = r is not None and r.job == job.job_id
                    if same and r.status == "ok":
                        done.append((job, r))
                        continue
                    if same and opts.mode == "incremental" and r.status == "failed" and not _retryable(r.error):
                        counts["known_failed"] += 1
                        continue
                    counts["todo"] += 1
                    yield job
            for job, r in done:  # done before: made again only when a file is missing
                if check.all_exist(r.files):
                    verified.add(job.item_id)
                    continue
                counts["todo"] += 1
                yield job
            if on_start:
                on_start(counts["todo"])

        new: list[dict] = []
        for rel in unsupported:
            reason = odd_name(rel) or f"unsupported file type {Path(rel).suffix or '(none)'}"
            entry = {"id": rel, "source": rel, "status": "failed", "error": reason}
            if history.entry(rel) != entry:  # a resumed run does not repeat what the manifest says
                new.append(entry)
            summary.failed.append((rel, reason))
        if new:
            name = f"r{run_no:05d}-unsupported.jsonl"
            out.write_bytes(f"{J.PARTS}/{name}", J.to_lines(new))
            history.add_part(name, new)

        shards = J.iter_shards(todo(), max(1, opts.shard_size), run_no)
        n_variants = {rel: variants if isinstance(variants, int) else variants[rel] for rel in relpaths}
        failed_variants: dict[tuple[str, str], list[int]] = {}
        for shard, result in executor.run_shards(shards, ctx):
            if isinstance(result, J.OutputError):  # a full disk, a read-only folder: stop here
                raise RunError(f"cannot write the outputs: {result} (what is done is kept; "
                               f"the same command resumes)") from None
            written = not isinstance(result, BaseException)
            if not written:  # no part written: the next run does it again
                reason = f"shard failed: {type(result).__name__}: {result}".splitlines()[0]
                result = [{"id": j.item_id, "job": j.job_id, "source": j.relpath, "variant": j.variant,
                           "preset_sha256": preset.sha256, "status": "failed", "error": reason}
                          for j in shard.jobs]
            # the files an earlier entry of a re-made output had and the new one has not
            summary.replaced += _remove_replaced(out, history.get_many(e["id"] for e in result), result)
            if written:
                history.add_part(shard.part.rsplit("/", 1)[1], result)
            else:
                overlay.update((e["id"], e) for e in result)
            for entry in result:
                if entry["status"] == "ok":
                    summary.done += 1
                    verified.add(entry["id"])
                    _count_qa(summary, entry)
                else:
                    failed_variants.setdefault((entry["source"], entry["error"]), []).append(entry["variant"])
                if progress:
                    progress(entry)
        summary.startup_seconds = getattr(executor, "startup_seconds", 0.0)
        summary.total = counts["jobs"] + len(unsupported)
        summary.resumed = counts["jobs"] - counts["todo"] - counts["known_failed"]
        summary.known_failed = counts["known_failed"]
    finally:
        executor.close()
    if out.local and getattr(executor, "crashed", True):  # a worker killed mid-write left its temp file
        remove_stale_temps(out.root)
    # one line per file and reason: an unreadable file fails the same way in every variant
    for (source, error), vs in sorted(failed_variants.items()):
        which = "" if len(vs) == n_variants.get(source) else f" (variant {', '.join(map(str, sorted(vs)))})"
        summary.failed.append((source + which, error))

    try:
        if opts.prune:  # asked for: the folder becomes this run's plan
            summary.removed = _remove_unplanned(out, history, planned | set(unsupported), run_no)
        # one rule (docs/RELIABILITY.md): manifest.jsonl, annotations.json, layers.json, the YOLO
        # lists and `augment export` all describe the latest entry of every output name whose files
        # are on disk; no run removes an output it did not just replace (unless --prune)
        missing = V.missing_outputs(history, V.FileCheck(out), verified)
        V.write_views(out, history, preset, overlay, missing)
        summary.seconds = time.perf_counter() - t0
        _write_run_info(out, preset, opts, inputs, summary)
        if out.local:
            history.set_meta(CLEAN_KEY, _clean_stamp(out, history, preset))
    except OSError as e:
        raise RunError(f"cannot write the run's manifest and annotations: {e.filename or out.root}: "
                       f"{e.strerror or e}") from None
    return summary


RUN_INFO = "run.json"  # the last run's preset (its YAML) and input location, for `augment report`


def _write_run_info(out: Store, preset: Preset, opts: RunOptions, inputs: Store, summary: RunSummary) -> None:
    """Only what the run's outputs depend on (the same bytes from 1 or 2 workers, resumed or not);
    counts and times are in the manifest."""
    import yaml

    info = {"preset_path": str(preset.path), "preset_sha256": preset.sha256,
            "preset_yaml": yaml.safe_dump(preset.raw, sort_keys=False, allow_unicode=True),
            "input": inputs.location}
    out.write_bytes(RUN_INFO, json.dumps(info, indent=1).encode())


def _count_qa(summary: RunSummary, entry: dict) -> None:
    from .qa import verdict

    v = verdict(entry)
    summary.qa[v] = summary.qa.get(v, 0) + 1
    for f in (entry.get("qa") or {}).get("failed", []):
        if f["action"] == v != "keep":
            by = summary.qa_reasons.setdefault(v, {})
            by[f["check"]] = by.get(f["check"], 0) + 1


def _retryable(error: str) -> bool:
    return error.startswith(("internal error", "transient error", "shard failed"))


def _content_hashes(inputs: Store, relpaths: list[str], history: History) -> tuple[dict, dict]:
    """SHA-256 of every input; an input whose size and modification time match an earlier entry's
    keeps that entry's hash without being read (the history asked in batches)."""
    hashes, stats = {}, {}
    for k in range(0, len(relpaths), 2000):
        chunk = relpaths[k:k + 2000]
        known = history.known_hashes(chunk)
        for rel, st in inputs.input_stats(chunk).items():
            stats[rel] = st
            hashes[rel] = known.get((rel, st)) or inputs.input_sha256(rel)
    return hashes, stats


def _balance(spec: Any, preset: Preset, relpaths: list[str], hashes: dict, out: Store, executor: Any,
             ctx: J.ShardContext, summary: RunSummary) -> dict[str, int]:
    """Variants per input from the inputs' classes (cached by content hash in balance-labels.json)."""
    from . import balance as B

    key = B.labels_key(preset)
    cache: dict[str, Any] = json.loads(out.read_bytes(B.LABELS_FILE)) if out.exists(B.LABELS_FILE) else {}
    missing = [r for r in relpaths if f"{key}:{hashes[r]}" not in cache]
    chunks = [missing[i:i + 16] for i in range(0, len(missing), 16)]
    for got in executor.map(J.label_sources, chunks, ctx):
        for rel, cid in got.items():
            cache[f"{key}:{hashes[rel]}"] = cid
    if missing:
        out.write_bytes(B.LABELS_FILE, json.dumps(cache, sort_keys=True).encode())
    labels = {r: cache[f"{key}:{hashes[r]}"] for r in relpaths}
    variants = B.allocate(labels, spec, preset.model.variants)
    summary.classes_before = B.counts(labels, 1)
    summary.classes_after = B.counts(labels, variants)
    return variants


def _remove_replaced(out: Store, before: dict[str, Rec], entries: list[dict]) -> int:
    """Files an earlier entry of a re-made output had and the new one has not (a changed input
    with fewer instances); returns how many outputs were replaced."""
    n = 0
    for new in entries:
        old = before.get(new["id"])
        if old is None or old.status != "ok" or old.job == J.entry_job_id(new):
            continue
        n += 1
        keep = set(J.output_files(new)) if new.get("status") == "ok" else set()
        for rel in set(old.files) - keep:
            try:
                out.remove(rel)
            except UnsafePath:  # a tampered part names a path outside the run: never followed
                continue
    return n


def _remove_unplanned(out: Store, history: History, planned: set[str], run_no: int) -> int:
    """--prune: the folder becomes this run's plan. Outputs of earlier runs the plan does not have
    (another batch, an input gone from the input folder, a lower --balance target) lose their
    files, then a removal entry in `parts/rNNNNN-removed.jsonl` takes them out of the history
    (files first: a run killed in between removes them again). Returns how many."""
    gone = [k for k in history.names() if k not in planned]
    for k in range(0, len(gone), 2000):
        for rec in history.get_many(gone[k:k + 2000]).values():
            for rel in rec.files:
                try:
                    out.remove(rel)
                except UnsafePath:  # a tampered part names a path outside the run: never followed
                    continue
    if gone:
        name = f"r{run_no:05d}-{J.REMOVED}.jsonl"
        removed = [{"id": k, "status": J.REMOVED, "reason": "pruned: not in the plan of the run"} for k in gone]
        out.write_bytes(f"{J.PARTS}/{name}", J.to_lines(removed))
        history.add_part(name, removed)
    return len(gone)


def _clear_outputs(out: Store) -> None:
    """Remove what an earlier run wrote (only our own files and folders)."""
    from .balance import LABELS_FILE

    for name in OUTPUT_DIRS:
        out.remove_tree(name)
    for name in (MANIFEST, ANNOTATIONS, LAYER_ANNOTATIONS, "dataset.yaml", "train.txt", "val.txt", LABELS_FILE,
                 FLAGGED, RUN_INFO, J.HISTORY_DB, J.HISTORY_DB + "-journal"):
        out.remove(name)
