"""Executors run the same shard code: Ray (a local instance, 2 logical CPUs) gives the local
executor's bytes, with and without the segmenter's actor stage, and retries a task whose worker
died; the batched segmenter call gives the masks of one-at-a-time calls (ONNX exactly, torch to
float rounding)."""
import dataclasses
import os
import sys
from pathlib import Path

import numpy as np
import pytest

from product_augment import jobs as J
from product_augment.io import read_image
from product_augment.presets.loader import load_preset
from product_augment.runner import RunOptions
from product_augment.runner import run as run_preset

from .test_runner import YOLACT_JPG, files_of

REPO = Path(__file__).resolve().parents[1]
WEIGHTS = REPO / "weights" / "yolact_ws_effnetlite0.safetensors"
PHOTOS = ("chair.jpg", "desk_lamp.jpg", "stand_mixer.jpg")
DEFAULTS = {"seed": 7, "variants": 2, "output.annotations": ["coco", "yolo"]}


def photos(tmp_path, names=PHOTOS[:2]) -> Path:
    inp = tmp_path / "photos"
    inp.mkdir(exist_ok=True)
    for name in names:
        (inp / name).write_bytes((REPO / "examples" / name).read_bytes())
    return inp


# ------------------------------------------------------------------------------ batching

def test_onnx_batch_equals_one_at_a_time():
    from product_augment.models.yolact.onnx_predict import OnnxPredictor

    p = OnnxPredictor.from_weights(WEIGHTS)
    images = [read_image(REPO / "examples" / n, 512)[0] for n in PHOTOS]
    batch = p.soft_masks_batch(images, score_threshold=0.3)
    for image, (found, masks) in zip(images, batch):
        one_found, one_masks = p.soft_masks(image, score_threshold=0.3)
        assert np.array_equal(masks, one_masks) and len(found) == len(one_found) > 0
        assert [(i.class_id, i.box, i.score) for i in found] == [(i.class_id, i.box, i.score) for i in one_found]


def test_torch_batch_equals_one_at_a_time_to_float_rounding():
    pytest.importorskip("torch")
    from product_augment.models.yolact.predict import Predictor

    p = Predictor.from_weights(WEIGHTS, device="cpu")
    images = [read_image(REPO / "examples" / n, 384)[0] for n in PHOTOS]
    batch = p.soft_batch(images, score_threshold=0.3)
    for image, b in zip(images, batch):
        one = p.soft(image, score_threshold=0.3)
        assert len(b.scores) == len(one.scores) > 0 and np.array_equal(b.classes, one.classes)
        assert np.abs(b.masks[0] - one.masks[0]).max() < 1e-3
        assert ((b.masks[0] > 0.5) != (one.masks[0] > 0.5)).mean() < 1e-4


def test_segment_step_gives_the_same_sample_from_a_batch(tmp_path):
    from product_augment.sample import Sample

    preset = tmp_path / "y.yaml"
    preset.write_text(f"version: 1\nsteps:\n  - segment: {{backend: yolact, weights: {WEIGHTS}}}\n")
    (seg,) = load_preset(preset).build_pipeline().steps
    images = [read_image(REPO / "examples" / n, 384)[0] for n in PHOTOS]
    rng = np.random.default_rng(0)
    direct = [seg.apply(Sample(image=im), seg.draw(Sample(image=im), rng)) for im in images]
    prepared = seg.prepare(images + images[:1])  # the batch hook; a duplicate: segmented once
    seg._predictor = None  # the batch's results are used: no model is needed (or loaded) any more
    batched = [seg(Sample(image=im), rng, prepared=p) for im, p in zip(images, prepared)]
    assert seg._predictor is None
    for a, b in zip(direct, batched):
        assert np.array_equal(a.alpha, b.alpha) and a.meta["models"] == b.meta["models"]
        assert [np.array_equal(x.mask, y.mask) for x, y in zip(a.instances, b.instances)] == [True]
        assert a.meta["segment_certainty"] == b.meta["segment_certainty"]
    # what the hook keeps per image is the matte (read-only: the image's variants share it), not
    # the full-resolution soft masks
    assert prepared[-1] is prepared[0] and not prepared[0].alpha.flags.writeable
    assert [f.name for f in dataclasses.fields(prepared[0])] == ["instances", "alpha", "certainty", "models", "seconds"]


# ------------------------------------------------------------------------------ ray

