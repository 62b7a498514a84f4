"""The quality gate: each signal reacts to the defect it names, the gate's verdicts, and a run that
keeps rejected outputs out of the dataset."""
from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pytest
from PIL import Image

from product_augment import qa
from product_augment.qa import QAConfig, halo_signal, judge, segment_signals

from .conftest import make_packshot

BG = (240, 240, 240)


def disc(h=240, w=320, r=70, fg=(190, 40, 30), center=None):
    img, mask = make_packshot(h, w, radius=r, bg=BG, fg=fg, center=center)
    return img, mask


def sig(img, mask, **kw):
    return segment_signals(img, mask.astype(np.float32), **kw)


def test_a_clean_cut_passes_every_check():
    img, mask = disc()
    s = sig(img, mask, score=0.9)
    assert s["fragments"] == 0 and s["fragment_area"] == 0 and s["border_touch"] == 0
    assert s["hole_area"] == 0 and s["hole_product_area"] == 0
    assert s["ragged"] < 0.01 and s["lost_area"] < 0.01 and s["backdrop_inside"] < 0.01 and s["shadow_area"] == 0
    assert judge(s, QAConfig())["verdict"] == "keep"


def test_fragments_and_border_touch():
    img, mask = disc()
    stray = np.zeros_like(mask)
    stray[10:30, 10:30] = True
    s = sig(img, mask | stray)
    assert s["fragments"] == 1 and 0.02 < s["fragment_area"] < 0.03  # 400 px of 15,800
    img2, mask2 = disc(center=(230, 160))  # the product runs off the bottom of the photo
    s2 = sig(img2, mask2)
    assert s2["border_touch"] > 0.1
    assert {f["check"] for f in judge(s2, QAConfig())["failed"]} == {"border_touch"}


def test_a_hole_of_product_colour_counts_a_hole_showing_the_backdrop_does_not():
    img, mask = disc(r=80)
    hole = np.zeros_like(mask)
    hole[105:135, 145:175] = True
    s = sig(img, mask & ~hole)                         # the photo shows product in the hole: a defect
    assert s["hole_product_area"] > 0.03 and s["hole_area"] == pytest.approx(s["hole_product_area"])
    ring_img = img.copy()
    ring_img[hole] = BG                                # a real hole (a ring): the backdrop shows through
    s2 = sig(ring_img, mask & ~hole)
    assert s2["hole_area"] > 0.03 and s2["hole_product_area"] == 0


def test_a_part_left_out_and_backdrop_taken():
    img, mask = disc(r=60)
    img[110:130, 220:300] = (30, 90, 180)              # a handle the cut left out
    s = sig(img, mask)
    assert s["lost_area"] > 0.05  # the part of it within reach (12 % of the side)
    taken = mask.copy()
    taken[60:180, 200:260] = True                      # a slab of backdrop cut out with the product
    s2 = sig(img, taken & ~((np.mgrid[:240, :320][0] > 105) & (np.mgrid[:240, :320][0] < 135)) | mask)
    assert s2["backdrop_inside"] > 0.1 and s["backdrop_inside"] < 0.01


def test_a_cast_shadow_cut_out_with_the_product():
    img, mask = disc(r=60, center=(110, 160))
    yy, xx = np.mgrid[:240, :320]
    # a soft grey shadow on the floor under the product, fading into the backdrop
    d = ((yy - 175) / 14.0) ** 2 + ((xx - 175) / 80.0) ** 2
    shade = np.clip(1 - d, 0, 1) * 0.35
    floor = ~mask & (d < 1)
    img[floor] = (np.array(BG, np.float32) * (1 - shade[floor, None])).astype(np.uint8)
    with_shadow = mask | (d < 0.8)
    assert sig(img, with_shadow)["shadow_area"] > 0.05
    assert sig(img, mask)["shadow_area"] == 0


