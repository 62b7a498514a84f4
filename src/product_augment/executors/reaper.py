"""A watchdog that stops a local Ray instance's processes when the driver dies, however it dies.

`ray.init()` without an address starts the instance's processes (GCS, raylet, its agents, workers)
as descendants of the driver. `ray.shutdown()` stops them on a normal exit, but a `kill -9` of the
driver leaves some behind (the raylet's dashboard and runtime-env agents outlive it for good). The
driver therefore starts this small process (`python -m product_augment.executors.reaper PID`): it
remembers the driver's descendants every half second and, once the driver is gone, sends SIGKILL
to every remembered process that still runs (checked by start time, so a reused pid is never hit).
Linux only (it reads /proc); elsewhere `start` starts nothing.
"""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

POLL_S = 0.5


def _stat(pid: int) -> tuple[int, int] | None:
    """(parent pid, start time in clock ticks) of a live process, or None."""
    try:
        stat = (Path("/proc") / str(pid) / "stat").read_text()
    except OSError:
        return None
    fields = stat[stat.rindex(")") + 2:].split()
    if fields[0] == "Z":
        return None
    return int(fields[1]), int(fields[19])


def descendants(root: int) -> dict[int, int]:
    """Every live descendant of `root`: pid → start time."""
    children: dict[int, list[tuple[int, int]]] = {}
    for d in Path("/proc").iterdir():
        if d.name.isdigit() and (st := _stat(int(d.name))) is not None:
            children.setdefault(st[0], []).append((int(d.name), st[1]))
    found, todo = {}, [root]
    while todo:
        for pid, start in children.get(todo.pop(), []):
            if pid not in found:
                found[pid] = start
                todo.append(pid)
    return found


def watch(driver: int) -> None:
    """Remember the driver's descendants until it is gone, then kill the ones still running."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the driver's to handle (ray.shutdown)
    me = os.getpid()
    seen: dict[int, int] = {}
    while os.getppid() == driver:
        seen.update(descendants(driver))
        time.sleep(POLL_S)
    seen.pop(me, None)
    for pid, start in seen.items():
        st = _stat(pid)
        if st is not None and st[1] == start:
            try:
                os.kill(pid, signal.SIGKILL)
            except OSError:  # gone meanwhile
                pass


def start() -> subprocess.Popen | None:
    """Start the watchdog for this process (None where /proc is missing)."""
    if not sys.platform.startswith("linux") or not Path("/proc/self/stat").exists():
        return None
    return subprocess.Popen([sys.executable, "-m", "product_augment.executors.reaper", str(os.getpid())],
                            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, close_fds=True)


def stop(proc: subprocess.Popen | None) -> None:
    """End the watchdog after a normal shutdown (nothing left for it to do)."""
    if proc is not None and proc.poll() is None:
        proc.kill()
        proc.wait()


if __name__ == "__main__":
    watch(int(sys.argv[1]))
