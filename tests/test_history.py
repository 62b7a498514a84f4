"""The compacted history (issue 27): parts compacted into parts/history.db read as the parts did,
a kill at any point of a compaction loses nothing, the views stream the builders' bytes, one sync
per shard, and a clean folder is not walked for stale temp files."""
import json
import os

import pytest

from product_augment import history as H
from product_augment import jobs as J
from product_augment.annotations import build_coco, yolo_split
from product_augment.export import export_coco
from product_augment.presets.loader import load_preset
from product_augment.runner import MANIFEST, RunOptions
from product_augment.runner import run as run_preset
from product_augment.storage import Store

from .test_runner import files_of

DEFAULTS = {"seed": 7, "variants": 2, "output.annotations": ["coco", "yolo"]}


def run(path, options, **overrides):
    return run_preset(load_preset(path, {**DEFAULTS, **overrides}), options)


def opts(inp, out, **kw):
    return RunOptions(input_dir=inp, output_dir=out, workers=1, **kw)


def manifest(out):
    return [json.loads(x) for x in (out / MANIFEST).read_text().splitlines()]


def test_a_compacted_history_reads_as_its_parts(tmp_path, input_dir, classical_preset):
    """Four shards with compaction after one part: the same files and views as a run that
    never compacts; the parts folder holds the database and at most one part; resume,
    incremental replacement and the export read the compacted history."""
    a, b = tmp_path / "a", tmp_path / "b"
    s = run(classical_preset, opts(input_dir, a, shard_size=1, compact_parts=1))
    run(classical_preset, opts(input_dir, b, shard_size=1, compact_parts=10_000))
    assert s.ok and s.done == 8
    assert files_of(a) == files_of(b)
    assert len(list((a / "parts").glob("*.jsonl"))) <= 1 and (a / J.HISTORY_DB).is_file()
    assert len(list((b / "parts").glob("*.jsonl"))) == 4
    strip = [{k: v for k, v in e.items() if k not in ("seconds", "step_seconds", "segment_batch_seconds")}
             for e in manifest(a)]
    assert strip == [{k: v for k, v in e.items() if k not in ("seconds", "step_seconds", "segment_batch_seconds")}
                     for e in manifest(b)]
    again = run(classical_preset, opts(input_dir, a, shard_size=1, compact_parts=1))
    assert again.resumed == 8 and again.done == 0
    assert export_coco(str(a), str(tmp_path / "a.json"))["images"] == 8
    # a changed input with one instance fewer: its old outputs are replaced through the database
    from PIL import Image

    from .conftest import make_packshot
    img, _ = make_packshot(fg=(20, 120, 200), radius=70)
    Image.fromarray(img).save(input_dir / "p1.png")
    s = run(classical_preset, opts(input_dir, a, shard_size=1, compact_parts=1, mode="incremental"))
    assert s.done == 2 and s.replaced == 2 and s.resumed == 6
    run(classical_preset, opts(input_dir, b, shard_size=1, compact_parts=10_000, mode="incremental"))
    assert files_of(a) == files_of(b)


def test_a_kill_during_a_compaction_loses_nothing(tmp_path, input_dir, classical_preset, monkeypatch):
    out = tmp_path / "o"
    run(classical_preset, opts(input_dir, out, shard_size=2))
    store = Store(str(out))

    def latest():
        with H.History.open(store, writable=False) as h:
            return [(i, e) for i, e, _ in h.latest()]

    want = latest()
    assert len(want) == 8
    # killed inside the transaction: rolled back, the parts stay and read the same
    calls = []

    def dies(cur, e):
        calls.append(e["id"])
        if len(calls) == 5:
            raise KeyboardInterrupt
        return real_apply(cur, e)

    real_apply = H.History._apply
    monkeypatch.setattr(H.History, "_apply", staticmethod(dies))
    with H.History.open(store) as h, pytest.raises(KeyboardInterrupt):
        h.compact()
    monkeypatch.setattr(H.History, "_apply", staticmethod(real_apply))
    assert len(list((out / "parts").glob("*.jsonl"))) == 4 and latest() == want
    # killed after the commit, before the parts were deleted: they are ignored, deleted next time
    monkeypatch.setattr(H.History, "_forget_parts", lambda self: None)
    with H.History.open(store) as h:
        h.compact()
    assert len(list((out / "parts").glob("*.jsonl"))) == 4 and latest() == want
    with H.History.open(store) as h:
        assert not h.tail_parts and h.next_run == 2
    monkeypatch.undo()
    s = run(classical_preset, opts(input_dir, out, shard_size=2, compact_parts=0))
    assert s.resumed == 8 and not list((out / "parts").glob("*.jsonl")) and latest() == want


def test_the_views_stream_the_builders_bytes(tmp_path, input_dir, classical_preset):
    """annotations.json and the YOLO lists are written entry by entry, and are byte for byte what
    the in-memory builders make of the manifest (also in a small run's val fallback)."""
    from product_augment.qa import in_dataset

    for name, inp in (("many", input_dir), ("one", input_dir / "sub")):
        out = tmp_path / name
        run(classical_preset, opts(inp, out))
        ok = [e for e in manifest(out) if in_dataset(e)]
        assert (out / "annotations.json").read_bytes() == json.dumps(build_coco(ok)).encode()
        split = yolo_split(ok)
        for part in ("train", "val"):
            assert (out / f"{part}.txt").read_text() == "".join(f"./{e['outputs']['image']}\n" for e in split[part])


