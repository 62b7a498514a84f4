"""The worker side: a shard run in one process, the same way by every executor.

`process_shard` reads each input once, runs the pipeline's batch hooks (`Pipeline.prepare`: the
segmenter's one model call for a group of images) unless an executor's model stage made their
results already, runs the pipeline per job, writes every output atomically under its fixed name
(`outputs.write_outputs`), and writes the shard's manifest part last, atomically. Running a shard
again rewrites the same bytes under the same names. Nothing here knows a step's class.
"""
from __future__ import annotations

import os
import time
import traceback
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..api import Augmenter
from ..io import ImageReadError
from ..pipeline import Pipeline, SampleError
from ..presets.loader import Preset
from ..qa import Inspector, QAConfig
from ..qa.risk import load as load_risk
from ..storage import Store, UnsafePath
from ..threads import limit_threads
from .errors import FAIL_ONCE_ENV, TRANSIENT, OutputError, TransientError, output_error
from .outputs import write_outputs
from .parts import to_lines
from .shards import Job, Shard


@dataclass(frozen=True)
class ShardContext:
    """What a shard needs besides its jobs; pickles small (the preset as its YAML, stores as URLs)."""

    preset: Preset
    inputs: Store
    outputs: Store
    retries: int = 2
    batch: bool = True    # run the batch hooks for a group of a shard's images at once


# this process's pipeline, built once per preset (a pool worker's, or the main process's for
# `--workers 1`), and whether its threads are limited for good
_WORKER: dict[str, Any] = {}


def qa_config(preset: Preset) -> QAConfig:
    """The preset's `qa:` with its `risk_model` resolved against the preset's folder, as every path."""
    qa = preset.model.qa
    return qa if qa.risk_model is None else qa.model_copy(update={"risk_model": str(preset.resolve(qa.risk_model))})


def worker_pipeline(preset: Preset) -> tuple[Pipeline, Any]:
    """(pipeline, its first step with a batch hook or None), built once per process and preset; the
    quality gate's risk model is read here too, so a missing or malformed one stops the run before
    any work (ValueError naming the file)."""
    key = (preset.sha256, str(preset.path))
    if _WORKER.get("key") != key:
        pipe = preset.build_pipeline()
        qa = qa_config(preset)
        if qa.max_defect_risk is not None:
            load_risk(qa.risk_model)
        _WORKER.update(key=key, pipeline=pipe, batched=next(iter(pipe.batched), None))
    return _WORKER["pipeline"], _WORKER["batched"]


def reset_worker() -> None:
    """Forget this process's pipeline (a run in the main process builds its own, as before)."""
    for k in ("key", "pipeline", "batched"):
        _WORKER.pop(k, None)


def limit_worker_threads() -> None:
    """One thread per numeric library for this process's whole life (see threads.limit_threads)."""
    if not _WORKER.get("limited"):
        limit_threads()
        _WORKER["limited"] = True


def batch_devices(preset: Preset) -> list[str]:
    """Where the pipeline's batch hooks want to run (`cpu`, `cuda`, `auto`; one per hooked step),
    empty when it has none: an executor gives them a model stage of their own (Ray's actors)."""
    pipe, _ = worker_pipeline(preset)
    return [getattr(s, "device", "cpu") for s in pipe.batched]


def _fault_hook(job: Job) -> None:
    """Tests: a marker file named after the job in $PRODUCT_AUGMENT_FAIL_ONCE makes its first attempt
    fail (content 'crash': the worker process dies), then the marker is gone."""
    root = os.environ.get(FAIL_ONCE_ENV)
    if not root:
        return
    marker = Path(root) / job.item_id.replace("/", "%")
    try:
        how = marker.read_bytes()
        marker.unlink()
    except FileNotFoundError:
        return
    if how.strip() == b"crash":
        os._exit(17)
    raise TransientError(f"injected failure of {job.item_id}")


def read_sources(ctx: ShardContext, rels: Iterable[str]) -> dict[str, Any]:
    """Decoded inputs (rgb, alpha), or the exception that reading one raised."""
    images: dict[str, Any] = {}
    for rel in rels:
        for attempt in range(ctx.retries + 1):
            try:
                images[rel] = ctx.inputs.read_input(rel, ctx.preset.model.input.max_side)
                break
            except ImageReadError as e:
                images[rel] = e
                break
            except TRANSIENT as e:
                images[rel] = e
    return images


def prepare_sources(ctx: ShardContext, rels: Iterable[str],
                    images: dict[str, Any] | None = None) -> dict[str, dict[int, Any]] | None:
    """The model stage: each readable input's results of the pipeline's batch hooks (by relative
    path), from one call for them all; None when the pipeline has no batch hook."""
    pipe, _ = worker_pipeline(ctx.preset)
    if not pipe.batched:
        return None
    rels = list(rels)
    images = read_sources(ctx, rels) if images is None else images
    ok = [r for r in rels if isinstance(images.get(r), tuple)]
    return dict(zip(ok, pipe.prepare([images[r][0] for r in ok]))) if ok else {}


BATCH_PIXELS = 48_000_000  # a shard's inputs are decoded and prepared in groups up to this many pixels
BATCH_IMAGES = 32          # ... or this many images


