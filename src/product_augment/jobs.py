"""Jobs, shards and manifest parts: the unit of work every executor runs the same way.

* A **job** is one (input, variant): output name `<relpath without suffix>__vNN` and a stable id,
  `job_id(relpath, content SHA-256, preset SHA-256, variant)`. The same input bytes under the same
  preset give the same id (and the same pictures) on every machine.
* A **shard** is a list of jobs (all the variants of a few inputs together). `process_shard` runs
  it: reads each input once, segments the shard's images in one batched model call (or takes the
  segmentation an executor's model stage made), runs the pipeline per job, writes every output
  atomically under its fixed name, and writes the shard's **manifest part**
  (`parts/rNNNNN-<shard id>.jsonl`, one entry per job) last, atomically: a part exists only when
  its shard is complete. Running a shard again rewrites the same bytes under the same names.
* The run's history is the parts in name order (the run number first), preceded by the single
  `manifest.jsonl` of runs made before parts existed (migrated once into `parts/r00000-legacy.jsonl`).
  The latest entry of an output name wins; `manifest.jsonl` is rewritten at the end of each run as
  that merged view (one line per output name).
"""
from __future__ import annotations

import errno
import hashlib
import json
import os
import re
import time
import traceback
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from . import __version__
from .annotations import mask_to_rle, yolo_seg_lines
from .api import Augmenter
from .io import ImageReadError, encode_image, encode_mask, path_suffix
from .pipeline import SampleError
from .presets.loader import Preset
from .qa import Inspector
from .sample import Sample, mask_box
from .storage import Store, UnsafePath

PARTS = "parts"
REJECTED = "rejected"   # outputs the quality gate rejected: the same layout, out of the dataset
MANIFEST = "manifest.jsonl"
LEGACY_PART = f"{PARTS}/r00000-legacy.jsonl"
HISTORY_DB = f"{PARTS}/history.db"  # the compacted history (history.py), beside the parts it replaces
PART_RE = re.compile(r"^r(\d{5})-([0-9a-z-]+)\.jsonl$")
FAIL_ONCE_ENV = "PRODUCT_AUGMENT_FAIL_ONCE"  # fault injection for tests: a folder of marker files


class TransientError(Exception):
    """A failure worth retrying (I/O hiccup, lost connection, a worker that went away)."""


# exceptions a job retries before it is recorded as failed; ImageReadError / SampleError are the
# input's own fault and never retried (they would fail the same way)
TRANSIENT = (TransientError, TimeoutError, ConnectionError, OSError)
# output-side errors no retry mends (a full disk, a read-only or forbidden folder): they stop the run
FATAL_ERRNOS = (errno.ENOSPC, errno.EROFS, errno.EACCES, errno.EPERM, errno.EDQUOT, errno.ENOTDIR, errno.EISDIR)


class OutputError(Exception):
    """Writing the run's outputs failed in a way that retrying cannot mend; the run stops."""


def output_error(e: OSError) -> OutputError | None:
    """The run-stopping form of `e`, when it is an output-side error no retry mends."""
    if e.errno not in FATAL_ERRNOS:
        return None
    where = e.filename or "the output folder"
    return OutputError(f"{where}: {e.strerror or e}")


def job_id(relpath: str, source_sha256: str, preset_sha256: str, variant: int) -> str:
    h = hashlib.blake2b(digest_size=12)
    for part in (relpath, source_sha256, preset_sha256, str(int(variant))):
        h.update(part.encode("utf-8") + b"\0")
    return h.hexdigest()


@dataclass(frozen=True)
class Job:
    item_id: str          # output base name: "<relpath without suffix>__vNN"
    relpath: str
    variant: int
    source_sha256: str
    job_id: str
    source_stat: str = ""  # size and modification time when planned (a later run's cheap change check)


