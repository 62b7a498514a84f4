"""The Ray executor: the same shards on a Ray cluster (or a local Ray instance).

    reading + model stage                      compositing stage (CPU tasks)
    SegmenterActor pool ──(batch-hook results of a shard, by path)──▶ process_shard(shard, ctx, prepared)
    (one pipeline each: `Pipeline.prepare`;                          (pipeline, outputs, part last)
     batched `soft_masks_batch`; one GPU each
     when the cluster has GPUs and the preset
     says device: cuda|auto)

* The actors run the pipeline's batch hooks (`Pipeline.prepare`); presets without one (no model)
  skip the actor stage: the tasks do everything.
* Retries: a task whose worker dies or that raises `TransientError` is run again (`max_retries`);
  an actor that dies is restarted (`max_restarts`) and its call retried. A shard is idempotent, so a
  second run of it writes the same bytes.
* `ray.init` is called only when Ray is not running yet: `address=None` starts a local instance
  with `num_cpus=workers` logical CPUs and no dashboard; `address="auto"` joins the cluster this
  machine belongs to (`ray start --head` / `ray start --address ...` on every node first). The
  actors ask for 0 CPUs on a local instance smaller than 3 CPUs, so they never starve the tasks.
* A local instance dies with the driver: `reaper.py` kills its processes when the driver is gone,
  even after a `kill -9` (Linux); a joined cluster (`address`) is never touched.
* `timeout` (seconds without any shard finishing) turns a stuck cluster into an error, not a hang.
* Inputs and outputs must be reachable from every node: a shared folder or an fsspec URL (s3://, gs://).
"""
from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from ..jobs.errors import FAIL_ONCE_ENV, TransientError
from ..jobs.shards import Shard
from ..jobs.worker import (
    BATCH_IMAGES,
    ShardContext,
    batch_devices,
    limit_worker_threads,
    prepare_sources,
    process_shard,
    read_sources,
)


def _shard_task(shard: Shard, ctx: ShardContext, prepared: Any) -> list[dict]:
    limit_worker_threads()
    return process_shard(shard, ctx, prepared)


def _call_task(fn: Callable, ctx: ShardContext, chunk: Any) -> Any:
    limit_worker_threads()
    return fn(ctx, chunk)


class SegmenterActor:
    """One pipeline whose batch hooks (the segmenter's model) stay loaded; `segment(sources)` reads
    a shard's inputs and runs the hooks on them in batched calls (`Pipeline.prepare`)."""

    def __init__(self, ctx: ShardContext, gpu: bool):
        if not gpu:
            limit_worker_threads()
        self.ctx = ctx

    def segment(self, sources: list[str]) -> dict[str, Any] | None:
        """Each readable input's results of the batch hooks, by relative path; None on failure."""
        results: dict[str, Any] = {}
        try:
            for i in range(0, len(sources), BATCH_IMAGES):  # decoded images stay bounded
                rels = sources[i:i + BATCH_IMAGES]
                results.update(prepare_sources(self.ctx, rels, read_sources(self.ctx, rels)) or {})
            return results
        except Exception:  # noqa: BLE001 - the compositing task segments on its own and reports
            return None


class RayExecutor:
    name = "ray"

    def __init__(self, workers: int | None = None, address: str | None = None, actors: int | None = None,
                 timeout: float = 900.0, window: int | None = None):
        self.workers = workers
        self.address = address
        self.actors = actors
        self.timeout = timeout
        self.window = window
        self.started_here = False
        self.startup_seconds = 0.0
        self.reaper = None

    # ------------------------------------------------------------------ cluster
    def _ray(self) -> Any:
        try:
            import ray
        except ImportError:
            raise ImportError("the ray executor needs Ray: pip install 'product-augment[ray]'") from None
        if not ray.is_initialized():
            import time

            t0 = time.perf_counter()
            env = {k: os.environ[k] for k in (FAIL_ONCE_ENV,) if k in os.environ}
            kwargs: dict[str, Any] = {"include_dashboard": False, "log_to_driver": False,
                                      "runtime_env": {"env_vars": env} if env else None}
            if self.address:
                ray.init(address=self.address, **kwargs)
            else:
                from . import reaper

                self.reaper = reaper.start()  # before the instance exists: it sees every process
                ray.init(num_cpus=max(1, int(self.workers or os.cpu_count() or 1)), **kwargs)
            self.started_here = True
            self.startup_seconds = time.perf_counter() - t0
        return ray

    def close(self) -> None:
        if self.started_here:
            import ray

            from . import reaper

            ray.shutdown()
            self.started_here = False
            reaper.stop(self.reaper)
            self.reaper = None

    # ------------------------------------------------------------------ shards
    def run_shards(self, shards: Iterable[Shard], ctx: ShardContext) -> Iterator[tuple[Shard, Any]]:
        it = iter(shards)  # a stream: the driver plans while the first shards run
        nxt = next(it, None)
        if nxt is None:
            return
        ray = self._ray()
        res = ray.cluster_resources()
        cpus, gpus = int(res.get("CPU", 1)), int(res.get("GPU", 0))
        ctx_ref = ray.put(ctx)
        task = ray.remote(_shard_task).options(num_cpus=1, max_retries=max(0, ctx.retries),
                                               retry_exceptions=[TransientError])
        pool: list[Any] = []
        devices = batch_devices(ctx.preset)  # the pipeline's batch hooks (the segmenter's model)
        if devices:
            gpu = gpus > 0 and any(d in ("cuda", "auto") for d in devices)
            n = self.actors or (gpus if gpu else max(1, min(cpus // 4, 8)))
            actor_cpus = 0 if gpu or cpus < 3 else 1
            actor = ray.remote(SegmenterActor).options(num_cpus=actor_cpus, num_gpus=1 if gpu else 0,
                                                       max_restarts=2, max_task_retries=2)
            pool = [actor.remote(ctx_ref, gpu) for _ in range(n)]
        window = self.window or max(4, 2 * cpus)
        running: dict[Any, Shard] = {}
        i = 0
        try:
            while nxt is not None or running:
                while nxt is not None and len(running) < window:
                    s, nxt = nxt, next(it, None)
                    seg = pool[i % len(pool)].segment.remote(s.sources) if pool else None
                    i += 1
                    running[task.remote(s, ctx_ref, seg)] = s
                ready, _ = ray.wait(list(running), num_returns=1, timeout=self.timeout)
                if not ready:
                    raise TimeoutError(f"ray: no shard finished in {self.timeout:.0f} s "
                                       f"({len(running)} running); is the cluster short of CPUs?")
                for ref in ready:
                    s = running.pop(ref)
                    try:
                        yield s, ray.get(ref)
                    except Exception as e:  # noqa: BLE001 - this shard failed after its retries
                        yield s, e
        finally:
            for ref in running:
                with contextlib.suppress(Exception):  # already finished or gone
                    ray.cancel(ref, force=True)
            for a in pool:
                with contextlib.suppress(Exception):
                    ray.kill(a)

    def map(self, fn: Callable, chunks: list[Any], ctx: ShardContext) -> list[Any]:
        if not chunks:
            return []
        ray = self._ray()
        task = ray.remote(_call_task).options(num_cpus=1, max_retries=max(0, ctx.retries),
                                              retry_exceptions=[TransientError])
        ctx_ref = ray.put(ctx)
        refs = [task.remote(fn, ctx_ref, c) for c in chunks]
        return ray.get(refs, timeout=self.timeout * max(1, len(chunks)))
