"""One thread per numeric library (the ground floor: imports nothing of the package).

Each worker is one process with one thread, whatever the worker count: a worker that ran
multi-threaded would give other bytes (torch's convolutions and BLAS sum in an order that depends
on the thread count), so `--workers 1` applies the same limits in the main process as every pool
worker does.
"""
from __future__ import annotations

import os
import sys
from collections.abc import Callable

# variables read by numeric libraries when they load (torch reads OMP_NUM_THREADS when the
# segmenter first imports it, on the first image)
THREAD_ENV = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")


def limit_threads() -> Callable[[], None]:
    """Run every numeric library of this process on one thread; returns a function that undoes it.

    Libraries already loaded are limited now (cv2, torch, BLAS/OpenMP through threadpoolctl);
    libraries loaded later see the environment variables.
    """
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
