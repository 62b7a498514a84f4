import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from PIL import Image
from pycocotools.coco import COCO

from product_augment.cli.main import main
from product_augment.presets.loader import load_preset
from product_augment.runfolder import LOCK_FILE
from product_augment.runner import MANIFEST, RunError, RunOptions
from product_augment.runner import run as run_preset

# what the runner makes (seed, variants, formats) is the preset's: the tests fold theirs in as the
# CLI does with --seed/--variants/--format
DEFAULTS = {"seed": 7, "variants": 2, "output.annotations": ["coco", "yolo"]}


def run(path, options, **overrides):
    return run_preset(load_preset(path, {**DEFAULTS, **overrides}), options)


def files_of(root: Path) -> dict[str, bytes]:
    """Every output file but the manifest and its parts (they hold timings) and the run lock."""
    skip = {MANIFEST, LOCK_FILE}
    files = {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*"))
             if p.is_file() and p.name not in skip and p.relative_to(root).parts[0] != "parts"}
    if "dataset.yaml" in files:  # it names its own folder (absolute): compare the rest
        files["dataset.yaml"] = files["dataset.yaml"].replace(json.dumps(str(root.resolve())).encode(), b"<root>")
    return files


def opts(inp, out, workers=1, **kw):
    return RunOptions(input_dir=inp, output_dir=out, workers=workers, **kw)


def test_same_output_for_1_and_2_workers(tmp_path, input_dir, classical_preset):
    s1 = run(classical_preset, opts(input_dir, tmp_path / "o1", workers=1))
    s2 = run(classical_preset, opts(input_dir, tmp_path / "o2", workers=2))
    assert s1.ok and s2.ok and s1.done == s2.done == 8
    f1, f2 = files_of(tmp_path / "o1"), files_of(tmp_path / "o2")
    assert f1.keys() == f2.keys() and all(f1[k] == f2[k] for k in f1)
    assert "images/sub/q__v01.png" in f1 and "labels/p0__v00.txt" in f1


def test_resume_after_kill(tmp_path, input_dir, classical_preset):
    ref = tmp_path / "ref"
    run(classical_preset, opts(input_dir, ref))
    out = tmp_path / "killed"
    run(classical_preset, opts(input_dir, out, shard_size=2))  # 4 shards: one input's 2 variants each
    # simulate a kill: one shard never finished (its part missing, its files there or not), one
    # finished item's image lost, a temp file left over, annotations never written
    parts = sorted((out / "parts").glob("*.jsonl"))
    assert len(parts) == 4
    unfinished = [json.loads(x)["id"] for x in parts[0].read_text().splitlines()]
    parts[0].unlink()
    (out / f"images/{unfinished[0]}.png").unlink()
    lost = next(e for e in ("p0__v01", "p1__v01", "p2__v01") if e not in unfinished)
    (out / f"images/{lost}.png").unlink()
    (out / "images/.augment-tmp.p2__v00.png.abc.tmp").write_bytes(b"partial")
    (out / "annotations.json").unlink()
    s = run(classical_preset, opts(input_dir, out, shard_size=2))
    assert s.ok and s.resumed == 5 and s.done == 3
    assert files_of(out) == files_of(ref)
    entries = [json.loads(x) for x in (out / MANIFEST).read_text().splitlines()]
    assert len(entries) == 8 and [e["id"] for e in entries] == sorted(e["id"] for e in entries)


def test_resume_reads_the_single_manifest_of_older_runs(tmp_path, input_dir, classical_preset):
    ref = tmp_path / "ref"
    run(classical_preset, opts(input_dir, ref))
    out = tmp_path / "old"
    run(classical_preset, opts(input_dir, out))
    # an output folder of the one-file-manifest era: no parts, entries without job ids, the
    # last line torn by a kill
    import shutil
    shutil.rmtree(out / "parts")
    lines = []
    for x in (out / MANIFEST).read_text().splitlines():
        e = json.loads(x)
        e.pop("job"), e.pop("source_stat")
        lines.append(json.dumps(e) + "\n")
    (out / MANIFEST).write_text("".join(lines[:5]) + lines[5][:40])
    (out / "images/p1__v01.png").unlink()
    s = run(classical_preset, opts(input_dir, out))
    assert s.ok and s.resumed == 4 and s.done == 4
    assert files_of(out) == files_of(ref)
    assert (out / "parts" / "r00000-legacy.jsonl").exists()
    assert len((out / MANIFEST).read_text().splitlines()) == 8


