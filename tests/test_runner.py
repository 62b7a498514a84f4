import json
import shutil
from pathlib import Path

import numpy as np
from click.testing import CliRunner
from PIL import Image
from pycocotools.coco import COCO

from product_augment.cli.main import main
from product_augment.runner import MANIFEST, RunOptions, run


def files_of(root: Path) -> dict[str, bytes]:
    skip = {MANIFEST}
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*"))
            if p.is_file() and p.name not in skip}


def opts(inp, out, workers=1, **kw):
    return RunOptions(input_dir=inp, output_dir=out, variants=2, seed=7, workers=workers,
                      formats=("coco", "yolo"), **kw)


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
    run(classical_preset, opts(input_dir, out))
    # simulate a kill: last manifest line torn, one item's files missing, a temp file left over,
    # annotations never written
    lines = (out / MANIFEST).read_bytes().splitlines(keepends=True)
    (out / MANIFEST).write_bytes(b"".join(lines[:5]) + lines[5][:40])
    (out / "images/p1__v01.png").unlink()
    (out / "images/.p2__v00.png.abc.tmp").write_bytes(b"partial")
    (out / "annotations.json").unlink()
    s = run(classical_preset, opts(input_dir, out))
    assert s.ok and s.resumed == 4 and s.done == 4
    assert files_of(out) == files_of(ref)
    entries = [json.loads(x) for x in (out / MANIFEST).read_text().splitlines()]
    assert len(entries) == 9  # 5 kept + 4 redone; the torn line is gone


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
    (input_dir / "anim.gif").write_bytes(b"GIF89a")
    (input_dir / "blank.png").write_bytes((input_dir / "p0.png").read_bytes())
    Image.new("RGB", (64, 64), (250, 250, 250)).save(input_dir / "blank.png")
    Image.new("1", (9000, 9000)).save(input_dir / "huge.png")
    out = tmp_path / "o"
    result = CliRunner().invoke(main, ["run", "--config", str(classical_preset), "--input",
                                       str(input_dir), "--output", str(out), "--workers", "1"])
    assert result.exit_code == 1
    failed = sorted(l for l in result.output.splitlines() if l.startswith("FAILED"))
    assert failed == [
        "FAILED anim.gif: unsupported file type .gif",
        "FAILED blank.png: no product found (foreground covers 0.0% of the image)",
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