def output_bases(relpaths: list[str]) -> dict[str, str]:
    """Deterministic output base names, one per input and all distinct (linear in the inputs).

    An input's name without its suffix; inputs differing only by suffix keep it in their name
    (``x.jpg`` → ``x_jpg``); a name that still collides with another input's (``x.jpg`` → ``x_jpg``
    beside ``x_jpg.webp``) gets 8 hex digits of a hash of its relative path. Names are compared
    ignoring case (``X.jpg`` and ``x.png`` would share a file on a case-insensitive disk).
    """
    bases = [r[: len(r) - len(path_suffix(r))] for r in relpaths]  # Path.with_suffix(""), as strings
    counts = Counter(b.casefold() for b in bases)
    names = {rel: (rel.replace(".", "_") if counts[base.casefold()] > 1 else base)
             for rel, base in zip(relpaths, bases)}
    taken = Counter(n.casefold() for n in names.values())
    for rel, base in zip(relpaths, bases):
        if taken[names[rel].casefold()] > 1 and names[rel] != base:
            names[rel] = f"{names[rel]}_{hashlib.sha1(rel.encode()).hexdigest()[:8]}"
    if len({n.casefold() for n in names.values()}) != len(names):  # pragma: no cover - a hash collision
        raise ValueError("output names collide; rename the inputs")
    return names


def make_jobs(relpaths: list[str], variants: Mapping[str, int] | int, hashes: Mapping[str, str],
              preset_sha256: str, stats: Mapping[str, str] | None = None,
              bases: Mapping[str, str] | None = None) -> list[Job]:
    """Every (input, variant) as a job, inputs in the given order, variants ascending. `bases`: the
    output names of all the run's inputs (`output_bases`), when `relpaths` is a part of them."""
    bases = output_bases(relpaths) if bases is None else bases
    jobs = []
    for rel in relpaths:
        n = variants if isinstance(variants, int) else variants[rel]
        sha = hashes[rel]
        st = (stats or {}).get(rel, "")
        jobs += [Job(f"{bases[rel]}__v{v:02d}", rel, v, sha, job_id(rel, sha, preset_sha256, v), st)
                 for v in range(n)]
    return jobs


@dataclass(frozen=True)
class Shard:
    run: int
    jobs: tuple[Job, ...]

    @property
    def shard_id(self) -> str:
        h = hashlib.blake2b(digest_size=10)
        for j in self.jobs:
            h.update(j.job_id.encode() + b"\0")
        return h.hexdigest()

    @property
    def part(self) -> str:
        return f"{PARTS}/r{self.run:05d}-{self.shard_id}.jsonl"

    @property
    def sources(self) -> list[str]:
        return list(dict.fromkeys(j.relpath for j in self.jobs))


def make_shards(jobs: Iterable[Job], size: int, run: int) -> list[Shard]:
    """Consecutive jobs in shards of about `size`; the variants of one input stay together (so its
    image is read and segmented once) unless it alone has more than `size`."""
    return list(iter_shards(jobs, size, run))


def iter_shards(jobs: Iterable[Job], size: int, run: int) -> Iterator[Shard]:
    """`make_shards` as a stream: each shard as soon as its jobs are known (the same shards)."""
    cur: list[Job] = []
    for j in jobs:
        if cur and len(cur) >= size and (j.relpath != cur[-1].relpath or len(cur) >= 2 * size):
            yield Shard(run, tuple(cur))
            cur = []
        cur.append(j)
    if cur:
        yield Shard(run, tuple(cur))


# ---------------------------------------------------------------- history (parts)

def parse_lines(data: bytes) -> list[dict]:
    out = []
    for line in data.decode("utf-8", errors="replace").splitlines():
        try:
            out.append(json.loads(line))
        except json.JSONDecodeError:
            continue
    return out


def to_lines(entries: Iterable[dict]) -> bytes:
    return b"".join(json.dumps(e, separators=(",", ":")).encode() + b"\n" for e in entries)


def part_names(out: Store) -> list[str]:
    return [n for n in out.listdir(PARTS) if PART_RE.match(n)]