def test_coco_masks_match_mask_files(tmp_path, input_dir, classical_preset):
    out = tmp_path / "o"
    run(classical_preset, opts(input_dir, out))
    coco = COCO(str(out / "annotations.json"))
    assert len(coco.getImgIds()) == 8 and len(coco.getAnnIds()) == 8
    assert {c["name"] for c in coco.loadCats(coco.getCatIds())} >= {"cup"}
    manifest = {e["id"]: e for e in map(json.loads, (out / MANIFEST).read_text().splitlines())}
    for img in coco.loadImgs(coco.getImgIds()):
        (ann,) = coco.loadAnns(coco.getAnnIds(imgIds=img["id"]))
        assert ann["category_id"] == 6
        m = coco.annToMask(ann).astype(bool)
        entry = manifest[img["file_name"][len("images/"):-len(".png")]]
        written = np.asarray(Image.open(out / entry["outputs"]["masks"][0])) > 127
        assert (m == written).all()
        x, y, w, h = ann["bbox"]
        ys, xs = np.nonzero(m)
        assert (x, y, x + w, y + h) == (xs.min(), ys.min(), xs.max() + 1, ys.max() + 1)


def test_bad_inputs_reported_and_skipped(tmp_path, input_dir, classical_preset):
    (input_dir / "zero.jpg").write_bytes(b"")
    (input_dir / "trunc.png").write_bytes((input_dir / "p0.png").read_bytes()[:300])
    (input_dir / "fake.webp").write_bytes(b"hello")
    (input_dir / "clip.heic").write_bytes(b"\0\0\0\x18ftypheic")
    (input_dir / "blank.png").write_bytes((input_dir / "p0.png").read_bytes())
    Image.new("RGB", (64, 64), (250, 250, 250)).save(input_dir / "blank.png")
    Image.new("1", (9000, 9000)).save(input_dir / "huge.png")
    out = tmp_path / "o"
    result = CliRunner().invoke(main, ["run", "--config", str(classical_preset), "--input",
                                       str(input_dir), "--output", str(out), "--workers", "1"])
    assert result.exit_code == 1
    failed = sorted(l for l in result.output.splitlines() if l.startswith("FAILED"))
    assert failed == [
        "FAILED blank.png: no product found (foreground covers 0.0% of the image)",
        "FAILED clip.heic: unsupported file type .heic",
        "FAILED fake.webp: not a readable image (unknown or unsupported format)",
        "FAILED huge.png: image is 9000×9000 = 81 MP, above the 80 MP limit (decompression-bomb guard)",
        "FAILED trunc.png: image file is truncated",
        "FAILED zero.jpg: file is empty (0 bytes)",
    ]
    assert "8 written" in result.output
    written = {p.relative_to(out).as_posix() for p in out.rglob("*") if p.is_file()}
    assert not any(w.startswith("images/zero") or ".tmp" in w for w in written)
    assert not any(p.is_file() for p in tmp_path.glob("*.png"))  # nothing outside --output
    statuses = [json.loads(x)["status"] for x in (out / MANIFEST).read_text().splitlines()]
    assert statuses.count("failed") == 11  # 5 bad images × 2 variants + 1 unsupported file


def test_preset_from_other_run_refused(tmp_path, input_dir, classical_preset):
    out = tmp_path / "o"
    run(classical_preset, opts(input_dir, out))
    other = tmp_path / "other.yaml"
    other.write_text(classical_preset.read_text().replace("seed: 7", "seed: 8"))
    r = CliRunner().invoke(main, ["run", "--config", str(other), "--input", str(input_dir),
                                  "--output", str(out), "--workers", "1"])
    assert r.exit_code == 1 and "holds results of a different preset" in r.output
    r = CliRunner().invoke(main, ["run", "--config", str(other), "--input", str(input_dir),
                                  "--output", str(out), "--workers", "1", "--overwrite"])
    assert r.exit_code == 0, r.output


def test_cli_dry_run_validate_and_bad_preset(tmp_path, input_dir, classical_preset):
    r = CliRunner().invoke(main, ["run", "--config", str(classical_preset), "--input", str(input_dir),
                                  "--output", str(tmp_path / "o"), "--dry-run"])
    assert r.exit_code == 0 and "steps[0] segment: " in r.output and "4 images" in r.output
    assert not (tmp_path / "o").exists()
    bad = tmp_path / "bad.yaml"
    bad.write_text("version: 1\nsteps:\n  - segment: {backend: yolactt}\n")
    r = CliRunner().invoke(main, ["validate", str(bad)])
    assert r.exit_code == 2 and "(did you mean 'yolact'?)" in r.output
    r = CliRunner().invoke(main, ["run", "--config", str(bad), "--input", str(input_dir),
                                  "--output", str(tmp_path / "o")])
    assert r.exit_code == 2 and not (tmp_path / "o").exists()


def test_output_folder_inside_the_input_folder_is_not_read_as_input(tmp_path, input_dir, classical_preset):
    out = input_dir / "augmented"
    first = run(classical_preset, opts(input_dir, out))
    again = run(classical_preset, opts(input_dir, out))
    assert first.ok and first.done == 8
    assert again.ok and again.total == 8 and again.resumed == 8 and again.done == 0
    assert not any("augmented" in p.relative_to(out).as_posix() for p in out.rglob("*"))
    r = CliRunner().invoke(main, ["run", "--config", str(classical_preset), "--input", str(input_dir),
                                  "--output", str(out), "--dry-run"])
    assert r.exit_code == 0 and "4 images, 0 unsupported" in r.output


