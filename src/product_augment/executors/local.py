"""The local executor: shards on a pool of spawned worker processes (one thread, one pipeline and
one model each), or in this process for one worker. A shard whose worker died is run again in a
fresh pool, up to the context's retries."""
from __future__ import annotations

import itertools
import multiprocessing as mp
import os
import sys
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from typing import Any

from ..jobs.errors import TransientError
from ..jobs.shards import Shard
from ..jobs.worker import (
    ShardContext,
    limit_worker_threads,
    process_shard,
    reset_worker,
    worker_pipeline,
)
from ..threads import limit_threads

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

    def run_shards(self, shards: Iterable[Shard], ctx: ShardContext) -> Iterator[tuple[Shard, Any]]:
        """Results as shards finish; `shards` may be a stream (the runner plans while the first
        shards run)."""
        it = iter(shards)
        head = list(itertools.islice(it, max(2, self.workers)))
        if not head:
            return
        if self.workers <= 1 or len(head) == 1:
            yield from self._in_process(itertools.chain(head, it), ctx)
            return
        pending: Iterable[Shard] = itertools.chain(head, it)
        errors: dict[Shard, BaseException] = {}
        size = min(self.workers, len(head))
        for _ in range(ctx.retries + 1):
            retry = []
            for shard, result in self._pool(pending, ctx, size):
                if isinstance(result, (TransientError, BrokenProcessPool)):
                    self.crashed = self.crashed or isinstance(result, BrokenProcessPool)
                    retry.append(shard)
                    errors[shard] = result
                else:
                    yield shard, result
            pending = retry
            if not retry:
                break
        for shard in pending:
            yield shard, errors[shard]

    def _in_process(self, shards: list[Shard], ctx: ShardContext) -> Iterator[tuple[Shard, Any]]:
        # with the pool workers' one-thread limits (same bytes on any worker count); undone at the end
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

    def _pool(self, shards: Iterable[Shard], ctx: ShardContext, size: int) -> Iterator[tuple[Shard, Any]]:
        window = 4 * self.workers  # shards in flight: memory stays flat on huge runs
        ctx_mp = mp.get_context("spawn")
        todo = iter(shards)
        nxt = next(todo, None)
        with ProcessPoolExecutor(size, mp_context=ctx_mp, initializer=_init, initargs=(ctx, os.getpid())) as pool:
            running: dict[Any, Shard] = {}
            try:
                while nxt is not None or running:
                    while nxt is not None and len(running) < window:
                        s, nxt = nxt, next(todo, None)
                        try:
                            running[pool.submit(_shard, s)] = s
                        except BrokenProcessPool as e:
                            yield s, e
                    if not running:
                        continue
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
