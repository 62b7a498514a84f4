"""Jobs, shards and parts: stable ids, idempotent shards, retries, a real kill, incremental runs,
fsspec locations."""
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from product_augment import jobs as J
from product_augment.presets.loader import load_preset
from product_augment.runner import MANIFEST, RunOptions
from product_augment.runner import run as run_preset
from product_augment.storage import Store

from .conftest import make_packshot
from .test_runner import files_of

DEFAULTS = {"seed": 7, "variants": 2, "output.annotations": ["coco", "yolo"]}


def run(path, options, progress=None, **overrides):
    return run_preset(load_preset(path, {**DEFAULTS, **overrides}), options, progress)


def opts(inp, out, workers=1, **kw):
    return RunOptions(input_dir=inp, output_dir=out, workers=workers, **kw)


def entries_of(out: Path) -> list[dict]:
    return [json.loads(x) for x in (out / MANIFEST).read_text().splitlines()]


def test_job_id_is_stable_and_names_path_content_preset_and_variant():
    base = J.job_id("a/b.jpg", "c0ffee", "p1", 0)
    assert base == J.job_id("a/b.jpg", "c0ffee", "p1", 0) and len(base) == 24
    others = {J.job_id("a/c.jpg", "c0ffee", "p1", 0), J.job_id("a/b.jpg", "beef", "p1", 0),
              J.job_id("a/b.jpg", "c0ffee", "p2", 0), J.job_id("a/b.jpg", "c0ffee", "p1", 1)}
    assert base not in others and len(others) == 4
    jobs = J.make_jobs(["x.png", "x.jpg", "y.png"], {"x.png": 1, "x.jpg": 2, "y.png": 3},
                       {"x.png": "1", "x.jpg": "2", "y.png": "3"}, "p")
    assert [j.item_id for j in jobs] == ["x_png__v00", "x_jpg__v00", "x_jpg__v01", "y__v00", "y__v01", "y__v02"]


def test_shards_keep_the_variants_of_an_input_together():
    jobs = J.make_jobs(["a", "b", "c"], 3, {"a": "1", "b": "2", "c": "3"}, "p")
    shards = J.make_shards(jobs, 2, run=4)
    assert [[j.item_id for j in s.jobs] for s in shards] == [
        ["a__v00", "a__v01", "a__v02"], ["b__v00", "b__v01", "b__v02"], ["c__v00", "c__v01", "c__v02"]]
    assert shards[0].part.startswith("parts/r00004-") and len({s.part for s in shards}) == 3
    assert J.make_shards(jobs, 2, run=4)[1].part == shards[1].part  # the same jobs, the same part


def test_a_shard_gives_the_same_result_however_often_it_runs(tmp_path, input_dir, classical_preset):
    preset = load_preset(classical_preset, DEFAULTS)
    ctx = J.ShardContext(preset, Store(input_dir), Store(tmp_path / "o"))
    rels = ["p0.png", "sub/q.jpg"]
    jobs = J.make_jobs(rels, 2, {r: Store(input_dir).input_sha256(r) for r in rels}, preset.sha256)
    (shard,) = J.make_shards(jobs, 16, run=1)
    J.reset_worker()
    first = J.process_shard(shard, ctx)
    files = files_of(tmp_path / "o")
    part = J.parse_lines((tmp_path / "o" / shard.part).read_bytes())
    again = J.process_shard(shard, ctx)
    strip = lambda es: [{k: v for k, v in e.items() if k not in ("seconds", "step_seconds")} for e in es]
    assert files_of(tmp_path / "o") == files and strip(first) == strip(again) == strip(part)
    assert [e["id"] for e in part] == [j.item_id for j in jobs] and all(e["status"] == "ok" for e in part)