def test_output_equal_to_input_refused_with_a_clear_message(tmp_path, input_dir, classical_preset):
    r = CliRunner().invoke(main, ["run", "--config", str(classical_preset), "--input", str(input_dir),
                                  "--output", str(input_dir), "--workers", "1"])
    assert r.exit_code == 1 and "is the input folder" in r.output
    r = CliRunner().invoke(main, ["run", "--config", str(classical_preset), "--input", str(input_dir / "sub"),
                                  "--output", str(input_dir), "--workers", "1"])
    assert r.exit_code == 1 and "contains the input" in r.output


def test_seed_override_is_used_not_silently_ignored(tmp_path, input_dir, classical_preset):
    # the preset says seed 7; a seed override (the CLI's --seed) must give seed 8's pictures and record it
    a = run(classical_preset, opts(input_dir, tmp_path / "a", limit=1))
    b = run(classical_preset, opts(input_dir, tmp_path / "b", limit=1), seed=8)
    assert a.ok and b.ok
    entries = [json.loads(x) for x in (tmp_path / "b" / MANIFEST).read_text().splitlines()]
    assert {e["seed"] for e in entries} == {8}
    first = json.loads((tmp_path / "a" / MANIFEST).read_text().splitlines()[0])
    assert entries[0]["preset_sha256"] != first["preset_sha256"]  # resume tells the two runs apart


REPO = Path(__file__).resolve().parents[1]
EVERY_KIND = f"""
version: 1
seed: 5
variants: 6
output: {{format: png, annotations: [coco, yolo], layers: [shadow, logo]}}
steps:
  - segment: {{backend: alpha}}
  - palette: {{k: 4}}
  - background:
      kind: {{choice: [solid, gradient, texture, image, studio, transparent]}}
      path: {REPO / 'backgrounds'}
      canvas: {{size: 96}}
      scale: {{range: [0.5, 0.7]}}
  - shadow: {{kind: {{choice: [mirror, drop, none]}}}}
  - logo: {{choice: [{{kind: caption}}, {{kind: logo, path: {REPO / 'logos'}}}]}}
"""


def test_every_kind_same_bytes_on_1_and_2_workers_and_replays_from_the_manifest(tmp_path):
    from product_augment.io import read_image
    from product_augment.presets.loader import load_preset
    from product_augment.sample import Sample

    from .conftest import make_packshot

    inp = tmp_path / "in"
    (inp / "sub").mkdir(parents=True)
    for name, r in (("a b.png", 30), ("sub/ünï.png", 40)):
        img, mask = make_packshot(90, 120, radius=r)
        Image.fromarray(np.dstack([img, mask.astype(np.uint8) * 255]), "RGBA").save(inp / name)
    preset_path = tmp_path / "every.yaml"
    preset_path.write_text(EVERY_KIND)
    o = {w: RunOptions(input_dir=inp, output_dir=tmp_path / f"w{w}", workers=w) for w in (1, 2)}
    s1, s2 = run_preset(preset_path, o[1]), run_preset(preset_path, o[2])
    assert s1.ok and s2.ok and s1.done == s2.done == 12
    f1, f2 = files_of(tmp_path / "w1"), files_of(tmp_path / "w2")
    assert f1.keys() == f2.keys() and all(f1[k] == f2[k] for k in f1)
    # products and layer mattes go to separate COCO files
    products = json.loads(f1["annotations.json"])
    layers = json.loads(f1["layers.json"])
    assert products["annotations"] and all(a["category_id"] <= 22 for a in products["annotations"])
    assert {c["name"] for c in layers["categories"]} == {"shadow", "logo"}
    assert {a["category_id"] for a in layers["annotations"]} <= {c["id"] for c in layers["categories"]}
    assert [im["file_name"] for im in layers["images"]] == [im["file_name"] for im in products["images"]]
    preset = load_preset(preset_path)
    pipe = preset.build_pipeline()
    entries = [json.loads(x) for x in (tmp_path / "w1" / MANIFEST).read_text().splitlines()]
    kinds = set()
    for e in entries:
        rgb, alpha = read_image(inp / e["source"])
        out = pipe.replay(Sample(rgb, alpha, meta={"relpath": e["source"]}), e["applied"])
        kinds.add(e["applied"]["background"]["params"]["kind"])
        written = np.asarray(Image.open(tmp_path / "w1" / e["outputs"]["image"]))
        expect = out.image if out.output_alpha is None else np.dstack(
            [out.image, np.clip(out.output_alpha * 255 + 0.5, 0, 255).astype(np.uint8)])
        assert np.array_equal(written, expect), e["id"]
    assert len(kinds) >= 4


