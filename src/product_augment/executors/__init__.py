"""Executors: how shards get run. Every executor calls the same `jobs.process_shard`.

* `local` (default): a process pool on this machine, one pipeline (one model) per worker process;
  `--workers 1` runs in the main process.
* `ray`: a Ray cluster (`--ray-address auto`) or a local Ray instance: a pool of segmenter actors
  (batched inference, on GPUs when the cluster has them) and CPU compositing tasks, with retries.

`run_shards(shards, ctx)` yields `(shard, entries)` as shards finish, or `(shard, exception)` for a
shard that failed after its retries (its part is not written, so the next run does it again).
`map(fn, chunks, ctx)` runs `fn(ctx, chunk)` for each chunk (class labels for balancing).
"""
from __future__ import annotations

import os
from typing import Any

EXECUTORS = ("local", "ray")
MIN_JOBS_PER_WORKER = 48  # a worker's start (a process, its imports, its pipeline, maybe a model) pays off


def default_workers(jobs: int, cores: int | None = None) -> int:
    """The worker count that fits a run of `jobs` jobs: one per MIN_JOBS_PER_WORKER jobs, at most
    the cores, at least one (a dozen images run faster on one worker than on a pool of eight)."""
    cores = cores if cores is not None else (os.cpu_count() or 1)
    return max(1, min(cores, jobs // MIN_JOBS_PER_WORKER))


def make_executor(name: str, workers: int | None = 1, ray_address: str | None = None, **kwargs: Any) -> Any:
    """An executor by name; `workers` None: every core (Ray's local instance)."""
    if name == "local":
        from .local import LocalExecutor
        return LocalExecutor(workers or 1)
    if name == "ray":
        from .ray import RayExecutor
        return RayExecutor(workers=workers, address=ray_address, **kwargs)
    raise ValueError(f"unknown executor {name!r}: use {' or '.join(EXECUTORS)}")
