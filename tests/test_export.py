"""`augment export coco|yolo`: the parts of a run folder as one dataset, round trip."""
import json
from pathlib import Path

import numpy as np
import pytest
import yaml
from click.testing import CliRunner
from PIL import Image
from pycocotools.coco import COCO

from product_augment.cli.main import main
from product_augment.presets.loader import load_preset
from product_augment.runner import RunOptions, run

DEFAULTS = {"seed": 7, "variants": 2, "output.annotations": ["coco", "yolo"]}


def make_run(tmp_path, input_dir, classical_preset, **kw) -> Path:
    out = tmp_path / "run"
    s = run(load_preset(classical_preset, DEFAULTS), RunOptions(input_dir=input_dir, output_dir=out, **kw))
    assert s.ok
    return out


def test_export_coco_round_trip(tmp_path, input_dir, classical_preset):
    out = make_run(tmp_path, input_dir, classical_preset, shard_size=2)
    r = CliRunner().invoke(main, ["export", "coco", str(tmp_path / "x" / "all.json"), "--run", str(out)])
    assert r.exit_code == 0 and "8 images, 8 annotations" in r.output, r.output
    coco = COCO(str(tmp_path / "x" / "all.json"))
    mine = json.loads((out / "annotations.json").read_text())
    exported = json.loads((tmp_path / "x" / "all.json").read_text())
    assert exported["info"]["image_root"] == str(out)
    assert {k: exported[k] for k in ("images", "annotations", "categories")} == \
        {k: mine[k] for k in ("images", "annotations", "categories")}
    for img in coco.loadImgs(coco.getImgIds()):  # every mask decodes onto its written image
        (ann,) = coco.loadAnns(coco.getAnnIds(imgIds=img["id"]))
        m = coco.annToMask(ann).astype(bool)
        written = np.asarray(Image.open(out / img["file_name"].replace("images/", "masks/")
                                        .replace(".png", "__i0.png"))) > 127
        assert (m == written).all()


def test_export_yolo_round_trip(tmp_path, input_dir, classical_preset):
    out = make_run(tmp_path, input_dir, classical_preset)
    dst = tmp_path / "yolo"
    r = CliRunner().invoke(main, ["export", "yolo", str(dst), "--run", str(out)])
    assert r.exit_code == 0, r.output
    data = yaml.safe_load((dst / "dataset.yaml").read_text())
    assert data["train"] == "images/train" and data["val"] == "images/val" and len(data["names"]) == 21
    assert data["path"] == str(dst.resolve())
    split = {s: sorted(p.relative_to(dst / "images" / s).as_posix() for p in (dst / "images" / s).rglob("*.png"))
             for s in ("train", "val")}
    assert split["train"] and split["val"] and len(split["train"]) + len(split["val"]) == 8
    # the runner's split (train.txt / val.txt), by source: no variant of a val photo in train
    assert split["val"] == sorted(x[len("./images/"):] for x in (out / "val.txt").read_text().split())
    assert not {f.rsplit("__v", 1)[0] for f in split["train"]} & {f.rsplit("__v", 1)[0] for f in split["val"]}
    for s, files in split.items():
        for f in files:
            assert (dst / "images" / s / f).read_bytes() == (out / "images" / f).read_bytes()
            label = f[:-len(".png")] + ".txt"  # the polygons the run wrote, made again from the masks
            assert (dst / "labels" / s / label).read_text() == (out / "labels" / label).read_text()


def test_export_reads_an_incremental_dataset_and_refuses_a_non_run(tmp_path, input_dir, classical_preset):
    out = make_run(tmp_path, input_dir, classical_preset, mode="incremental")
    (input_dir / "p0.png").unlink()
    s = run(load_preset(classical_preset, DEFAULTS),
            RunOptions(input_dir=input_dir, output_dir=out, mode="incremental"))
    assert s.ok and s.resumed == 6
    r = CliRunner().invoke(main, ["export", "coco", str(tmp_path / "all.json"), "--run", str(out)])
    assert r.exit_code == 0 and "8 images" in r.output  # p0's outputs stay in the dataset
    r = CliRunner().invoke(main, ["export", "coco", str(tmp_path / "x.json"), "--run", str(tmp_path)])
    assert r.exit_code == 1 and "not a run folder" in r.output


def test_yolo_split_never_puts_one_source_on_both_sides():
    from product_augment.annotations import yolo_split
    from product_augment.pipeline import stable_hash

    # sources that all hash into train: the fallback moves a whole source, never one variant
    sources = [f"s{i}.png" for i in range(200) if stable_hash(f"s{i}.png") % 100 >= 10][:3]
    entries = [{"id": f"{s}__v{v:02d}", "source": s} for s in sources for v in range(2)]
    split = yolo_split(entries)
    train, val = ({e["source"] for e in split[k]} for k in ("train", "val"))
    assert val and train and not train & val and len(split["val"]) == 2
    # one source only: no split possible, all train
    one = [e for e in entries if e["source"] == sources[0]]
    assert yolo_split(one) == {"train": one, "val": []}