def test_unsupported_files_reported_once_and_limit_counts_them(tmp_path, input_dir, classical_preset):
    (input_dir / "a.heic").write_bytes(b"\0\0\0\x18ftypheic")
    out = tmp_path / "o"
    for _ in range(2):
        s = run(classical_preset, opts(input_dir, out))
        assert s.failed == [("a.heic", "unsupported file type .heic")]
    lines = [json.loads(x) for x in (out / MANIFEST).read_text().splitlines()]
    assert sum(e["id"] == "a.heic" for e in lines) == 1
    s = run(classical_preset, opts(input_dir, tmp_path / "lim", limit=2))  # the first 2 files: a.heic, p0.png
    assert s.done == 2 and s.failed == [("a.heic", "unsupported file type .heic")]
    s = run(classical_preset, opts(input_dir, tmp_path / "lim2", limit=1, ))
    assert s.done == 0 and s.total == 1


def test_docs_presets_reference_is_current():
    from product_augment.presets.reference import preset_reference
    doc = Path(__file__).resolve().parents[1] / "docs" / "PRESETS.md"
    assert doc.read_text() == preset_reference() + "\n", \
        "docs/PRESETS.md is stale: python -m product_augment.presets.reference > docs/PRESETS.md"


# determinism, not the gate: `qa: keep` leaves every output in images/ whatever the cut looks like
YOLACT_JPG = f"""
version: 1
seed: 3
input: {{max_side: 512}}
output: {{format: jpg, quality: 92, layers: [shadow]}}
qa: {{action: keep}}
steps:
  - segment: {{backend: yolact, weights: {REPO / 'weights' / 'yolact_ws_effnetlite0.safetensors'}}}
  - palette: {{k: 4}}
  - background: {{kind: solid, color: white, canvas: {{size: 512, aspect: 1.0}}, scale: 0.72,
                 refine: {{erode: 1, feather: 1.0, decontaminate: true}}}}
  - shadow: {{kind: drop, azimuth: 25, elevation: 62, size: 0.1, opacity: 0.35, contact: 0.8}}
"""


def test_default_segmenter_jpeg_same_bytes_on_1_and_2_workers(tmp_path):
    # the shipped model and JPEG output: the in-process worker (--workers 1) must run with the
    # pool workers' one-thread limits. The main process here starts multi-threaded, as it does on
    # any multi-core machine; torch and BLAS then sum in another order and these three photos
    # came out 1 grey level different before the fix.
    import cv2
    import torch
    from threadpoolctl import threadpool_limits

    from product_augment.threads import THREAD_ENV

    inp = tmp_path / "in"
    inp.mkdir()
    for name in ("chair.jpg", "desk_lamp.jpg", "stand_mixer.jpg"):
        (inp / name).write_bytes((REPO / "examples" / name).read_bytes())
    preset_path = tmp_path / "yolact.yaml"
    preset_path.write_text(YOLACT_JPG)
    o = {w: RunOptions(input_dir=inp, output_dir=tmp_path / f"w{w}", workers=w) for w in (1, 2)}
    env = {k: os.environ.get(k) for k in THREAD_ENV}
    threads = cv2.getNumThreads(), torch.get_num_threads()
    try:
        cv2.setNumThreads(2)
        torch.set_num_threads(2)
        with threadpool_limits(2):
            s1 = run_preset(preset_path, o[1])
            # the limits are the run's, not the caller's: undone when the batch ends
            assert (cv2.getNumThreads(), torch.get_num_threads()) == (2, 2)
            assert {k: os.environ.get(k) for k in THREAD_ENV} == env
    finally:
        cv2.setNumThreads(threads[0])
        torch.set_num_threads(threads[1])
    s2 = run_preset(preset_path, o[2])
    assert s1.ok and s2.ok and s1.done == s2.done == 3
    f1, f2 = files_of(tmp_path / "w1"), files_of(tmp_path / "w2")
    assert "images/chair__v00.jpg" in f1 and "layers/chair__v00__shadow.png" in f1
    assert f1.keys() == f2.keys()
    assert [k for k in f1 if f1[k] != f2[k]] == []
    m1 = [json.loads(x) for x in (tmp_path / "w1" / MANIFEST).read_text().splitlines()]
    assert {e["models"]["segment"].split("@")[0] for e in m1} == {"yolact_ws_effnetlite0.safetensors"}