def test_a_job_that_fails_once_is_retried(tmp_path, input_dir, classical_preset, monkeypatch):
    faults = tmp_path / "faults"
    faults.mkdir()
    (faults / "p1__v01").write_text("fail")
    monkeypatch.setenv(J.FAIL_ONCE_ENV, str(faults))
    s = run(classical_preset, opts(input_dir, tmp_path / "o"))
    assert s.ok and s.done == 8 and not (faults / "p1__v01").exists()
    by_id = {e["id"]: e for e in entries_of(tmp_path / "o")}
    assert by_id["p1__v01"]["attempts"] == 2 and "attempts" not in by_id["p0__v00"]
    # with no retries left the job is recorded as failed, and the next run does it again
    (faults / "p2__v00").write_text("fail")
    s = run(classical_preset, opts(input_dir, tmp_path / "o2", retries=0))
    reason = "transient error after 1 attempts: TransientError: injected failure of p2__v00"
    assert s.failed == [("p2.png (variant 0)", reason)]
    s = run(classical_preset, opts(input_dir, tmp_path / "o2"))
    assert s.ok and s.done == 1 and s.resumed == 7


def test_a_crashed_pool_worker_is_replaced_and_its_shard_retried(tmp_path, input_dir, classical_preset,
                                                                 monkeypatch):
    faults = tmp_path / "faults"
    faults.mkdir()
    (faults / "p2__v00").write_text("crash")
    monkeypatch.setenv(J.FAIL_ONCE_ENV, str(faults))
    s = run(classical_preset, opts(input_dir, tmp_path / "o", workers=2, shard_size=2))
    assert s.ok and s.done == 8, s.failed
    ref = tmp_path / "ref"
    monkeypatch.delenv(J.FAIL_ONCE_ENV)
    run(classical_preset, opts(input_dir, ref))
    assert files_of(tmp_path / "o") == files_of(ref)


def test_resume_after_a_real_kill(tmp_path, input_dir, classical_preset):
    """The process dies (os._exit, no clean-up) in the middle of its third shard; the same command
    again finishes the run with the files of an uninterrupted one."""
    faults = tmp_path / "faults"
    faults.mkdir()
    out, ref = tmp_path / "o", tmp_path / "ref"
    cmd = [sys.executable, "-m", "product_augment.cli.main", "run", "--config", str(classical_preset),
           "--input", str(input_dir), "--output", str(out), "--workers", "1", "--shard-size", "2",
           "--variants", "2", "--seed", "7", "--format", "coco,yolo"]
    env = {**os.environ, J.FAIL_ONCE_ENV: str(faults), "OMP_NUM_THREADS": "1"}
    (faults / "p2__v01").write_text("crash")
    r = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300, check=False)
    assert r.returncode == 17, r.stdout + r.stderr
    assert len(list((out / "parts").glob("*.jsonl"))) == 2 and not (out / "annotations.json").exists()
    r = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300, check=False)
    assert r.returncode == 0 and "4 written, 4 already done" in r.stdout, r.stdout + r.stderr
    run(classical_preset, opts(input_dir, ref))
    assert files_of(out) == files_of(ref)


def test_incremental_run_processes_exactly_the_new_and_changed_inputs(tmp_path, input_dir, classical_preset):
    out = tmp_path / "o"
    Image.new("RGB", (64, 64), (250, 250, 250)).save(input_dir / "blank.png")  # fails: no product
    first = run(classical_preset, opts(input_dir, out, mode="incremental"))
    assert first.done == 8 and len(first.failed) == 1
    # a night later: one new photo, one photo re-shot, one removed, the blank one unchanged
    img, _ = make_packshot(fg=(20, 120, 200), radius=40)
    Image.fromarray(img).save(input_dir / "new.png")
    img, _ = make_packshot(fg=(120, 20, 200), radius=80)
    Image.fromarray(img).save(input_dir / "p1.png")
    old_p1 = (out / "images/p1__v00.png").read_bytes()
    (input_dir / "p2.png").unlink()
    seen = []
    s = run(classical_preset, opts(input_dir, out, mode="incremental"), progress=seen.append)
    assert sorted({e["source"] for e in seen}) == ["new.png", "p1.png"]
    assert s.ok and s.done == 4 and s.resumed == 4 and s.known_failed == 2 and s.replaced == 2
    assert (out / "images/p1__v00.png").read_bytes() != old_p1
    # the dataset keeps what earlier nights made (p2's images too) and has the re-shot p1
    coco = json.loads((out / "annotations.json").read_text())
    names = {im["file_name"] for im in coco["images"]}
    assert {"images/p2__v00.png", "images/new__v01.png", "images/p1__v00.png"} <= names and len(names) == 10
    # nothing changed: nothing to do
    s = run(classical_preset, opts(input_dir, out, mode="incremental"))
    assert s.done == 0 and s.resumed == 8
    # resume mode (the default) retries the failed input and, like every run, keeps p2's outputs;
    # --prune drops them from the folder and the annotations
    s = run(classical_preset, opts(input_dir, out))
    assert s.done == 0 and len(s.failed) == 1  # resume retries the failed input
    assert len(json.loads((out / "annotations.json").read_text())["images"]) == 10
    s = run(classical_preset, opts(input_dir, out, prune=True))
    assert s.removed == 2 and not (out / "images/p2__v00.png").exists()
    assert len(json.loads((out / "annotations.json").read_text())["images"]) == 8


