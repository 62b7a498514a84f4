"""`augment export coco|yolo`: the parts of a run folder as one dataset, round trip."""
import json
from pathlib import Path

import numpy as np
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