def test_manifest_names_the_classical_matte_when_the_model_finds_nothing(tmp_path, input_dir, monkeypatch):
    from product_augment.classes import class_id
    from product_augment.models.yolact import runtime

    class FindsNothing:
        def __init__(self):
            self.meta = {"iteration": 7}

        def soft_masks(self, image, score_threshold):
            return [], []

    monkeypatch.setattr(runtime, "load_predictor", lambda *a, **k: FindsNothing())
    weights = REPO / 'weights' / 'yolact_ws_effnetlite0.safetensors'
    preset_path = tmp_path / "y.yaml"
    preset_path.write_text("version: 1\nseed: 7\nvariants: 2\noutput: {format: png}\nsteps:\n"
                           f"  - segment: {{backend: yolact, weights: {weights}, mask: yolact}}\n")
    s = run(preset_path, opts(input_dir, tmp_path / "o", limit=1))
    assert s.ok and s.done == 2
    for e in map(json.loads, (tmp_path / "o" / MANIFEST).read_text().splitlines()):
        assert e["models"] == {"segment": "classical"} and e["fallback"] == {"segment": "classical"}
        assert e["applied"]["segment"] == {"backend": "yolact"}  # what the preset asked for (replay)
    # with the cut (the default), the cut draws the product though YOLACT found nothing: no
    # fallback, the preset's class (YOLACT's naming: the classifier would name it), both models named
    preset_path.write_text("version: 1\nseed: 7\nvariants: 2\noutput: {format: png}\nsteps:\n"
                           f"  - segment: {{backend: yolact, weights: {weights}, class_name: cup, class_from: yolact}}\n")
    s = run(preset_path, opts(input_dir, tmp_path / "c", limit=1))
    assert s.ok and s.done == 2
    for e in map(json.loads, (tmp_path / "c" / MANIFEST).read_text().splitlines()):
        assert "fallback" not in e and e["models"]["segment"] == "yolact_ws_effnetlite0.safetensors@it7"
        assert e["models"]["segment_cut"].startswith("cut_effnetlite0")
        assert [i["class_id"] for i in e["instances"]] == [class_id("cup")]


def test_animated_gif_input_is_read_not_refused(tmp_path, classical_preset):
    from .conftest import make_packshot

    inp = tmp_path / "in"
    inp.mkdir()
    first, mask = make_packshot(fg=(30, 90, 180))
    later, _ = make_packshot(fg=(30, 90, 180), center=(60, 60), radius=30)
    frames = [Image.fromarray(f) for f in (first, later)]
    frames[0].save(inp / "anim.gif", save_all=True, append_images=frames[1:], duration=80, loop=0)
    s = run(classical_preset, opts(inp, tmp_path / "o"))
    assert s.ok and s.done == 2
    written = np.asarray(Image.open(tmp_path / "o" / "masks" / "anim__v00__i0.png")) > 127
    assert (written & mask).sum() / (written | mask).sum() > 0.9  # the first frame's product


def test_yolo_dataset_has_a_real_split_by_source(tmp_path, input_dir, classical_preset):
    import yaml

    out = tmp_path / "o"
    s = run(classical_preset, opts(input_dir, out))
    assert s.ok
    data = yaml.safe_load((out / "dataset.yaml").read_text())
    assert data["train"] == "train.txt" and data["val"] == "val.txt"
    # the loader resolves `path` against its own folders when relative: it is the absolute folder
    assert data["path"] == str(out.resolve())
    train = (out / "train.txt").read_text().split()
    val = (out / "val.txt").read_text().split()
    images = sorted(f"./images/{p.relative_to(out / 'images').as_posix()}" for p in (out / "images").rglob("*.*"))
    assert sorted(train + val) == images and train and val
    # both variants of a source land on the same side
    def sources(files):
        return {f.rsplit("__v", 1)[0] for f in files}
    assert not sources(train) & sources(val)
    # the preset names the class (cup): the 21 classes, no generic `product` entry
    from product_augment.classes import class_id
    assert len(data["names"]) == 21 and data["names"][class_id("cup") - 1] == "cup"
    for label in (out / "labels").rglob("*.txt"):
        assert {line.split()[0] for line in label.read_text().splitlines() if line} == {str(class_id("cup") - 1)}
    # a generic product adds the `product` name at index 21
    out2 = tmp_path / "o2"
    generic = tmp_path / "generic.yaml"
    generic.write_text(classical_preset.read_text().replace("class_name: cup", "class_name: product"))
    assert run(generic, opts(input_dir, out2, limit=1)).ok
    names = yaml.safe_load((out2 / "dataset.yaml").read_text())["names"]
    assert len(names) == 22 and names[21] == "product"


def test_a_pipeline_that_cannot_be_built_stops_the_run_before_any_work(tmp_path, input_dir):
    from product_augment.runner import RunError

    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    preset = tmp_path / "p.yaml"
    preset.write_text(f"version: 1\nsteps:\n  - segment: {{backend: masks, path: {bad}}}\n")
    for workers in (1, 2):  # never inside a pool worker's initializer (that would respawn forever)
        with pytest.raises(RunError, match="cannot build the pipeline"):
            run_preset(load_preset(preset), opts(input_dir, tmp_path / f"o{workers}", workers=workers))
        assert not (tmp_path / f"o{workers}" / "images").exists()