def test_fsspec_locations_give_the_same_files(tmp_path, input_dir, classical_preset):
    fsspec = pytest.importorskip("fsspec")
    mem = fsspec.filesystem("memory")
    for p in sorted(input_dir.rglob("*")):
        if p.is_file():
            mem.pipe_file(f"/photos/{p.relative_to(input_dir).as_posix()}", p.read_bytes())
    s = run(classical_preset, opts("memory://photos", "memory://runs/a"))
    assert s.ok and s.done == 8
    ref = tmp_path / "ref"
    run(classical_preset, opts(input_dir, ref))
    got = {f[len("/runs/a/"):]: mem.cat_file(f) for f in mem.find("/runs/a")}
    # dataset.yaml names its own location (the URL here): compare the rest
    got["dataset.yaml"] = got["dataset.yaml"].replace(b'"memory://runs/a"', b"<root>")
    # run.json names the input (the URL here)
    same = {k: v for k, v in files_of(ref).items() if k != "run.json"}
    assert {k: v for k, v in got.items() if not k.startswith("parts/") and k not in (MANIFEST, "run.json")} == same
    assert json.loads(got["run.json"])["input"] == "memory://photos"
    again = run(classical_preset, opts("memory://photos", "memory://runs/a"))
    assert again.resumed == 8 and again.done == 0
    # file:// URLs are local folders
    s = run(classical_preset, opts(f"file://{input_dir}", f"file://{tmp_path / 'f'}"))
    assert s.ok and files_of(tmp_path / "f") == files_of(ref)
    mem.rm("/runs", recursive=True)
    mem.rm("/photos", recursive=True)


def test_entries_record_the_job_and_content(tmp_path, input_dir, classical_preset):
    s = run(classical_preset, opts(input_dir, tmp_path / "o", limit=1))
    assert s.ok
    e = entries_of(tmp_path / "o")[0]
    sha = Store(input_dir).input_sha256(e["source"])
    assert e["source_sha256"] == sha and e["job"] == J.job_id(e["source"], sha, e["preset_sha256"], e["variant"])
    assert np.all([k in e for k in ("outputs", "applied", "step_seconds", "source_stat")])


def test_nightly_script_logs_and_exits_by_max_failures(tmp_path, input_dir, classical_preset):
    script = Path(__file__).resolve().parents[1] / "scripts" / "nightly.sh"
    augment = Path(sys.executable).parent / "augment"
    if not augment.exists():
        pytest.skip("no augment entry point beside the interpreter")
    Image.new("RGB", (64, 64), (250, 250, 250)).save(input_dir / "blank.png")  # fails: no product
    env = {**os.environ, "AUGMENT": str(augment), "OMP_NUM_THREADS": "1"}

    def night(out, *args):
        cmd = ["bash", str(script), "--config", str(classical_preset), "--input", str(input_dir),
               "--output", str(tmp_path / out), "--log-dir", str(tmp_path / "logs"), "--workers", "1", *args]
        return subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300, check=False)

    r = night("a", "--max-failures", "0")
    assert r.returncode == 1 and "8 written, 0 already done, 1 failed" in r.stdout, r.stdout + r.stderr
    r = night("b", "--max-failures", "1")
    assert r.returncode == 0, r.stdout + r.stderr
    logs = sorted((tmp_path / "logs").glob("nightly-*.log"))
    assert logs and all("\r" not in p.read_text() for p in logs)  # no progress bar off a terminal
    assert "FAILED blank.png" in logs[-1].read_text() and "exit 0" in logs[-1].read_text()
    # the night's page is written after the run
    assert (tmp_path / "b" / "report" / "index.html").exists() and "report " in r.stdout.splitlines()[-1]