@pytest.fixture(scope="module")
def ray_local(tmp_path_factory):
    ray = pytest.importorskip("ray")
    faults = tmp_path_factory.mktemp("faults")
    os.environ[J.FAIL_ONCE_ENV] = str(faults)  # the Ray workers inherit it (no marker: no fault)
    try:
        ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
        yield faults
    finally:
        ray.shutdown()
        os.environ.pop(J.FAIL_ONCE_ENV, None)


def test_ray_gives_the_local_executors_bytes(tmp_path, input_dir, classical_preset, ray_local):
    preset = load_preset(classical_preset, DEFAULTS)
    local = run_preset(preset, RunOptions(input_dir=input_dir, output_dir=tmp_path / "local", workers=2))
    ray = run_preset(preset, RunOptions(input_dir=input_dir, output_dir=tmp_path / "ray", workers=2,
                                        executor="ray", shard_size=2))
    assert local.ok and ray.ok and local.done == ray.done == 8 and ray.executor == "ray"
    assert files_of(tmp_path / "local") == files_of(tmp_path / "ray")
    again = run_preset(preset, RunOptions(input_dir=input_dir, output_dir=tmp_path / "ray", executor="ray"))
    assert again.resumed == 8 and again.done == 0


def test_ray_model_stage_gives_the_local_executors_bytes(tmp_path, ray_local):
    inp = photos(tmp_path)
    preset_path = tmp_path / "yolact.yaml"
    preset_path.write_text(YOLACT_JPG)
    preset = load_preset(preset_path, {"variants": 2})
    local = run_preset(preset, RunOptions(input_dir=inp, output_dir=tmp_path / "local", workers=1))
    ray = run_preset(preset, RunOptions(input_dir=inp, output_dir=tmp_path / "ray", workers=2,
                                        executor="ray", shard_size=2))
    assert local.ok and ray.ok and local.done == ray.done == 4
    f1, f2 = files_of(tmp_path / "local"), files_of(tmp_path / "ray")
    assert f1.keys() == f2.keys() and [k for k in f1 if f1[k] != f2[k]] == []


def test_ray_retries_a_task_whose_worker_died(tmp_path, input_dir, classical_preset, ray_local):
    (ray_local / "p1__v00").write_text("crash")
    (ray_local / "p2__v01").write_text("fail")
    preset = load_preset(classical_preset, DEFAULTS)
    s = run_preset(preset, RunOptions(input_dir=input_dir, output_dir=tmp_path / "o", executor="ray",
                                      shard_size=2))
    assert s.ok and s.done == 8, s.failed
    assert not (ray_local / "p1__v00").exists() and not (ray_local / "p2__v01").exists()
    ref = run_preset(preset, RunOptions(input_dir=input_dir, output_dir=tmp_path / "ref"))
    assert ref.ok and files_of(tmp_path / "o") == files_of(tmp_path / "ref")


def test_ray_executor_is_optional():
    from product_augment.executors import make_executor

    with pytest.raises(ValueError, match="unknown executor"):
        make_executor("dask")


def test_variants_sharing_one_batched_model_call_give_the_unbatched_bytes(tmp_path):
    from product_augment.storage import Store

    inp = photos(tmp_path, PHOTOS[:1])
    preset_path = tmp_path / "yolact.yaml"
    preset_path.write_text(YOLACT_JPG)
    preset = load_preset(preset_path, {"variants": 3})
    rels = ["chair.jpg"]
    jobs = J.make_jobs(rels, 3, {r: Store(inp).input_sha256(r) for r in rels}, preset.sha256)
    (shard,) = J.make_shards(jobs, 16, run=1)
    out = {}
    for batch in (True, False):
        J.reset_worker()
        _, seg = J.worker_pipeline(preset)
        calls = []
        for name in ("soft_masks", "soft_masks_batch"):
            orig = getattr(seg.predictor, name)
            setattr(seg.predictor, name, lambda *a, _o=orig, _n=name, _c=calls, **k: _c.append(_n) or _o(*a, **k))
        ctx = J.ShardContext(preset, Store(inp), Store(tmp_path / str(batch)), batch=batch)
        entries = J.process_shard(shard, ctx)
        assert all(e["status"] == "ok" for e in entries)
        out[batch] = files_of(tmp_path / str(batch))
        assert calls == (["soft_masks_batch"] if batch else ["soft_masks"] * 3)
        if batch:  # the batched model call's time is counted once, in the first variant's timings
            first, *rest = sorted(entries, key=lambda e: e["variant"])
            assert first["segment_batch_seconds"] > 0.005 and all("segment_batch_seconds" not in e for e in rest)
            assert first["step_seconds"]["segment"] >= first["segment_batch_seconds"]
            assert first["seconds"] >= first["segment_batch_seconds"] + sum(
                v for k, v in first["step_seconds"].items() if k != "segment") - 1e-3
    J.reset_worker()
    assert out[True].keys() == out[False].keys() and len(out[True]) == 9  # image, mask, shadow × 3
    assert [k for k in out[True] if out[True][k] != out[False][k]] == []