def test_one_run_per_output_folder(tmp_path, input_dir, classical_preset):
    """A second run on a folder in use stops before any work and names the holder; the lock goes
    with its holder (a process that ends releases it, however it ends)."""
    from product_augment.runfolder import RunError, output_lock
    from product_augment.storage import Store

    out = tmp_path / "o"
    out.mkdir()
    with output_lock(Store(str(out))):
        with pytest.raises(RunError, match=rf"in use by another augment run \(pid {os.getpid()} "):
            run(classical_preset, opts(input_dir, out))
        assert not (out / "images").exists()
    s = run(classical_preset, opts(input_dir, out))
    assert s.done > 0 and not s.failed
    # a holder killed with SIGKILL leaves the file, not the lock
    code = ("import sys, time; from product_augment.runfolder import output_lock; from product_augment.storage "
            "import Store\nwith output_lock(Store(sys.argv[1])):\n    print('held', flush=True); time.sleep(60)")
    proc = subprocess.Popen([sys.executable, "-c", code, str(out)], stdout=subprocess.PIPE, text=True)
    assert proc.stdout.readline().strip() == "held"
    with pytest.raises(RunError, match=f"pid {proc.pid} "):
        run(classical_preset, opts(input_dir, out))
    proc.kill()
    proc.wait()
    assert run(classical_preset, opts(input_dir, out)).failed == []


def test_output_that_is_a_file_is_one_clear_error(tmp_path, input_dir, classical_preset):
    from product_augment.runner import RunError

    f = tmp_path / "taken"
    f.write_text("x")
    with pytest.raises(RunError, match="taken: cannot create the output folder"):
        run(classical_preset, opts(input_dir, f))
    with pytest.raises(RunError, match="cannot create the output folder"):
        run(classical_preset, opts(input_dir, f / "sub"))


def test_nothing_is_written_or_deleted_outside_the_output(tmp_path, input_dir, classical_preset):
    """A symlinked output folder is refused before any work; a tampered manifest part that names a
    file outside the run never gets it deleted; the store refuses such paths outright."""
    from product_augment.runner import RunError
    from product_augment.storage import Store, UnsafePath

    out, elsewhere = tmp_path / "o", tmp_path / "elsewhere"
    out.mkdir()
    elsewhere.mkdir()
    (out / "images").symlink_to(elsewhere, target_is_directory=True)
    with pytest.raises(RunError, match="images is a symlink"):
        run(classical_preset, opts(input_dir, out))
    assert list(elsewhere.iterdir()) == []
    (out / "images").unlink()
    store = Store(str(out))
    for bad in ("../victim", "masks/../../victim", "/etc/passwd", "masks\\..\\..\\victim"):
        with pytest.raises(UnsafePath):
            store.remove(bad)
        with pytest.raises(UnsafePath):
            store.write_bytes(bad, b"x")
    # an earlier run's entry edited to point outside; the input then changes: the old outputs of
    # that entry are removed, the victim is not
    run(classical_preset, opts(input_dir, out))
    victim = tmp_path / "victim.png"
    victim.write_bytes(b"keep me")
    part = min((out / "parts").glob("*.jsonl"))
    lines = [json.loads(x) for x in part.read_text().splitlines()]
    lines[0]["outputs"]["masks"] = ["masks/../../victim.png"]
    part.write_text("".join(json.dumps(e) + "\n" for e in lines))
    src = input_dir / lines[0]["source"]
    Image.fromarray(np.asarray(Image.open(src))[::-1].copy()).save(src)  # the input changed
    run(classical_preset, opts(input_dir, out, mode="incremental"))
    assert victim.read_bytes() == b"keep me"


def test_a_full_disk_stops_the_run_with_one_line(tmp_path, input_dir, classical_preset, monkeypatch):
    """ENOSPC (and EROFS, EACCES) are not retried job after job: the run stops at the first one with
    the path and the reason, keeps what is done, and the same command then finishes the work."""
    import errno

    from product_augment.runner import RunError
    from product_augment.storage import Store

    real = Store.write_bytes
    calls = []

    def full(self, rel, data):
        if rel.startswith("images/"):
            calls.append(rel)
            raise OSError(errno.ENOSPC, "No space left on device", str(self.path(rel)))
        return real(self, rel, data)

    monkeypatch.setattr(Store, "write_bytes", full)
    with pytest.raises(RunError, match=r"cannot write the outputs: .*images/.*: No space left on device"):
        run(classical_preset, opts(input_dir, tmp_path / "o"))
    assert len(calls) == 1  # neither retried nor repeated for the other jobs
    monkeypatch.setattr(Store, "write_bytes", real)
    s = run(classical_preset, opts(input_dir, tmp_path / "o"))
    assert s.ok and s.resumed == 0 and s.done == s.total - len(s.failed)


