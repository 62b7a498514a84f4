"""The manifest and its parts: the run's history as files.

A shard's **manifest part** (`parts/rNNNNN-<shard id>.jsonl`, one entry per job) is written last,
atomically: a part exists only when its shard is complete. The run's history is the parts in name
order (the run number first), preceded by the single `manifest.jsonl` of runs made before parts
existed (migrated once into `parts/r00000-legacy.jsonl`), and compacted into `parts/history.db`
(`history.py`). The latest entry of an output name wins; `manifest.jsonl` is rewritten at the end
of each run as that merged view (`views.py`).
"""
from __future__ import annotations

import json
from collections.abc import Iterable, Mapping

from ..storage import Store, UnsafePath
from .layout import HISTORY_DB, LEGACY_PART, MANIFEST, PART_RE, PARTS, REJECTED, REMOVED
from .shards import job_id

__all__ = ["HISTORY_DB", "LEGACY_PART", "MANIFEST", "PARTS", "PART_RE", "REJECTED", "REMOVED", "entry_job_id",
           "files_exist", "latest_entries", "migrate_legacy", "on_disk", "output_files", "parse_lines",
           "part_names", "to_lines"]


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