def test_halo_is_the_old_backdrop_left_around_the_cut_out():
    img, mask = disc(r=60)
    plate = np.zeros_like(img)
    plate[:] = (20, 120, 40)
    alpha = mask.astype(np.float32)
    clean = np.where(mask[..., None], img, plate)
    backdrop = list(qa.to_lab(np.array([[BG]], np.uint8))[0, 0])
    assert halo_signal(clean, alpha, plate, backdrop) == 0
    fringe = mask & ~cv2.erode(mask.astype(np.uint8), np.ones((7, 7), np.uint8)).astype(bool)
    dirty = clean.copy()
    dirty[fringe] = BG                                 # the old white backdrop kept on the edge
    assert halo_signal(dirty, alpha, plate, backdrop) > 0.5
    # on a new background like the old one no halo can show
    assert halo_signal(dirty, alpha, np.full_like(img, 238), backdrop) == 0


def test_judge_actions_flag_only_and_scene_checks():
    s = {"confidence": 0.2, "ragged": 0.0, "enlargement": 3.0, "scene": {"scale": {"value": 2.1, "ok": False}}}
    cfg = QAConfig(min_confidence=0.3)
    assert {f["check"] for f in judge(s, QAConfig())["failed"]} == {"enlargement", "scene:scale"}  # off by default
    v = judge(s, cfg)
    assert v["verdict"] == "reject"
    by = {f["check"]: f["action"] for f in v["failed"]}
    assert by == {"confidence": "reject", "enlargement": "flag", "scene:scale": "flag"}
    assert judge(s, cfg.model_copy(update={"action": "flag"}))["verdict"] == "flag"
    assert {f["check"]: f["action"]
            for f in judge(s, cfg.model_copy(update={"flag_only": []}))["failed"]}["scene:scale"] == "reject"
    keep = judge(s, cfg.model_copy(update={"action": "keep"}))
    assert keep["verdict"] == "keep" and len(keep["failed"]) == 3        # recorded, nothing done
    assert judge({"enlargement": 3.0}, QAConfig())["verdict"] == "flag"
    assert judge({"enlargement": 3.0}, QAConfig(max_enlargement=4))["verdict"] == "keep"
    assert judge({"logo_skipped": "no room"}, QAConfig(logo_skipped=False))["verdict"] == "keep"


def test_scene_checks_read_what_the_steps_recorded():
    true = {"background": {"kind": "image", "size": {"mode": "true", "class": "cup", "cm": 11.0}},
            "shadow": {"kind": "drop", "light": "backdrop oak.jpg"}}
    assert {k: v["ok"] for k, v in qa.scene_checks(true).items()} == {"scale": True, "light": True}
    fallback = {"background": {"choice": 1, "params": {"kind": "image", "size": {"mode": "scale",
                                                                              "why": "class unknown"}}},
                "shadow": {"kind": "realistic"}}
    checks = qa.scene_checks(fallback)
    assert checks == {"scale": {"value": "class unknown", "ok": False},
                      "light": {"value": "the preset's light, not the scene's", "ok": False}}
    v = judge({"scene": checks}, QAConfig())
    assert v["verdict"] == "flag" and [f["reason"] for f in v["failed"]] == [
        "scene light: the preset's light, not the scene's", "scene scale: class unknown"]
    assert qa.scene_checks({"background": {"kind": "solid"}, "shadow": {"kind": "drop"}}) == {}


def test_bad_qa_section_names_the_field(tmp_path):
    from product_augment.presets.errors import PresetError
    from product_augment.presets.loader import load_preset

    p = tmp_path / "p.yaml"
    p.write_text("version: 1\nqa: {action: drop, max_holes: 0.1}\nsteps:\n  - segment: {backend: alpha}\n")
    with pytest.raises(PresetError) as e:
        load_preset(p)
    msg = str(e.value)
    assert "p.yaml" in msg and "qa.action" in msg and "qa.max_holes" in msg


PRESET = """
version: 1
variants: 2
output: {{format: png, annotations: [coco, yolo]}}
qa: {qa}
steps:
  - segment: {{backend: alpha}}
  - background: {{kind: solid, color: [20, 120, 40], canvas: {{size: 160}}, scale: 0.9}}
"""


