"""The hand edits of the real-photo set's masks (scripts/data/build_real_photos.py `apply_edits`)."""
from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import cv2
import numpy as np
import pytest

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "data" / "build_real_photos.py"


@pytest.fixture(scope="module")
def build():
    spec = importlib.util.spec_from_file_location("build_real_photos", SCRIPT)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_hull_fills_a_mask_open_to_the_frame(build):
    m = np.zeros((40, 30), np.uint8)
    m[5:35, 5:25] = 255
    m[20:40, 10:20] = 0  # the lower middle missing, open to the frame (as gc_multimeter3's was)
    out = build.apply_edits(m, {"hull": True})
    assert out.dtype == np.uint8 and set(np.unique(out)) == {0, 255}
    assert (out[5:35, 5:25] == 255).all() and (out[:5] == 0).all() and (out[:, 26:] == 0).all()


def test_remove_then_add_polygons_and_idempotence(build):
    m = np.zeros((50, 50), np.uint8)
    m[10:30, 10:30] = 255
    edits = {"remove": [[[10, 25], [29, 25], [29, 29], [10, 29]]], "add": [[[30, 12], [45, 12], [45, 16], [30, 16]]]}
    once = build.apply_edits(m, edits)
    assert (once[26:30, 10:30] == 0).all() and (once[10:24, 10:30] == 255).all()
    assert (once[12:17, 30:46] == 255).all() and once[20, 40] == 0
    assert np.array_equal(build.apply_edits(once, edits), once)  # --edits-only may run again


def test_manifest_edits_are_well_formed(build):
    man = json.loads(build.MANIFEST.read_text())
    for stem, e in man["edits"].items():
        assert stem in man["photos"], stem
        assert set(e) <= {"hull", "remove", "add"}, stem
        for poly in e.get("remove", []) + e.get("add", []):
            assert len(poly) >= 3 and all(len(p) == 2 for p in poly), stem
            cv2.fillPoly(np.zeros((4, 4), np.uint8), [np.asarray(poly, np.int32)], 1)
