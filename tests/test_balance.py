"""Class-balanced expansion: rare classes get more variants, common ones fewer, up to the target."""
import json

import pytest
from click.testing import CliRunner
from PIL import Image

from product_augment.balance import Balance, allocate, counts, parse_balance
from product_augment.classes import class_id
from product_augment.presets.loader import load_preset
from product_augment.runner import RunOptions, run

from .conftest import make_packshot


def test_parse_balance():
    b = parse_balance("target=10, min=0, max=4, cup=20")
    assert b == Balance(10, {class_id("cup"): 20}, 0, 4)
    for bad, msg in (("target", "key=value"), ("target=x", "whole number"), ("min=3", "no target"),
                     ("target=5,min=4,max=2", "above max"), ("target=5,cupp=3", "cupp")):
        with pytest.raises(ValueError, match=msg):
            parse_balance(bad)


def test_allocation_reaches_the_target_and_is_stable():
    cup, chair, lamp = class_id("cup"), class_id("chair"), class_id("lamp")
    labels = {**{f"c{i}.png": cup for i in range(7)}, "k0.png": chair, "k1.png": chair,
              "l.png": lamp, "x.png": None}
    v = allocate(labels, Balance(target=10), default=2)
    after = counts(labels, v)
    assert all(after[name] == 10 for name in after if name != "unknown") and after["unknown"] == 2
    assert sorted(v[f"c{i}.png"] for i in range(7)) == [1, 1, 1, 1, 2, 2, 2]
    assert v["k0.png"] == v["k1.png"] == 5 and v["l.png"] == 10
    assert allocate(dict(reversed(labels.items())), Balance(target=10), default=2) == v  # order-free
    # a common class stays at one variant per input (min), a cap holds the rare ones back
    v = allocate(labels, Balance(target=3, max=2), default=1)
    assert all(v[f"c{i}.png"] == 1 for i in range(7)) and v["l.png"] == 2
    v = allocate(labels, Balance(target=3, min=0), default=1)
    assert sum(v[f"c{i}.png"] for i in range(7)) == 3  # min 0: the common class is cut to the target


def _labelled_inputs(tmp_path, photos, canvas):
    """Packshots with their classes in an input COCO file (labels.json), and a preset that reads
    them with the `masks` backend onto a white canvas of `canvas` px."""
    from product_augment.annotations import mask_to_rle
    from product_augment.classes import coco_categories

    inp = tmp_path / "in"
    inp.mkdir()
    images, anns = [], []
    for i, (name, cls) in enumerate(photos):
        img, mask = make_packshot(radius=40 + 8 * i)
        Image.fromarray(img).save(inp / name)
        images.append({"id": i + 1, "file_name": name, "width": img.shape[1], "height": img.shape[0]})
        anns.append({"id": i + 1, "image_id": i + 1, "category_id": class_id(cls), "iscrowd": 0,
                     "segmentation": mask_to_rle(mask), "bbox": [0, 0, 1, 1], "area": float(mask.sum())})
    (tmp_path / "labels.json").write_text(json.dumps({"images": images, "annotations": anns,
                                                      "categories": coco_categories()}))
    preset = tmp_path / "p.yaml"
    preset.write_text("version: 1\nseed: 1\nvariants: 1\noutput: {format: png}\n"
                      "steps:\n  - segment: {backend: masks, path: labels.json}\n"
                      f"  - background: {{kind: solid, color: white, canvas: {{size: {canvas}}}}}\n")
    return inp, preset


def test_balanced_run_from_input_coco_annotations(tmp_path):
    """3 cup photos and 1 chair photo, the classes in an input COCO file: target 6 gives each cup
    2 variants and the chair 6; the summary and the CLI report the counts before and after."""
    inp, preset = _labelled_inputs(tmp_path, [("a.png", "cup"), ("b.png", "cup"), ("c.png", "cup"),
                                              ("d.png", "chair")], canvas=96)
    out = tmp_path / "o"
    s = run(load_preset(preset), RunOptions(input_dir=inp, output_dir=out, balance=parse_balance("target=6")))
    assert s.ok and s.done == 12
    assert s.classes_before == {"chair": 1, "cup": 3} and s.classes_after == {"chair": 6, "cup": 6}
    coco = json.loads((out / "annotations.json").read_text())
    per_class = {}
    for a in coco["annotations"]:
        per_class[a["category_id"]] = per_class.get(a["category_id"], 0) + 1
    assert per_class == {class_id("cup"): 6, class_id("chair"): 6}
    assert json.loads((out / "balance-labels.json").read_text())  # labels cached by content hash
    # a higher target adds variants; the ones made stay as they are (the variant is in the job id)
    before = (out / "images" / "d__v00.png").read_bytes()
    from product_augment.cli.main import main
    r = CliRunner().invoke(main, ["run", "--config", str(preset), "--input", str(inp), "--output", str(out),
                                  "--workers", "1", "--balance", "target=9"])
    assert r.exit_code == 0, r.output
    assert "6 written, 12 already done" in r.output
    assert "chair             1        9" in r.output and "cup               3        9" in r.output
    assert (out / "images" / "d__v00.png").read_bytes() == before


def test_a_lower_target_leaves_manifest_annotations_and_files_in_agreement(tmp_path):
    """A run with a lower --balance target keeps the variants it no longer plans (no run removes
    outputs it did not replace): the manifest, annotations.json and the images on disk list the
    same outputs; with --prune it removes them, and the three still agree."""
    inp, preset = _labelled_inputs(tmp_path, [("a.png", "cup"), ("d.png", "chair")], canvas=64)
    out = tmp_path / "o"

    def views():
        manifest = [json.loads(x) for x in (out / "manifest.jsonl").read_text().splitlines()]
        return ({e["outputs"]["image"] for e in manifest if e["status"] == "ok"},
                {im["file_name"] for im in json.loads((out / "annotations.json").read_text())["images"]},
                {p.relative_to(out).as_posix() for p in (out / "images").iterdir()})

    assert run(load_preset(preset), RunOptions(input_dir=inp, output_dir=out, balance=parse_balance("target=4"))).done == 8
    s = run(load_preset(preset), RunOptions(input_dir=inp, output_dir=out, balance=parse_balance("target=2")))
    assert s.ok and s.done == 0 and s.removed == 0
    listed, annotated, disk = views()
    assert listed == annotated == disk and len(disk) == 8
    s = run(load_preset(preset), RunOptions(input_dir=inp, output_dir=out, balance=parse_balance("target=2"),
                                            prune=True))
    assert s.ok and s.done == 0 and s.removed == 4
    listed, annotated, disk = views()
    assert listed == annotated == disk and len(disk) == 4