def test_a_shard_syncs_once_not_file_by_file(tmp_path, input_dir, classical_preset, monkeypatch):
    """Workers write outputs without an fsync each; one syncfs per shard, before its part."""
    import product_augment.io as io_mod

    synced, fsynced = [], []
    real_fsync = os.fsync
    monkeypatch.setattr(io_mod, "syncfs", lambda folder: synced.append(folder))
    import product_augment.storage as storage_mod
    monkeypatch.setattr(storage_mod, "syncfs", lambda folder: synced.append(folder))

    def counting(fd):
        fsynced.append(os.readlink(f"/proc/self/fd/{fd}"))
        return real_fsync(fd)

    monkeypatch.setattr(os, "fsync", counting)
    s = run(classical_preset, opts(input_dir, tmp_path / "o", shard_size=2))
    assert s.ok and s.done == 8
    assert len(synced) == 4
    assert not [p for p in fsynced if "/images/" in p or "/masks/" in p or "/labels/" in p or ".jsonl" in p]


def test_a_clean_folder_is_not_walked_for_stale_temps(tmp_path, input_dir, classical_preset, monkeypatch):
    """The stale-temp sweep walks the output folder only when the last run did not end cleanly."""
    import product_augment.runner as R

    walked = []  # four shards: parts finish in another order than their names sort
    real = R.remove_stale_temps
    monkeypatch.setattr(R, "remove_stale_temps", lambda root: walked.append(root) or real(root))
    out = tmp_path / "o"
    run(classical_preset, opts(input_dir, out, shard_size=2))
    assert len(walked) == 1  # a new folder: no clean end recorded
    walked.clear()
    mtime = (out / "annotations.json").stat().st_mtime_ns
    s = run(classical_preset, opts(input_dir, out, shard_size=2))
    assert s.resumed == 8 and walked == []
    assert (out / "annotations.json").stat().st_mtime_ns == mtime  # nothing changed: views not rewritten
    with H.History.open(Store(str(out))) as h:  # a run adds its parts as they finish, not sorted
        want = h.stamp_parts()
        h.tail_parts.reverse()
        assert len(h.tail_parts) == 4 and h.stamp_parts() == want
    with H.History.open(Store(str(out))) as h:  # a run killed mid-way never records its clean end
        h.set_meta(R.CLEAN_KEY, "")
    (out / "images" / ".augment-tmp.x.png.abc.tmp").write_bytes(b"partial")
    run(classical_preset, opts(input_dir, out, shard_size=2))
    assert len(walked) == 1 and not (out / "images" / ".augment-tmp.x.png.abc.tmp").exists()


def test_the_plan_streams_new_jobs_first(tmp_path, input_dir, classical_preset, monkeypatch):
    """Planned two inputs at a time: the first shards finish before the plan is complete (on_start
    comes later, with the full count), the files are those of an unstreamed run, and a job whose
    files went missing is planned after the new ones."""
    from PIL import Image

    import product_augment.runner as R

    from .conftest import make_packshot

    ref, out = tmp_path / "ref", tmp_path / "o"
    run(classical_preset, opts(input_dir, ref))
    monkeypatch.setattr(R, "PLAN_CHUNK", 2)
    events = []
    s = run_preset(load_preset(classical_preset, DEFAULTS), opts(input_dir, out, shard_size=2),
                   progress=lambda e: events.append(e["id"]), on_start=lambda n: events.append(("start", n)))
    i = events.index(("start", 8))
    assert s.ok and s.done == 8 and 0 < i < len(events) - 1  # entries came before the plan was complete
    assert files_of(out) == files_of(ref)
    (out / "images" / "p0__v00.png").unlink()
    img, _ = make_packshot(radius=44)
    Image.fromarray(img).save(input_dir / "zz.png")
    events.clear()
    s = run_preset(load_preset(classical_preset, DEFAULTS), opts(input_dir, out, shard_size=2),
                   progress=lambda e: events.append(e["id"]))
    assert s.done == 3 and events == ["zz__v00", "zz__v01", "p0__v00"]


def test_inputs_the_history_has_not_seen_are_planned_first(tmp_path, input_dir, classical_preset):
    """A night's new photos behind a catalogue already done: planned before the done ones (so they
    start at once), each group in listing order; with nothing new the order is the listing's."""
    import shutil

    from product_augment.history import History
    from product_augment.storage import Store

    out = tmp_path / "o"
    first = run(classical_preset, opts(input_dir, out, shard_size=2, compact_parts=1))
    names = sorted({e["source"] for e in manifest(out)})
    variants = first.done // len(names)
    shutil.copy(input_dir / names[0], input_dir / "zz_new.png")
    shutil.copy(input_dir / names[1], input_dir / "aa_new.png")
    listing = sorted(names + ["aa_new.png", "zz_new.png"])
    with History.open(Store(str(out)), writable=False) as h:
        assert h.seen_sources(listing) == set(names)
        assert h.unseen_first(listing) == (["aa_new.png", "zz_new.png"] + names, 2)
        assert h.unseen_first(names) == (names, 0)
    s = run(classical_preset, opts(input_dir, out, shard_size=2, compact_parts=1, mode="incremental"))
    assert s.done == 2 * variants and s.resumed == len(names) * variants
