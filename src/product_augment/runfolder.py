"""The output folder of a run: one run at a time (its lock), the only places a run removes files
(what `--overwrite` clears, the files a re-made output no longer has, what `--prune` takes out of
the dataset), and `run.json`."""
from __future__ import annotations

import json
import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from .balance import LABELS_FILE
from .history import History, Rec
from .jobs.layout import (
    ANNOTATIONS,
    FLAGGED,
    HISTORY_DB,
    LAYER_ANNOTATIONS,
    LOCK_FILE,
    MANIFEST,
    OUTPUT_DIRS,
    PARTS,
    REMOVED,
    RUN_INFO,
)
from .jobs.parts import entry_job_id, output_files, to_lines
from .storage import Store, UnsafePath


class RunError(Exception):
    """A run that cannot start (bad input folder, output folder of another preset, ...)."""


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


def remove_replaced(out: Store, before: dict[str, Rec], entries: list[dict]) -> int:
    """Files an earlier entry of a re-made output had and the new one has not (a changed input
    with fewer instances); returns how many outputs were replaced."""
    n = 0
    for new in entries:
        old = before.get(new["id"])
        if old is None or old.status != "ok" or old.job == entry_job_id(new):
            continue
        n += 1
        keep = set(output_files(new)) if new.get("status") == "ok" else set()
        for rel in set(old.files) - keep:
            try:
                out.remove(rel)
            except UnsafePath:  # a tampered part names a path outside the run: never followed
                continue
    return n


def remove_unplanned(out: Store, history: History, planned: set[str], run_no: int) -> int:
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
        name = f"r{run_no:05d}-{REMOVED}.jsonl"
        removed = [{"id": k, "status": REMOVED, "reason": "pruned: not in the plan of the run"} for k in gone]
        out.write_bytes(f"{PARTS}/{name}", to_lines(removed))
        history.add_part(name, removed)
    return len(gone)


def clear_outputs(out: Store) -> None:
    """Remove what an earlier run wrote (only our own files and folders)."""
    for name in OUTPUT_DIRS:
        out.remove_tree(name)
    for name in (MANIFEST, ANNOTATIONS, LAYER_ANNOTATIONS, "dataset.yaml", "train.txt", "val.txt", LABELS_FILE,
                 FLAGGED, RUN_INFO, HISTORY_DB, HISTORY_DB + "-journal"):
        out.remove(name)


def write_run_info(out: Store, preset: Any, inputs: Store) -> None:
    """`run.json`: the last run's preset (its YAML) and input location, for `augment report`. Only
    what the run's outputs depend on (the same bytes from 1 or 2 workers, resumed or not); counts
    and times are in the manifest."""
    import yaml

    info = {"preset_path": str(preset.path), "preset_sha256": preset.sha256,
            "preset_yaml": yaml.safe_dump(preset.raw, sort_keys=False, allow_unicode=True),
            "input": inputs.location}
    out.write_bytes(RUN_INFO, json.dumps(info, indent=1).encode())
