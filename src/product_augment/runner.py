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

import json
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from . import jobs as J
from . import views as V
from .executors import default_workers, make_executor
from .history import COMPACT_PARTS, History
from .io import SUPPORTED_SUFFIXES, check_writable, odd_name, remove_stale_temps
from .jobs.layout import ANNOTATIONS, HISTORY_DB, MANIFEST, OUTPUT_DIRS
from .labels import balance_variants
from .presets.loader import Preset, load_preset
from .runfolder import RunError, clear_outputs, output_lock, remove_replaced, remove_unplanned, write_run_info
from .storage import Store

MODES = ("resume", "incremental")


@dataclass(frozen=True)
class RunOptions:
    """Where and how to run; what to make (seed, variants, formats) is the preset's alone (the CLI
    folds its --seed/--variants/--format into the preset when it loads it)."""

    input_dir: Path | str          # a folder, one image, or an fsspec URL (s3://, gs://, memory://)
    output_dir: Path | str
    workers: int | None = 1        # worker processes; None: what fits the job (`default_workers`)
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


def _workers(opts: RunOptions, preset: Preset, n_inputs: int) -> int | None:
    """`opts.workers`, or the default for this many inputs × the preset's variants (before resume;
    Ray's local instance takes every core)."""
    if opts.workers is not None or opts.executor != "local":
        return opts.workers
    return default_workers(n_inputs * preset.model.variants)


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


@dataclass(frozen=True)
class Plan:
    """What a run would make, before resume: every job (input × variant, `--balance`'s variants
    applied) and the unsupported files."""

    inputs: list[str]
    jobs: list[J.Job]
    unsupported: list[str]
    classes_before: dict[str, int] | None = None   # balancing: input images per class
    classes_after: dict[str, int] | None = None    # balancing: output images per class


def plan(preset: Preset, opts: RunOptions) -> Plan:
    """The plan of a run (`--dry-run`): the jobs `run` would start from, made by the same steps
    (inputs after --limit, content hashes, `--balance`'s variants from the inputs' classes, output
    names and job ids). Writes nothing: the history is only read, and classes missing from the
    labels cache are found (the segmenter runs) but not cached. Raises RunError as `run` does."""
    inputs, out, relpaths, unsupported = _inputs(preset, opts)
    with History.open(out, writable=False) as history:
        hashes, stats = history.content_hashes(inputs, relpaths)
    variants: dict[str, int] | int = preset.model.variants
    before = after = None
    if opts.balance is not None:
        try:
            J.worker_pipeline(preset)
        except (ValueError, OSError) as e:
            raise RunError(f"{preset.path}: cannot build the pipeline: {e}") from None
        executor = make_executor(opts.executor, workers=_workers(opts, preset, len(relpaths)),
                                 ray_address=opts.ray_address)
        try:
            ctx = J.ShardContext(preset, inputs, out, retries=opts.retries)
            variants, before, after = balance_variants(opts.balance, preset, relpaths, hashes, out, executor, ctx,
                                                       cache=False)
        finally:
            executor.close()
    return Plan(relpaths, J.make_jobs(relpaths, variants, hashes, preset.sha256, stats), unsupported, before, after)


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


def _run_locked(preset: Preset, opts: RunOptions, inputs: Store, out: Store, relpaths: list[str],
                unsupported: list[str], t0: float, progress: Callable[[dict], None] | None,
                on_start: Callable[[int], None] | None) -> RunSummary:
    """`run` once the output folder is locked."""
    if out.local:
        for name in (*OUTPUT_DIRS, J.PARTS, MANIFEST, ANNOTATIONS, HISTORY_DB):
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
        clear_outputs(out)
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
    run_no = history.next_run
    other = history.ok_presets() - {preset.sha256}
    if other:
        raise RunError(f"{opts.output_dir} holds results of a different preset or options; use --overwrite "
                       f"or another --output")
    executor = make_executor(opts.executor, workers=_workers(opts, preset, len(relpaths)), ray_address=opts.ray_address)
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
            known = history.content_hashes(inputs, relpaths)
            variants, summary.classes_before, summary.classes_after = balance_variants(
                opts.balance, preset, relpaths, known[0], out, executor, ctx)
        bases = J.output_bases(relpaths)

        def todo() -> Iterator[J.Job | object]:
            """The jobs to run, planned 2,000 inputs at a time while the first shards already run
            (content hashes, job ids, the history asked in batches). Inputs the history has never
            seen are planned first (a night's new photos behind a large catalogue start at once),
            then the others; new and changed jobs go first, and the files of the jobs the history
            says are done are checked after them. A done job is kept as (input, variant, name, its
            files' JSON), ≈ 0.2 KB, not as its Job and record (≈ 1.1 KB): at a million inputs
            that is the main process's largest cost; the rare one whose files are gone is planned again."""
            done: list[tuple[str, int, str, str]] = []

            def plan(group: list[str]) -> Iterator[J.Job]:
                for k in range(0, len(group), PLAN_CHUNK):
                    chunk = group[k:k + PLAN_CHUNK]
                    hashes, stats = known or history.content_hashes(inputs, chunk)
                    jobs = J.make_jobs(chunk, variants, hashes, preset.sha256, stats, bases)
                    counts["jobs"] += len(jobs)
                    if opts.prune:
                        planned.update(j.item_id for j in jobs)
                    recs = history.get_many(j.item_id for j in jobs)
                    for job in jobs:
                        r = recs.get(job.item_id)
                        same = r is not None and r.job == job.job_id
                        if same and r.status == "ok":
                            done.append((job.relpath, job.variant, job.item_id, r.files_json))
                            continue
                        if same and opts.mode == "incremental" and r.status == "failed" and not _retryable(r.error):
                            counts["known_failed"] += 1
                            continue
                        counts["todo"] += 1
                        yield job

            order, unseen = (relpaths, 0) if known is not None else history.unseen_first(relpaths)
            if unseen:  # the new inputs' jobs, then their last shard at once (not when it would fill)
                yield from plan(order[:unseen])
                yield J.FLUSH
            yield from plan(order[unseen:])
            for rel, variant, item_id, files_json in done:  # done before: made again only when a file is missing
                if check.all_exist(json.loads(files_json)):
                    verified.add(item_id)
                    continue
                counts["todo"] += 1
                hashes, stats = known or history.content_hashes(inputs, [rel])
                yield J.make_jobs([rel], variants, hashes, preset.sha256, stats, bases)[variant]
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
            summary.replaced += remove_replaced(out, history.get_many(e["id"] for e in result), result)
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
            summary.removed = remove_unplanned(out, history, planned | set(unsupported), run_no)
        # one rule (docs/RELIABILITY.md): manifest.jsonl, annotations.json, layers.json, the YOLO
        # lists and `augment export` all describe the latest entry of every output name whose files
        # are on disk; no run removes an output it did not just replace (unless --prune)
        missing = V.missing_outputs(history, V.FileCheck(out), verified)
        V.write_views(out, history, preset, overlay, missing)
        summary.seconds = time.perf_counter() - t0
        write_run_info(out, preset, inputs)
        if out.local:
            history.set_meta(CLEAN_KEY, _clean_stamp(out, history, preset))
    except OSError as e:
        raise RunError(f"cannot write the run's manifest and annotations: {e.filename or out.root}: "
                       f"{e.strerror or e}") from None
    return summary


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