def process_shard(shard: Shard, ctx: ShardContext, prepared: Mapping[str, Mapping[int, Any]] | None = None
                  ) -> list[dict]:
    """Run every job of a shard and write its part last; the same result however often it runs.

    `prepared` is what an executor's model stage made for the shard's inputs (`prepare_sources`);
    without it the batch hooks run here, one call per group of inputs."""
    pipe, _ = worker_pipeline(ctx.preset)
    entries: list[dict] = []
    told: set[str] = set()  # inputs whose batched call's time a variant already counts
    for rels, images in _groups(shard, ctx):
        ready = prepared
        if ready is None and ctx.batch and pipe.batched:
            try:
                ready = prepare_sources(ctx, rels, images)
            except Exception:  # noqa: BLE001 - each job then runs (and reports) on its own
                ready = None
        qa_cache: dict = {}  # an input's segment signals, measured once for all its variants
        for job in shard.jobs:
            if job.relpath in images:
                entries.append(run_job(job, images, pipe, ctx, qa_cache, (ready or {}).get(job.relpath),
                                       first=job.relpath not in told))
                told.add(job.relpath)
    try:  # the shard's files made durable at once (one syncfs, no fsync per file), then its part
        ctx.outputs.sync()
        ctx.outputs.write_bytes(shard.part, to_lines(entries))
    except OSError as e:
        fatal = output_error(e)
        if fatal is not None:
            raise fatal from None
        raise TransientError(f"cannot write {shard.part}: {e}") from e
    return entries


def _groups(shard: Shard, ctx: ShardContext):
    """(sources, decoded images) of consecutive inputs, up to BATCH_PIXELS / BATCH_IMAGES at a time
    (memory stays bounded whatever the shard size and the input sizes)."""
    rels, images, pixels = [], {}, 0
    for rel in shard.sources:
        images.update(read_sources(ctx, [rel]))
        rels.append(rel)
        img = images[rel]
        pixels += img[0].shape[0] * img[0].shape[1] if isinstance(img, tuple) else 0
        if pixels >= BATCH_PIXELS or len(rels) >= BATCH_IMAGES:
            yield rels, images
            rels, images, pixels = [], {}, 0
    if rels:
        yield rels, images



def run_job(job: Job, images: dict[str, Any], pipe: Pipeline, ctx: ShardContext, qa_cache: dict | None = None,
            prepared: Mapping[int, Any] | None = None, first: bool = True) -> dict:
    """One job's outputs and manifest entry. `prepared`: its input's results of the pipeline's batch
    hooks; `first`: whether this is the first of the input's variants here (the batched call's
    time is counted once, in its timings)."""
    preset = ctx.preset
    t0 = time.perf_counter()
    entry: dict[str, Any] = {"id": job.item_id, "job": job.job_id, "source": job.relpath,
                             "variant": job.variant, "preset_sha256": preset.sha256,
                             "seed": preset.model.seed, "source_sha256": job.source_sha256,
                             "source_stat": job.source_stat}
    attempt = 0
    while True:
        attempt += 1
        try:
            _fault_hook(job)
            img = images.get(job.relpath)
            if not isinstance(img, tuple):  # unreadable, or a transient read error: read it again
                if isinstance(img, ImageReadError):
                    raise img
                img = images[job.relpath] = ctx.inputs.read_input(job.relpath, preset.model.input.max_side)
            rgb, alpha = img
            timings: dict[str, float] = {}
            inspector = Inspector(qa_config(preset), qa_cache, (job.relpath, job.source_sha256))
            # the public API's one way in (api.Augmenter), on this worker's pipeline
            sample = Augmenter(preset, pipeline=pipe)(rgb, alpha=alpha, seed=preset.model.seed, key=job.relpath,
                                                      variant=job.variant, timings=timings,
                                                      observe=inspector.observe, prepared=prepared).sample
            qa = inspector.finish(sample)
            timings["qa"] = round(inspector.seconds, 4)
            for name, secs in (sample.meta.get("batch_seconds") or {}).items() if first else ():
                # the step's model ran before the pipeline, in the shard's batched call
                timings[name] = round(timings.get(name, 0.0) + secs, 4)
                entry[f"{name}_batch_seconds"] = secs
            entry["step_seconds"] = timings
            t_write = time.perf_counter()
            entry.update(write_outputs(job, sample, preset, ctx.outputs, qa))
            timings["write"] = round(time.perf_counter() - t_write, 4)
            entry["qa"] = qa
            entry["status"] = "ok"
        except (ImageReadError, SampleError) as e:
            entry.update(status="failed", error=str(e))
        except UnsafePath as e:  # a symlink inside the output folder: every job would meet it
            raise OutputError(str(e)) from None
        except TRANSIENT as e:
            if isinstance(e, OSError) and (fatal := output_error(e)) is not None:
                raise fatal from None
            if attempt <= ctx.retries:
                continue
            entry.update(status="failed", error=f"transient error after {attempt} attempts: "
                                                f"{type(e).__name__}: {e}")
        except Exception as e:  # noqa: BLE001 - a bug: reported with its traceback, the batch goes on
            entry.update(status="failed", error=f"internal error: {type(e).__name__}: {e}",
                         traceback=traceback.format_exc(limit=8))
        break
    if attempt > 1:
        entry["attempts"] = attempt
    batched = sum(v for k, v in entry.items() if k.endswith("_batch_seconds"))
    entry["seconds"] = round(time.perf_counter() - t0 + batched, 4)
    return entry