def test_output_bases_are_distinct_even_when_a_suffixed_name_exists():
    from product_augment.jobs import output_bases

    rels = ["x.jpg", "x.png", "x_jpg.webp", "sub/y.jpg", "z.jpg"]
    names = output_bases(rels)
    assert len(set(names.values())) == len(rels)
    assert names["z.jpg"] == "z" and names["sub/y.jpg"] == "sub/y" and names["x.png"] == "x_png"
    assert names["x_jpg.webp"] == "x_jpg"  # the input that owns the name keeps it
    assert names["x.jpg"].startswith("x_jpg_") and names["x.jpg"] != "x_jpg"
    assert output_bases(list(reversed(rels))) == names  # the order of listing does not matter
    many = [f"d{i % 7}/p{i}.jpg" for i in range(20000)] + ["d0/p0.png"]
    assert len(set(output_bases(many).values())) == len(many)


def test_output_bases_are_distinct_ignoring_case():
    """`X.jpg` beside `x.png` would write one file on a case-insensitive disk: both keep the suffix."""
    from product_augment.jobs import output_bases

    names = output_bases(["X.jpg", "x.png", "y.jpg", "Y_JPG.png", "y.png"])
    assert names["X.jpg"] == "X_jpg" and names["x.png"] == "x_png" and names["Y_JPG.png"] == "Y_JPG"
    assert names["y.jpg"].startswith("y_jpg_") and names["y.png"] == "y_png"
    assert len({n.casefold() for n in names.values()}) == 5


def test_a_shard_decodes_its_inputs_in_bounded_groups(monkeypatch):
    """However large a shard, at most BATCH_PIXELS (or BATCH_IMAGES) of decoded input is held at once."""
    from product_augment.jobs import worker as J  # the module whose names are patched
    jobs = [J.Job(f"p{i}__v00", f"p{i}.png", 0, "s", f"j{i}") for i in range(7)]
    shard = J.Shard(1, tuple(jobs))
    monkeypatch.setattr(J, "read_sources", lambda ctx, rels: {r: (np.zeros((100, 100, 3), np.uint8), None)
                                                               for r in rels})
    monkeypatch.setattr(J, "BATCH_PIXELS", 25_000)
    groups = [rels for rels, _ in J._groups(shard, None)]
    assert groups == [["p0.png", "p1.png", "p2.png"], ["p3.png", "p4.png", "p5.png"], ["p6.png"]]
    monkeypatch.setattr(J, "BATCH_PIXELS", 10**9)
    monkeypatch.setattr(J, "BATCH_IMAGES", 2)
    assert [len(rels) for rels, _ in J._groups(shard, None)] == [2, 2, 2, 1]


def test_store_reads_outputs_only_inside_and_inputs_by_plain_paths(tmp_path):
    """An output path with a symlink on the way is refused for reading too; an input may be a
    symlink (the listing takes it), but its recorded path must stay a plain relative one."""
    from product_augment.storage import UnsafePath

    (tmp_path / "secret.png").write_bytes(b"private")
    root = tmp_path / "store"
    root.mkdir()
    (root / "link.png").symlink_to(tmp_path / "secret.png")
    (root / "mine.png").write_bytes(b"ok")
    store = Store(str(root))
    assert store.read_bytes("mine.png") == b"ok"
    for bad in ("link.png", "../secret.png", str(tmp_path / "secret.png")):
        with pytest.raises(UnsafePath):
            store.read_bytes(bad)
    assert store.read_input_bytes("link.png") == b"private"
    for bad in ("../secret.png", str(tmp_path / "secret.png")):
        with pytest.raises(UnsafePath):
            store.read_input_bytes(bad)


def test_a_flush_in_the_job_stream_closes_the_shard_early():
    from product_augment.jobs import FLUSH, iter_shards, make_jobs

    jobs = make_jobs([f"p{i}.png" for i in range(5)], 1, {f"p{i}.png": f"{i:064x}" for i in range(5)}, "preset")
    plain = [len(s.jobs) for s in iter_shards(jobs, 4, 1)]
    flushed = [len(s.jobs) for s in iter_shards(jobs[:2] + [FLUSH] + jobs[2:] + [FLUSH, FLUSH], 4, 1)]
    assert plain == [4, 1] and flushed == [2, 3]