def test_a_crafted_entry_never_makes_the_export_read_or_write_outside(tmp_path, input_dir, classical_preset):
    """An `outputs.image` edited to climb out of the run (or absolute) is one ExportError naming the
    entry: nothing outside is read, nothing is written anywhere; a symlinked image is refused too."""
    out = make_run(tmp_path, input_dir, classical_preset)
    secret = tmp_path / "secret.png"
    secret.write_bytes(b"private")
    part = min((out / "parts").glob("*.jsonl"))
    clean = part.read_text()
    for bad in ("images/../../secret.png", str(secret), "masks/p0__v00__i0.png"):
        lines = [json.loads(x) for x in clean.splitlines()]
        lines[0]["outputs"]["image"] = bad
        part.write_text("".join(json.dumps(e) + "\n" for e in lines))
        for fmt, dst in (("yolo", tmp_path / "y"), ("coco", tmp_path / "c.json")):
            r = CliRunner().invoke(main, ["export", fmt, str(dst), "--run", str(out)])
            assert r.exit_code == 1 and f"entry {lines[0]['id']!r}: outputs.image" in r.output, r.output
            assert not dst.exists() and "Traceback" not in r.output
    part.write_text(clean)
    image = out / "images" / "p0__v00.png"
    image.unlink()
    image.symlink_to(secret)
    r = CliRunner().invoke(main, ["export", "yolo", str(tmp_path / "y"), "--run", str(out)])
    assert r.exit_code == 1 and "is a symlink" in r.output, r.output
    assert not list((tmp_path / "y").rglob("*.png")) or all(
        p.read_bytes() != b"private" for p in (tmp_path / "y").rglob("*.png"))


def _ultralytics_images(dataset_yaml: Path, split: str) -> list[Path]:
    """The images Ultralytics' `check_det_dataset` + `load_dataset` find for a split: `path`
    against the working directory when relative, the split against `path`, a .txt list's "./" lines
    against the list's folder, a folder's images recursively."""
    data = yaml.safe_load(dataset_yaml.read_text())
    root = Path(data["path"])
    if not root.is_absolute():
        root = (Path.cwd() / root).resolve()
    target = root / data[split]
    if target.suffix == ".txt":
        return [Path(x.replace("./", str(target.parent) + "/", 1)) if x.startswith("./") else Path(x)
                for x in target.read_text().splitlines() if x]
    return sorted(p for p in target.rglob("*") if p.suffix in (".png", ".jpg"))


def test_yolo_datasets_load_from_any_working_directory(tmp_path, input_dir, classical_preset, monkeypatch):
    """The run's dataset.yaml and the export's resolve to their images from another folder (the
    way Ultralytics resolves them), and the COCO export's image_root is absolute."""
    out = make_run(tmp_path, input_dir, classical_preset)
    dst = tmp_path / "yolo"
    assert CliRunner().invoke(main, ["export", "yolo", str(dst), "--run", str(out)]).exit_code == 0
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    for dataset in (out / "dataset.yaml", dst / "dataset.yaml"):
        found = _ultralytics_images(dataset, "train") + _ultralytics_images(dataset, "val")
        assert len(found) == 8 and all(p.is_file() for p in found), (dataset, found)
    rel = Path("..") / "run"  # a --run given relative to the working directory
    assert CliRunner().invoke(main, ["export", "coco", "all.json", "--run", str(rel)]).exit_code == 0
    root = Path(json.loads((elsewhere / "all.json").read_text())["info"]["image_root"])
    assert root.is_absolute() and root == out.resolve()


def test_eval_segmenter_on_photos_with_masks(tmp_path):
    """`augment eval segmenter --photos DIR`: the top mask's IoU against a hand mask, per photo and
    in the summary (the README's real-photo protocol); --data or --photos, one of the two."""
    pytest.importorskip("torch")
    repo = Path(__file__).resolve().parents[1]
    (tmp_path / "images").mkdir()
    (tmp_path / "masks").mkdir()
    Image.open(repo / "examples" / "chair.jpg").convert("RGB").resize((256, 256)).save(tmp_path / "images" / "c.jpg")
    Image.fromarray(np.zeros((256, 256), np.uint8)).save(tmp_path / "masks" / "c.png")  # nothing: IoU 0
    r = CliRunner().invoke(main, ["eval", "segmenter", "--photos", str(tmp_path), "--out", str(tmp_path / "r.json")])
    assert r.exit_code == 0, r.output
    got = json.loads((tmp_path / "r.json").read_text())
    assert got["summary"]["n"] == 1 and got["images"][0]["stem"] == "c" and got["images"][0]["iou"] == 0.0
    assert "yolact n=1 mean_IoU=0.0000" in r.output
    r = CliRunner().invoke(main, ["eval", "segmenter"])
    assert r.exit_code == 2 and "--data" in r.output and "--photos" in r.output