def migrate_legacy(out: Store) -> bool:
    """An output folder of the one-file manifest era: its `manifest.jsonl` (a torn last line dropped)
    becomes the first part. Returns whether there was one."""
    if part_names(out) or not out.exists(MANIFEST) or out.exists(HISTORY_DB):
        return False
    data = out.read_bytes(MANIFEST)
    if data and not data.endswith(b"\n"):
        data = data[: data.rfind(b"\n") + 1]
    out.write_bytes(LEGACY_PART, to_lines(parse_lines(data)))
    return True


def entry_job_id(e: dict) -> str | None:
    """The job an entry belongs to (computed for legacy entries, which did not record it)."""
    if "job" in e:
        return e["job"]
    if all(k in e for k in ("source", "source_sha256", "preset_sha256", "variant")):
        return job_id(e["source"], e["source_sha256"], e["preset_sha256"], e["variant"])
    return None


REMOVED = "removed"  # the status of an entry that takes an output out of the folder (runner: --prune)


def latest_entries(entries: Iterable[dict]) -> dict[str, dict]:
    """The latest entry of each output name, in history order; a name whose latest entry is a
    removal (`status: removed`) is gone."""
    latest: dict[str, dict] = {}
    for e in entries:
        if e.get("status") == REMOVED:
            latest.pop(e["id"], None)
        else:
            latest[e["id"]] = e
    return latest


def on_disk(out: Store, latest: Mapping[str, dict], keep_unsafe: bool = False) -> dict[str, dict]:
    """The views' rule: the latest entries, less the `ok` ones whose files are not all on disk (a
    user removed them); failed entries have no files and stay. An entry naming a path outside the
    run counts as missing, or is kept with `keep_unsafe` (for a check that reports it)."""
    def present(e: dict) -> bool:
        try:
            return all(out.exists(p) for p in output_files(e) if out.inside(p) is not None)
        except UnsafePath:
            return keep_unsafe

    return {k: e for k, e in latest.items() if e.get("status") != "ok" or present(e)}


def output_files(entry: dict) -> list[str]:
    o = entry.get("outputs") or {}
    paths = [o.get("image"), *o.get("masks", []), *o.get("layers", {}).values()]
    for key in ("label", "reasons"):
        if key in o:
            paths.append(o[key])
    return [p for p in paths if p]


def files_exist(out: Store, entry: dict) -> bool:
    """Whether every file of an entry is there (a path outside the run counts as missing)."""
    o = entry.get("outputs") or {}
    try:
        return bool(o.get("image")) and all(out.inside(p) is not None and out.exists(p) for p in output_files(entry))
    except UnsafePath:
        return False


# ---------------------------------------------------------------- worker side

@dataclass(frozen=True)
class ShardContext:
    """What a shard needs besides its jobs; pickles small (the preset as its YAML, stores as URLs)."""

    preset: Preset
    inputs: Store
    outputs: Store
    retries: int = 2
    batch: bool = True    # segment a shard's images in one model call


_WORKER: dict[str, Any] = {}


def worker_pipeline(preset: Preset) -> tuple[Any, Any]:
    """(pipeline, its YolactSegment step or None), built once per process and preset."""
    key = (preset.sha256, str(preset.path))
    if _WORKER.get("key") != key:
        from .steps.segment import YolactSegment

        pipe = preset.build_pipeline()
        seg = next((s for s in pipe.steps if isinstance(s, YolactSegment)), None)
        _WORKER.update(key=key, pipeline=pipe, segment=seg)
    return _WORKER["pipeline"], _WORKER["segment"]


def reset_worker() -> None:
    """Forget this process's pipeline (a run in the main process builds its own, as before)."""
    for k in ("key", "pipeline", "segment"):
        _WORKER.pop(k, None)


def limit_worker_threads() -> None:
    """One thread per numeric library for this process's whole life (see runner.limit_threads)."""
    if not _WORKER.get("limited"):
        from .runner import limit_threads

        limit_threads()
        _WORKER["limited"] = True