def test_odd_names_reported_and_user_temps_kept(tmp_path, input_dir, classical_preset):
    """A name with a newline would split its line in train.txt: it is reported with the reason and
    skipped; a user's own `.notes.tmp` in the output folder survives the stale-temp sweep, ours go."""
    from .conftest import make_packshot

    img, _ = make_packshot()
    Image.fromarray(img).save(input_dir / "two\nlines.png")
    out = tmp_path / "o"
    out.mkdir()
    (out / ".notes.tmp").write_text("mine")
    (out / ".augment-tmp.x.png.abc.tmp").write_bytes(b"partial")
    s = run(classical_preset, opts(input_dir, out))
    assert (out / ".notes.tmp").read_text() == "mine" and not (out / ".augment-tmp.x.png.abc.tmp").exists()
    reasons = dict(s.failed)
    assert "control characters" in reasons["two\nlines.png"]
    for name in ("train.txt", "val.txt"):
        assert all("lines" not in line for line in (out / name).read_text().splitlines())


def _dataset_views(out: Path) -> dict[str, set[str]]:
    """The images each view of a run folder lists: manifest (ok), COCO, YOLO lists, export, disk."""
    from product_augment.export import dataset_entries
    from product_augment.storage import Store

    manifest = [json.loads(x) for x in (out / MANIFEST).read_text().splitlines()]
    return {
        "manifest": {e["outputs"]["image"] for e in manifest if e["status"] == "ok"},
        "coco": {im["file_name"] for im in json.loads((out / "annotations.json").read_text())["images"]},
        "yolo": {x[2:] for n in ("train.txt", "val.txt") for x in (out / n).read_text().splitlines()},
        "export": {e["outputs"]["image"] for e in dataset_entries(Store(str(out)))},
        "disk": {p.relative_to(out).as_posix() for p in (out / "images").rglob("*") if p.is_file()},
    }


def test_manifest_annotations_and_files_agree_after_resume_following_incremental(tmp_path, input_dir,
                                                                                 classical_preset):
    """One rule: the manifest, annotations.json, the YOLO lists, `augment export` and the files
    describe the latest entry of every output name in the history whose files are on disk. No run
    removes an output it did not just replace: a resume-mode run keeps the outputs of an input gone
    since (they stay in every view); only --prune makes the folder the run's plan."""
    from .conftest import make_packshot

    out = tmp_path / "o"
    run(classical_preset, opts(input_dir, out, mode="incremental"))
    img, _ = make_packshot(radius=44)
    Image.fromarray(img).save(input_dir / "extra.png")
    assert run(classical_preset, opts(input_dir, out, mode="incremental")).done == 2
    (input_dir / "extra.png").unlink()
    s = run(classical_preset, opts(input_dir, out))  # resume: extra.png is gone from the inputs
    assert s.ok and s.removed == 0 and s.done == 0
    views = _dataset_views(out)
    assert len(views["disk"]) == 10 and all(v == views["disk"] for v in views.values()), views
    assert run(classical_preset, opts(input_dir, out, limit=1)).removed == 0
    # a user deletes one output's image by hand: every view drops it (manifest included)
    (out / "images" / "extra__v01.png").unlink()
    run(classical_preset, opts(input_dir, out, mode="incremental"))
    views = _dataset_views(out)
    assert len(views["disk"]) == 9 and all(v == views["disk"] for v in views.values()), views
    # --prune: the folder becomes the plan, with a count; refused with --limit (a partial plan)
    with pytest.raises(RunError, match="--prune"):
        run(classical_preset, opts(input_dir, out, limit=1, prune=True))
    assert (out / "images" / "extra__v00.png").exists()
    s = run(classical_preset, opts(input_dir, out, prune=True))
    assert s.ok and s.removed == 2 and s.done == 0
    views = _dataset_views(out)
    assert len(views["disk"]) == 8 and all(v == views["disk"] for v in views.values()), views
    assert not list((out / "masks").glob("extra__*"))


def test_a_second_batch_into_the_same_output_keeps_the_first(tmp_path, input_dir, classical_preset):
    """batch1 then batch2 into one --output (the default mode): batch1's outputs are kept, on disk
    and in every view; `augment run --prune` on batch2 then removes them, saying how many."""
    from .conftest import make_packshot

    out, batch2 = tmp_path / "o", tmp_path / "batch2"
    batch2.mkdir()
    img, _ = make_packshot(radius=40)
    Image.fromarray(img).save(batch2 / "new.png")
    run(classical_preset, opts(input_dir, out))
    first = files_of(out)
    s = run(classical_preset, opts(batch2, out))
    assert s.ok and s.done == 2 and s.removed == 0
    kept = files_of(out)
    assert all(kept[k] == v for k, v in first.items() if k.startswith(("images/", "masks/", "labels/")))
    views = _dataset_views(out)
    assert len(views["disk"]) == 10 and all(v == views["disk"] for v in views.values()), views
    r = CliRunner().invoke(main, ["run", "--config", str(classical_preset), "--input", str(batch2),
                                  "--output", str(out), "--workers", "1", "--prune", "--seed", "7",
                                  "--variants", "2", "--format", "coco,yolo"])
    assert r.exit_code == 0 and "8 pruned (not planned)" in r.output, r.output
    views = _dataset_views(out)
    assert views["disk"] == {"images/new__v00.png", "images/new__v01.png"}
    assert all(v == views["disk"] for v in views.values()), views