def _children(pid: int) -> list[int]:
    """Live processes whose parent is `pid` (Linux /proc)."""
    out = []
    for d in Path("/proc").iterdir():
        if d.name.isdigit():
            try:
                stat = (d / "stat").read_text()
            except OSError:
                continue
            fields = stat[stat.rindex(")") + 2:].split()
            if int(fields[1]) == pid and fields[0] != "Z":
                out.append(int(d.name))
    return out


def _alive(pid: int) -> bool:
    try:
        stat = (Path("/proc") / str(pid) / "stat").read_text()
    except OSError:
        return False
    return stat[stat.rindex(")") + 2:].split()[0] != "Z"


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="parent-death signal is Linux-only")
def test_workers_die_with_a_killed_run(tmp_path, classical_preset):
    """kill -9 of `augment run --workers 2` leaves no worker behind (they hold the parent-death signal)."""
    import signal
    import subprocess
    import time

    big = tmp_path / "many"
    big.mkdir()
    for i in range(10):  # the shipped 640-px packshots: a run of a minute or so
        for f in (Path(__file__).resolve().parents[1] / "examples").glob("*.jpg"):
            (big / f"{i:02d}_{f.name}").write_bytes(f.read_bytes())
    proc = subprocess.Popen([sys.executable, "-m", "product_augment.cli.main", "run", "--config",
                             str(classical_preset), "--input", str(big), "--output", str(tmp_path / "out"),
                             "--workers", "2", "--shard-size", "1", "--no-progress"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    workers: list[int] = []
    deadline = time.time() + 60
    while time.time() < deadline and proc.poll() is None:
        workers = [c for c in _children(proc.pid) if "spawn_main" in Path(f"/proc/{c}/cmdline").read_text()]
        if len(workers) >= 2 and list((tmp_path / "out").glob("parts/*.jsonl")):
            break
        time.sleep(0.2)
    assert proc.poll() is None and len(workers) >= 2, "the run ended before its workers could be seen"
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    deadline = time.time() + 10
    while time.time() < deadline and any(_alive(w) for w in workers):
        time.sleep(0.1)
    assert not any(_alive(w) for w in workers)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="the reaper reads /proc")
def test_a_local_ray_instance_dies_with_a_killed_driver(tmp_path):
    """kill -9 of a driver that started a local Ray instance leaves none of its processes behind
    (without the reaper the raylet's dashboard and runtime-env agents outlive it for good)."""
    pytest.importorskip("ray")
    import signal
    import subprocess
    import time

    from product_augment.executors.reaper import descendants

    code = ("import os, time\nfrom product_augment.executors.ray import RayExecutor\n"
            "ray = RayExecutor(workers=1)._ray()\n"
            "def pid():\n    return os.getpid()\n"
            "print(ray.get(ray.remote(pid).remote()), flush=True)\ntime.sleep(120)\n")
    env = {**os.environ, "RAY_USAGE_STATS_ENABLED": "0"}
    proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                            text=True, env=env, start_new_session=True)
    try:
        worker = int(proc.stdout.readline())
        time.sleep(1.5)  # the agents start beside the raylet; the reaper looks every 0.5 s
        ray_procs = [p for p in descendants(proc.pid) if "reaper" not in Path(f"/proc/{p}/cmdline").read_text()]
        assert worker in ray_procs and len(ray_procs) >= 4, ray_procs  # GCS, raylet, agents, the worker
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        deadline = time.time() + 10
        while time.time() < deadline and any(_alive(p) for p in ray_procs):
            time.sleep(0.2)
        assert not [p for p in ray_procs if _alive(p)]
    finally:
        if proc.poll() is None:
            proc.kill()