def needs_model(preset: Preset) -> bool:
    from .steps.segment import YolactConfig

    return any(name == "segment" and isinstance(cfg, YolactConfig) for name, cfg in preset.step_configs)


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


def segment_sources(ctx: ShardContext, rels: Iterable[str], images: dict[str, Any] | None = None):
    """The model stage: (results by image key, models meta, seconds by image key) for the shard's
    readable inputs, from one batched call; (None, None, None) when the preset has no model."""
    _, seg = worker_pipeline(ctx.preset)
    if seg is None:
        return None, None, None
    images = read_sources(ctx, rels) if images is None else images
    ok = [v[0] for v in images.values() if isinstance(v, tuple)]
    if not ok:
        return {}, None, None
    return seg.segment_batch(ok), seg.models_meta(), dict(seg.batch_seconds)


BATCH_PIXELS = 48_000_000  # a shard's inputs are decoded and segmented in groups up to this many pixels
BATCH_IMAGES = 32          # ... or this many images


def process_shard(shard: Shard, ctx: ShardContext, segmentation: tuple | None = None) -> list[dict]:
    """Run every job of a shard and write its part last; the same result however often it runs.

    `segmentation` is what an executor's model stage made for the shard (`segment_sources`);
    without it the shard's images are segmented here, one batched call per group of inputs."""
    pipe, seg = worker_pipeline(ctx.preset)
    entries: list[dict] = []
    if seg is not None and segmentation is not None:
        seg.preload(*segmentation)
    try:
        for rels, images in _groups(shard, ctx):
            if seg is not None and segmentation is None and ctx.batch:
                try:
                    seg.preload(*segment_sources(ctx, rels, images))
                except Exception:  # noqa: BLE001 - each job then segments (and reports) on its own
                    seg.preload(None)
            qa_cache: dict = {}  # an input's segment signals, measured once for all its variants
            entries += [run_job(job, images, pipe, ctx, qa_cache) for job in shard.jobs if job.relpath in images]
    finally:
        if seg is not None:
            seg.preload(None)
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


def run_job(job: Job, images: dict[str, Any], pipe: Any, ctx: ShardContext, qa_cache: dict | None = None) -> dict:
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
            inspector = Inspector(preset.model.qa, qa_cache, (job.relpath, job.source_sha256))
            # the public API's one way in (api.Augmenter), on this worker's pipeline
            sample = Augmenter(preset, pipeline=pipe)(rgb, alpha=alpha, seed=preset.model.seed, key=job.relpath,
                                                      variant=job.variant, timings=timings,
                                                      observe=inspector.observe).sample
            qa = inspector.finish(sample)
            timings["qa"] = round(inspector.seconds, 4)
            batched = sample.meta.get("segment_batch_seconds")
            if batched:  # the model ran before the pipeline, in the shard's batched call
                timings["segment"] = round(timings.get("segment", 0.0) + batched, 4)
                entry["segment_batch_seconds"] = batched
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
    entry["seconds"] = round(time.perf_counter() - t0 + entry.get("segment_batch_seconds", 0.0), 4)
    return entry