def test_hidden_inputs_reported_and_counted(tmp_path, input_dir, classical_preset):
    """Names starting with "." are skipped, but said: a hidden file by name, a hidden folder once."""
    from .conftest import make_packshot

    img, _ = make_packshot()
    Image.fromarray(img).save(input_dir / ".hidden.png")
    (input_dir / ".git").mkdir()
    (input_dir / ".git" / "HEAD").write_text("ref")
    (input_dir / "sub" / ".DS_Store").write_bytes(b"\0")
    s = run(classical_preset, opts(input_dir, tmp_path / "o"))
    assert s.ok and s.done == 8 and s.hidden == [".git/", ".hidden.png", "sub/.DS_Store"]
    r = CliRunner().invoke(main, ["run", "--config", str(classical_preset), "--input", str(input_dir),
                                  "--output", str(tmp_path / "cli"), "--workers", "1"])
    assert r.exit_code == 0 and "3 hidden skipped (names starting with '.'): '.git/'" in r.output, r.output


def test_an_unwritable_output_folder_stops_the_run_before_any_image(tmp_path, input_dir, classical_preset,
                                                                     monkeypatch):
    """A read-only (EROFS) or forbidden (EACCES) output folder is one line naming the folder, exit 1,
    no traceback, and no input is read first (root ignores permission bits: the OS is simulated)."""
    import errno
    import tempfile

    from product_augment.runner import RunError
    from product_augment.storage import Store

    out = tmp_path / "o"
    run(classical_preset, opts(input_dir, out, limit=1))  # the folder exists with outputs
    real_mkstemp, reads = tempfile.mkstemp, []
    monkeypatch.setattr(Store, "read_input", lambda self, rel, side: reads.append(rel))
    for code, text in ((errno.EROFS, "Read-only file system"), (errno.EACCES, "Permission denied")):
        def refuse(*args, code=code, text=text, **kw):
            if Path(kw.get("dir") or ".").resolve().is_relative_to(out.resolve()):
                raise OSError(code, text, str(kw["dir"]))
            return real_mkstemp(*args, **kw)

        monkeypatch.setattr(tempfile, "mkstemp", refuse)
        with pytest.raises(RunError, match=rf"{out}: cannot write in the output folder: {text}"):
            run(classical_preset, opts(input_dir, out))
        r = CliRunner().invoke(main, ["run", "--config", str(classical_preset), "--input", str(input_dir),
                                      "--output", str(out), "--workers", "1", "--variants", "2", "--seed", "7"])
        assert r.exit_code == 1 and r.output.strip().splitlines() == \
            [f"Error: {out}: cannot write in the output folder: {text}"], r.output
        assert reads == []


def test_a_symlink_inside_the_output_stops_the_run_with_one_line(tmp_path, input_dir, classical_preset):
    """A symlink below an output folder (images/sub → elsewhere) is met at the first write: the run
    stops there with the link's path (not one 'internal error' per job); nothing lands outside."""
    from product_augment.runner import RunError

    out, elsewhere = tmp_path / "o", tmp_path / "elsewhere"
    elsewhere.mkdir()
    (out / "images").mkdir(parents=True)
    (out / "images" / "sub").symlink_to(elsewhere, target_is_directory=True)
    with pytest.raises(RunError, match=r"images/sub is a symlink"):
        run(classical_preset, opts(input_dir, out))
    assert list(elsewhere.iterdir()) == []
    (out / LOCK_FILE).unlink()
    (out / LOCK_FILE).symlink_to(elsewhere / "lock")
    (out / "images" / "sub").unlink()
    with pytest.raises(RunError, match=r"\.augment\.lock is a symlink"):
        run(classical_preset, opts(input_dir, out))
    assert list(elsewhere.iterdir()) == []


def test_the_default_worker_count_fits_the_job():
    from product_augment.executors import MIN_JOBS_PER_WORKER, default_workers

    assert default_workers(12 * 2, cores=8) == 1  # a dozen images: one worker
    assert default_workers(0, cores=8) == 1
    assert default_workers(3 * MIN_JOBS_PER_WORKER, cores=8) == 3
    assert default_workers(10_000, cores=8) == 8


def test_dry_run_uses_the_runs_planner_with_balance(tmp_path, input_dir, classical_preset):
    """--dry-run counts what the run makes (--balance's variants, not the preset's) and writes nothing."""
    args = ["run", "--config", str(classical_preset), "--input", str(input_dir), "--output", str(tmp_path / "o"),
            "--variants", "2"]
    r = CliRunner().invoke(main, [*args, "--dry-run", "--balance", "target=12"])
    assert r.exit_code == 0 and "4 images, 0 unsupported files → 12 outputs (1 worker)" in r.output, r.output
    assert not (tmp_path / "o").exists()
    r = CliRunner().invoke(main, [*args, "--balance", "target=12", "--workers", "1"])
    assert r.exit_code == 0 and "12 written" in r.output, r.output