def test_subfolders_layout_is_named_by_every_view_and_resumes(tmp_path, input_dir, classical_preset):
    """`output.subfolders`: each output's files under images/XX/, masks/XX/, labels/XX/ (XX from its
    name's hash); the annotations, the YOLO lists, the export and resume all follow the recorded
    paths, and the pixels are those of the flat layout."""
    from product_augment.jobs.outputs import subfolder
    flat = make_run(tmp_path / "flat", input_dir, classical_preset)
    out = tmp_path / "sub"
    s = run(load_preset(classical_preset, {**DEFAULTS, "output.subfolders": True}),
            RunOptions(input_dir=input_dir, output_dir=out))
    assert s.ok and s.done == 8
    entries = [json.loads(x) for x in (out / "manifest.jsonl").read_text().splitlines()]
    assert len({subfolder(e["id"]) for e in entries}) > 1  # spread over several folders
    for e in entries:
        o, sub = e["outputs"], subfolder(e["id"])
        assert o["image"] == f"images/{sub}/{e['id']}.png" and o["label"] == f"labels/{sub}/{e['id']}.txt"
        assert all(m.startswith(f"masks/{sub}/{e['id']}__i") for m in o["masks"])
        assert (out / o["image"]).read_bytes() == (flat / f"images/{e['id']}.png").read_bytes()
        assert (out / o["label"]).read_text() == (flat / f"labels/{e['id']}.txt").read_text()
    coco = json.loads((out / "annotations.json").read_text())
    assert sorted(im["file_name"] for im in coco["images"]) == sorted(e["outputs"]["image"] for e in entries)
    assert all((out / im["file_name"]).is_file() for im in coco["images"])
    listed = _ultralytics_images(out / "dataset.yaml", "train") + _ultralytics_images(out / "dataset.yaml", "val")
    assert len(listed) == 8 and all(p.is_file() for p in listed)
    assert all(Path("/labels/".join(str(p).rsplit("/images/", 1))).with_suffix(".txt").is_file() for p in listed)
    # resume: nothing to do; a deleted file is made again at its own path
    (out / entries[3]["outputs"]["image"]).unlink()
    again = run(load_preset(classical_preset, {**DEFAULTS, "output.subfolders": True}),
                RunOptions(input_dir=input_dir, output_dir=out))
    assert again.ok and again.done == 1 and again.resumed == 7
    assert (out / entries[3]["outputs"]["image"]).is_file()
    dst = tmp_path / "yolo"
    r = CliRunner().invoke(main, ["export", "yolo", str(dst), "--run", str(out)])
    assert r.exit_code == 0, r.output
    found = _ultralytics_images(dst / "dataset.yaml", "train") + _ultralytics_images(dst / "dataset.yaml", "val")
    assert len(found) == 8 and all(p.is_file() for p in found)
    # Ultralytics finds a label by replacing the last /images/ with /labels/
    assert all(Path("/labels/".join(str(p).rsplit("/images/", 1))).with_suffix(".txt").is_file() for p in found)


def test_subfolders_layout_of_rejected_outputs(tmp_path, input_dir, classical_preset):
    """Rejected outputs keep the same sub-folder layout under rejected/, reasons included, and stay
    out of the dataset's views."""
    from product_augment.jobs.outputs import subfolder
    out = tmp_path / "rej"
    # a risk threshold of 0 rejects every output (any cut has some risk)
    s = run(load_preset(classical_preset, {**DEFAULTS, "output.subfolders": True, "qa.max_defect_risk": 0.0}),
            RunOptions(input_dir=input_dir, output_dir=out))
    assert s.ok and s.qa == {"reject": 8}
    entries = [json.loads(x) for x in (out / "manifest.jsonl").read_text().splitlines()]
    rejected = [e for e in entries if e["qa"]["verdict"] == "reject"]
    assert rejected
    for e in rejected:
        sub = subfolder(e["id"])
        assert e["outputs"]["image"] == f"rejected/images/{sub}/{e['id']}.png"
        assert e["outputs"]["reasons"] == f"rejected/reasons/{sub}/{e['id']}.json"
        assert (out / e["outputs"]["image"]).is_file() and (out / e["outputs"]["reasons"]).is_file()
    coco = json.loads((out / "annotations.json").read_text())
    assert not {im["file_name"] for im in coco["images"]} & {e["outputs"]["image"] for e in rejected}