def _run(tmp_path: Path, qa_yaml: str, name: str):
    from product_augment.runner import RunOptions, run

    inp = tmp_path / "in"
    if not inp.exists():
        inp.mkdir()
        for i, r in enumerate((30, 70)):  # the 0.9 scale enlarges the small one past 1.3x, not the large one
            img, mask = make_packshot(160, 200, radius=r)
            Image.fromarray(np.dstack([img, mask.astype(np.uint8) * 255]), "RGBA").save(inp / f"p{i}.png")
    p = tmp_path / f"{name}.yaml"
    p.write_text(PRESET.format(qa=qa_yaml))
    out = tmp_path / name
    return run(p, RunOptions(input_dir=inp, output_dir=out)), out


def test_rejected_outputs_go_to_rejected_and_stay_out_of_the_dataset(tmp_path):
    summary, out = _run(tmp_path, "{flag_only: [], max_enlargement: 1.3}", "rej")
    assert summary.ok and summary.done == 4
    assert summary.qa == {"reject": 2, "keep": 2} and summary.qa_reasons == {"reject": {"enlargement": 2}}
    entries = {json.loads(x)["id"]: json.loads(x) for x in (out / "manifest.jsonl").read_text().splitlines()}
    assert {i for i, e in entries.items() if e["qa"]["verdict"] == "reject"} == {"p0__v00", "p0__v01"}
    rej = entries["p0__v00"]
    assert rej["outputs"]["image"] == "rejected/images/p0__v00.png" and (out / rej["outputs"]["image"]).exists()
    assert not (out / "images" / "p0__v00.png").exists()
    reasons = json.loads((out / "rejected/reasons/p0__v00.json").read_text())
    assert reasons["source"] == "p0.png" and reasons["failed"][0]["reason"].startswith("enlargement ")
    assert {"segment", "background", "qa", "write"} <= set(rej["step_seconds"])
    coco = json.loads((out / "annotations.json").read_text())
    assert sorted(im["file_name"] for im in coco["images"]) == ["images/p1__v00.png", "images/p1__v01.png"]
    listed = (out / "train.txt").read_text() + (out / "val.txt").read_text()
    assert "p1__v00" in listed and "p0__" not in listed
    # resumed: nothing to do, the rejected files count as done
    again, _ = _run(tmp_path, "{flag_only: [], max_enlargement: 1.3}", "rej")
    assert again.done == 0 and again.resumed == 4
    from product_augment.export import dataset_entries
    from product_augment.storage import Store
    assert [e["id"] for e in dataset_entries(Store(out))] == ["p1__v00", "p1__v01"]


def test_flagged_outputs_stay_in_marked(tmp_path):
    summary, out = _run(tmp_path, "{action: flag, max_enlargement: 1.3}", "flag")
    assert summary.qa == {"flag": 2, "keep": 2}
    coco = json.loads((out / "annotations.json").read_text())
    marks = {im["file_name"]: im.get("qa_flagged") for im in coco["images"]}
    assert len(marks) == 4 and marks["images/p1__v00.png"] is None
    assert marks["images/p0__v00.png"][0].startswith("enlargement ")
    assert (out / "flagged.txt").read_text().splitlines()[0].startswith("images/p0__v00.png\tenlargement")


def test_cli_prints_the_gate_counts(tmp_path):
    from click.testing import CliRunner

    from product_augment.cli.main import main

    _run(tmp_path, "{}", "first")  # makes the inputs
    p = tmp_path / "cli.yaml"
    p.write_text(PRESET.format(qa="{flag_only: [], max_enlargement: 1.3}"))
    r = CliRunner().invoke(main, ["run", "--config", str(p), "--input", str(tmp_path / "in"),
                                  "--output", str(tmp_path / "cli"), "--workers", "1"])
    assert r.exit_code == 0, r.output
    assert "quality gate: 2 kept, 0 flagged, 2 rejected (enlargement 2)" in r.output
