"""The shipped lifestyle backdrops in backgrounds/ (rendered rooms and views of a real photograph):
they load, have the shipped size, are listed with their origin in LICENSES/ASSETS.md, and work with
the photo-scene preset's background step."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import yaml
from PIL import Image
from pydantic import TypeAdapter

from product_augment.folders import ASSET_SUFFIXES
from product_augment.sample import Instance, Sample
from product_augment.steps import background

from .conftest import make_packshot

ROOT = Path(__file__).resolve().parents[1]
FOLDER = ROOT / "backgrounds"
FILES = sorted(p for p in FOLDER.iterdir() if p.suffix.lower() in ASSET_SUFFIXES)
SIZE = (1024, 1024)


def test_the_folder_ships_a_set_of_backdrops_within_budget():
    assert len(FILES) >= 10
    # 30 rendered backdrops (~2.6 MB) and the photographic ones (~2 MB)
    assert sum(p.stat().st_size for p in FILES) <= 6 * 1024 * 1024
    # nothing else in the folder but each photo's sidecar (the `image` kind would try to read it)
    assert {p.name for p in FOLDER.iterdir()} == {p.name for p in FILES} | {p.stem + ".json" for p in FILES}


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.name)
def test_backdrop_sidecar_knows_camera_light_and_objects(path):
    from product_augment import scene

    bd = scene.read_backdrop(scene.sidecar_path(path))
    assert bd.size == SIZE
    # the horizon is above where the support plane starts, and both are in the picture
    assert 0.3 < bd.horizon < bd.support_from < 0.7
    assert bd.camera_height_cm >= 15
    if bd.kind == "render":  # the renderer's key light
        assert abs(abs(bd.light_azimuth) - 62.5) < 1e-9
    else:  # a photo's light was estimated: say from what
        side = json.loads(scene.sidecar_path(path).read_text())
        assert {"light", "camera_height_cm", "horizon", "objects"} <= set(side["estimated"])
        assert -180 <= bd.light_azimuth <= 180 and side["source"]["sha256"]
    # the props of the 21 classes are annotated; their masks are in the picture
    masks = bd.object_masks()
    assert all(m.shape == (SIZE[1], SIZE[0]) and m.any() for _c, m in masks)


def test_some_backdrops_are_views_of_real_photographs():
    from product_augment import scene

    kinds = [scene.read_backdrop(scene.sidecar_path(p)).kind for p in FILES]
    assert kinds.count("photo") >= 10 and kinds.count("render") >= 20
    # their lights come from several sides, not one
    azimuths = {round(scene.read_backdrop(scene.sidecar_path(p)).light_azimuth)
                for p, k in zip(FILES, kinds) if k == "photo"}
    assert len(azimuths) >= 6


def test_most_backdrops_show_annotated_objects_and_some_show_none():
    from product_augment import scene

    counts = [len(scene.read_backdrop(scene.sidecar_path(p)).objects) for p in FILES]
    assert sum(c > 0 for c in counts) >= 20 and sum(c == 0 for c in counts) >= 3


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.name)
def test_backdrop_loads_with_the_expected_size(path):
    with Image.open(path) as im:
        assert im.format == "JPEG"
        assert im.mode == "RGB"
        assert im.size == SIZE
        pixels = np.asarray(im)
    # a real picture, not a blank or broken render: some spread of tones in the wall and the floor
    assert pixels[: SIZE[1] // 2].std() > 3 and pixels[SIZE[1] // 2:].std() > 3


def test_every_backdrop_is_listed_in_the_asset_licences():
    text = (ROOT / "LICENSES" / "ASSETS.md").read_text(encoding="utf-8")
    missing = [p.name for p in FILES if f"backgrounds/{p.name}" not in text]
    assert not missing, f"add these to LICENSES/ASSETS.md: {missing}"


def test_photo_scene_preset_puts_the_product_on_the_floor_band():
    preset = yaml.safe_load((ROOT / "configs" / "photo-scene.yaml").read_text())
    spec = next(s["background"] for s in preset["steps"] if "background" in s)
    cfg = TypeAdapter(background.Config).validate_python(
        {**spec, "canvas": {"size": 256, "aspect": 1.0}}, context={"base_dir": str(ROOT / "configs")})
    assert cfg.kind == "image"
    step = background.build(cfg)
    assert step.photos.names == [p.name for p in FILES]
    img, mask = make_packshot(240, 320, radius=60)
    sample = Sample(img, mask.astype(np.float32), instances=(Instance.from_mask(0, mask),))
    lo, hi = cfg.floor
    for seed in range(4):
        out = step(sample, np.random.default_rng(seed))
        assert out.image.shape == (256, 256, 3)
        assert lo * 256 - 1 <= out.floor_y <= hi * 256 + 1
