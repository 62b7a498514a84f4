"""Cutout bank helpers: splits, cropping, index, reports."""
from __future__ import annotations

import json

import numpy as np

from product_augment.data import bank as B
from product_augment.io import write_atomic


def test_split_is_a_deterministic_function_of_the_key():
    keys = [f"obj{i}" for i in range(2000)]
    splits = [B.split_of(k) for k in keys]
    assert splits == [B.split_of(k) for k in keys]
    frac = {s: splits.count(s) / len(keys) for s in B.SPLITS}
    assert 0.75 < frac["train"] < 0.85 and 0.07 < frac["val"] < 0.13 and 0.07 < frac["test"] < 0.13


def test_crop_to_alpha_and_bbox():
    rgba = np.zeros((10, 12, 4), np.uint8)
    rgba[3:6, 4:9, 3] = 255
    depth = np.arange(120, dtype=np.float32).reshape(10, 12)
    crop, d = B.crop_to_alpha(rgba, depth)
    assert crop.shape == (3, 5, 4) and d.shape == (3, 5)
    assert B.crop_to_alpha(np.zeros((4, 4, 4), np.uint8)) is None


def test_read_rgba_matches_pil_on_bank_cutouts(fixture_bank):
    from PIL import Image

    for c in B.load_bank(fixture_bank):
        expected = np.asarray(Image.open(fixture_bank / c.file).convert("RGBA"))
        assert np.array_equal(B.read_rgba(fixture_bank / c.file), expected), c.file


def test_fixture_bank_loads_and_reports(fixture_bank):
    cutouts = B.load_bank(fixture_bank)
    assert cutouts and all((fixture_bank / c.file).exists() for c in cutouts)
    assert all(c.licence in ("CC0-1.0", "MIT") for c in cutouts)
    report = B.count_report(cutouts)
    assert sum(r["cutouts"] for r in report.values()) == len(cutouts)
    assert "total" in B.format_report(report)


def test_write_index_assembles_object_records(tmp_path, fixture_bank):
    cutouts = B.load_bank(fixture_bank)
    bank = tmp_path / "bank"
    for c in cutouts:
        write_atomic(bank / c.file, (fixture_bank / c.file).read_bytes())
    write_atomic(bank / "objects" / "all.json",
                 json.dumps({"cutouts": [{k: getattr(c, k) for k in c.__dataclass_fields__}
                                         for c in cutouts]}).encode())
    (bank / cutouts[0].file).unlink()  # a missing file is left out of the index
    index = B.write_index(bank)
    assert len(index) == len(cutouts) - 1
    assert B.load_bank(bank) == index


def test_flat_models_are_viewed_from_above():
    from pathlib import Path

    from product_augment.data.render import sample_view
    from product_augment.data.sources import CatalogEntry

    def entry(size):
        return CatalogEntry("L", 1, "L#x", "x", "c", "me", Path("x.obj"), None, size, False, "CC0-1.0")

    assert B.is_flat(entry((40.0, 2.0, 90.0)))
    assert not B.is_flat(entry((40.0, 80.0, 40.0)))
    rng = np.random.default_rng(0)
    assert all(45 <= sample_view(rng, 85.0, 45.0).elevation_deg <= 85 for _ in range(50))
    assert all(0 <= sample_view(rng).elevation_deg <= 40 for _ in range(50))


def test_assign_splits_is_stratified_and_keeps_a_3d_model_in_train():
    def cut(key, cls=1):
        return B.Cutout(f"{key}.png", cls, key, key, "p", "CC0-1.0", "a", 10.0, 4, 4)

    emoji = [cut(f"emoji:{i}") for i in range(9)]
    # find a 3D key whose hash rank would put it in val/test among these keys
    for j in range(200):
        model = cut(f"sh3d:lib:m{j}")
        ranked = sorted([c.split_key for c in [*emoji, model]], key=lambda k: (B._key_hash(k), k))
        if ranked.index(model.split_key) < 2:
            break
    splits = B.assign_splits([*emoji, model])
    assert splits[model.split_key] == "train"
    assert sum(v == "val" for v in splits.values()) <= 1 and sum(v == "test" for v in splits.values()) <= 1
    big = [cut(f"k{i}", cls=2) for i in range(40)]
    s2 = B.assign_splits(big)
    assert [sum(v == s for v in s2.values()) for s in B.SPLITS] == [32, 4, 4]
    assert B.assign_splits(list(reversed(big))) == s2


def test_bank_splits_are_frozen_when_objects_are_added(tmp_path):
    def cut(key):
        return B.Cutout(f"{key}.png", 3, key, key, "p", "CC0-1.0", "a", 10.0, 4, 4)

    first = [cut(f"k{i}") for i in range(30)]
    s1 = B.bank_splits(tmp_path, first)
    assert (tmp_path / "splits.json").exists()
    more = first + [cut(f"new{i}") for i in range(30)]
    s2 = B.bank_splits(tmp_path, more)
    assert all(s2[k] == v for k, v in s1.items())  # nothing already assigned moves
    assert set(s2) == {c.split_key for c in more}
