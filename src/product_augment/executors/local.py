"""The local executor: shards on a pool of spawned worker processes (one thread, one pipeline and
one model each), or in this process for one worker. A shard whose worker died is run again in a
fresh pool, up to the context's retries."""
from __future__ import annotations

import multiprocessing as mp
import os
import sys
from collections.abc import Callable, Iterator
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from typing import Any

from ..jobs import Shard, ShardContext, TransientError, limit_worker_threads, process_shard, worker_pipeline

_CTX: dict[str, Any] = {}


def die_with_parent(parent_pid: int) -> None:
    """Have the kernel kill this worker when its parent process dies (Linux `PR_SET_PDEATHSIG`), so a
    `kill -9` of `augment run` leaves no worker behind; elsewhere a no-op. `parent_pid` closes the
    race of a parent that died before the call."""
    if not sys.platform.startswith("linux"):
        return
    import ctypes
    import signal

    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, int(signal.SIGKILL), 0, 0, 0)  # 1 = PR_SET_PDEATHSIG
    except (OSError, AttributeError):  # no prctl (another libc): nothing to do
        return
    if os.getppid() != parent_pid:
        os._exit(1)


def _init(ctx: ShardContext, parent_pid: int = 0) -> None:
    if parent_pid:
        die_with_parent(parent_pid)
    limit_worker_threads()
    _CTX["ctx"] = ctx
    worker_pipeline(ctx.preset)  # built once per worker, before its first shard


def _shard(shard: Shard) -> list[dict]:
    return process_shard(shard, _CTX["ctx"])


def _call(fn: Callable, arg: Any) -> Any:
    return fn(_CTX["ctx"], arg)


class LocalExecutor:
    name = "local"

    def __init__(self, workers: int = 1):
        self.workers = max(1, int(workers))
        self.crashed = False  # a pool worker died (it may have left a temp file behind)

    def run_shards(self, shards: list[Shard], ctx: ShardContext) -> Iterator[tuple[Shard, Any]]:
        if not shards:
            return
        if self.workers <= 1 or len(shards) == 1:
            yield from self._in_process(shards, ctx)
            return
        pending, errors = list(shards), {}
        for _ in range(ctx.retries + 1):
            if not pending:
                break
            retry = []
            for shard, result in self._pool(pending, ctx):
                if isinstance(result, (TransientError, BrokenProcessPool)):
                    self.crashed = self.crashed or isinstance(result, BrokenProcessPool)
                    retry.append(shard)
                    errors[shard] = result
                else:
                    yield shard, result
            pending = retry
        for shard in pending:
            yield shard, errors[shard]

    def _in_process(self, shards: list[Shard], ctx: ShardContext) -> Iterator[tuple[Shard, Any]]:
        # with the pool workers' one-thread limits (same bytes on any worker count); undone at the end
        from ..jobs import reset_worker
        from ..runner import limit_threads

        restore = limit_threads()
        try:  # the pipeline `runner.run` built (worker_pipeline's cache) serves this process
            for shard in shards:
                for attempt in range(ctx.retries + 1):
                    try:
                        result: Any = process_shard(shard, ctx)
                    except TransientError as e:
                        result = e
                        continue
                    except Exception as e:  # noqa: BLE001 - reported for this shard, the run goes on
                        result = e
                    break
                yield shard, result
        finally:
            reset_worker()
            restore()

    def _pool(self, shards: list[Shard], ctx: ShardContext) -> Iterator[tuple[Shard, Any]]:
        window = 4 * self.workers  # shards in flight: memory stays flat on huge runs
        ctx_mp = mp.get_context("spawn")
        todo = list(reversed(shards))
        with ProcessPoolExecutor(min(self.workers, len(shards)), mp_context=ctx_mp,
                                 initializer=_init, initargs=(ctx, os.getpid())) as pool:
            running: dict[Any, Shard] = {}
            try:
                while todo or running:
                    while todo and len(running) < window:
                        s = todo.pop()
                        try:
                            running[pool.submit(_shard, s)] = s
                        except BrokenProcessPool as e:
                            yield s, e
                    done, _ = wait(list(running), return_when=FIRST_COMPLETED)
                    for f in done:
                        s = running.pop(f)
                        try:
                            yield s, f.result()
                        except Exception as e:  # noqa: BLE001
                            yield s, e
            finally:  # the run stopped early (a full disk): shards not started yet are dropped
                pool.shutdown(wait=True, cancel_futures=True)

    def map(self, fn: Callable, chunks: list[Any], ctx: ShardContext) -> list[Any]:
        if self.workers <= 1 or len(chunks) <= 1:
            from ..jobs import reset_worker
            from ..runner import limit_threads

            restore = limit_threads()
            reset_worker()
            try:
                return [fn(ctx, c) for c in chunks]
            finally:
                reset_worker()
                restore()
        with ProcessPoolExecutor(min(self.workers, len(chunks)), mp_context=mp.get_context("spawn"),
                                 initializer=_init, initargs=(ctx, os.getpid())) as pool:
            return list(pool.map(_call, [fn] * len(chunks), chunks))

    def close(self) -> None:
        pass