def write_outputs(job: Job, sample: Sample, preset: Preset, out: Store, qa: dict | None = None) -> dict:
    """Every file of a job's output; a rejected one (`qa` verdict `reject`) goes under `rejected/`
    (the same layout) with `rejected/reasons/<id>.json` (its failed checks and signals)."""
    opts = preset.model.output
    formats = opts.annotations
    fmt = "png" if sample.output_alpha is not None and opts.format == "jpg" else opts.format
    root = REJECTED + "/" if qa is not None and qa.get("verdict") == "reject" else ""
    image_rel = f"{root}images/{job.item_id}.{fmt}"
    out.write_bytes(image_rel, encode_image(sample.image, sample.output_alpha, fmt, opts.quality))
    h, w = sample.image.shape[:2]
    instances, mask_rels = [], []
    for j, inst in enumerate(sample.instances):
        rel = f"{root}masks/{job.item_id}__i{j}.png"
        out.write_bytes(rel, encode_mask(inst.mask))
        mask_rels.append(rel)
        instances.append({"class_id": int(inst.class_id), "score": round(float(inst.score), 4),
                          "box": [float(v) for v in inst.box], "mask": rel, "rle": mask_to_rle(inst.mask),
                          **({"backdrop": True} if inst.backdrop else {})})
    layers, layer_rles, layer_boxes = {}, {}, {}
    for name in opts.layers:
        matte = sample.layers.get(name)
        if matte is None:
            continue
        rel = f"{root}layers/{job.item_id}__{name}.png"
        out.write_bytes(rel, encode_mask(matte))
        layers[name] = rel
        binary = matte > 0.5 if name == "logo" else matte > 0.1
        if binary.any():
            layer_rles[name] = mask_to_rle(binary)
            layer_boxes[name] = list(mask_box(binary))
    outputs: dict[str, Any] = {"image": image_rel, "masks": mask_rels, "layers": layers}
    if "yolo" in formats:
        rel = f"{root}labels/{job.item_id}.txt"
        out.write_bytes(rel, "\n".join(yolo_seg_lines(sample.instances, w, h)).encode() + b"\n")
        outputs["label"] = rel
    if root:
        rel = f"{REJECTED}/reasons/{job.item_id}.json"
        out.write_bytes(rel, json.dumps({"id": job.item_id, "source": job.relpath, "image": image_rel,
                                         **jsonable(qa)}, indent=1).encode())
        outputs["reasons"] = rel
    result = {"size": [w, h], "outputs": outputs, "instances": instances,
              "layer_rles": layer_rles, "layer_boxes": layer_boxes,
              "applied": jsonable(sample.meta.get("applied", {})),
              "models": sample.meta.get("models", {}), "version": __version__}
    if sample.meta.get("segment_fallback"):  # the configured backend found nothing; this one made the mask
        result["fallback"] = {"segment": sample.meta["segment_fallback"]}
    return result


def jsonable(x: Any) -> Any:
    if isinstance(x, dict):
        return {str(k): jsonable(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [jsonable(v) for v in x]
    if isinstance(x, np.generic):
        return x.item()
    if isinstance(x, np.ndarray):
        return x.tolist()
    if isinstance(x, Path):
        return str(x)
    return x


# ---------------------------------------------------------------- labels (class balancing)

def label_sources(ctx: ShardContext, rels: list[str]) -> dict[str, int | None]:
    """Each input's class as the preset's segment step sees it: the first (top) instance's class;
    None when nothing is found or the input cannot be read. Reads input COCO annotations when the
    step has them, runs the model (batched) for `yolact`, and otherwise the step itself."""
    pipe, seg = worker_pipeline(ctx.preset)
    labels: dict[str, int | None] = {}
    if seg is not None:
        images = read_sources(ctx, rels)
        results, _, _ = segment_sources(ctx, rels, images)
        for rel in rels:
            img = images[rel]
            kept = results.get(seg.image_key(img[0])) if isinstance(img, tuple) else None
            labels[rel] = int(kept[0][0].class_id) if kept else None
        return labels
    from .classes import class_id
    from .steps.segment import MasksConfig

    cfg = next((c for name, c in ctx.preset.step_configs if name == "segment"), None)
    if not isinstance(cfg, MasksConfig):  # alpha / classical: the preset names the class
        fixed = class_id(cfg.class_name) if cfg is not None and hasattr(cfg, "class_name") else None
        return dict.fromkeys(rels, fixed)
    images = read_sources(ctx, rels)
    step = next(s for s in pipe.steps if s.name == "segment")
    for rel in rels:
        img = images[rel]
        if not isinstance(img, tuple):
            labels[rel] = None
            continue
        try:
            s = step(Sample(image=img[0], alpha=img[1], meta={"relpath": rel}), np.random.default_rng(0))
            labels[rel] = int(s.instances[0].class_id) if s.instances else None
        except (SampleError, ImageReadError):
            labels[rel] = None
    return labels
