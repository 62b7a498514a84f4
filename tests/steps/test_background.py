"""The background step: every kind, exact placement of masks/boxes/layers, contrast rule, replay."""
from __future__ import annotations

import cv2
import numpy as np
import pytest
from pydantic import TypeAdapter, ValidationError

from product_augment.ops.color import delta_e_2000, srgb_to_lab
from product_augment.ops.placement import warp_mask
from product_augment.pipeline import SampleError
from product_augment.sample import Instance, PaletteColor, Sample, mask_box
from product_augment.steps import background

from ..conftest import make_packshot

ADAPTER = TypeAdapter(background.Config)
SMALL = {"canvas": {"size": 256}}
KINDS = [
    {"kind": "solid", "color": "white"},
    {"kind": "solid"},
    {"kind": "gradient", "shape": "linear"},
    {"kind": "gradient", "shape": "radial", "colors": 3},
    {"kind": "texture"},
    {"kind": "texture", "mode": "scale"},
    {"kind": "studio"},
    {"kind": "transparent"},
]
RED, BLUE = (190, 40, 30), (30, 60, 190)


def _palette(*colors_shares):
    return tuple(PaletteColor(c, tuple(float(v) for v in srgb_to_lab(np.array(c, np.uint8))), s)
                 for c, s in colors_shares)


def packshot_sample(h=240, w=320, two=False) -> Sample:
    img, mask = make_packshot(h, w, radius=60, center=(110, 120))
    instances = [Instance.from_mask(5, mask)]
    alpha = mask.astype(np.float32)
    if two:
        box = np.zeros_like(mask)
        box[150:220, 200:300] = True
        img[box] = BLUE
        alpha[box] = 1.0
        instances.append(Instance.from_mask(6, box))
    return Sample(img, alpha, tuple(instances), layers={"probe": alpha.copy()},
                  palette=_palette((RED, 0.8), (BLUE, 0.2)))


def build(cfg: dict) -> background._Background:
    return background.build(ADAPTER.validate_python(cfg))


@pytest.fixture(scope="module")
def sample() -> Sample:
    return packshot_sample(two=True)


@pytest.mark.parametrize("cfg", KINDS, ids=lambda c: "-".join(str(v) for v in c.values()))
def test_every_kind_runs_replays_and_is_deterministic(cfg, sample):
    step = build({**cfg, **SMALL} if cfg["kind"] != "transparent" else cfg)
    out = step(sample, np.random.default_rng(3))
    again = step(sample, np.random.default_rng(3))
    params = out.meta["applied"]["background"]
    replay = step.apply(sample, params)
    h, w = out.image.shape[:2]
    assert out.image.dtype == np.uint8 and out.plate.shape == (h, w, 3)
    assert out.alpha.shape == (h, w) and out.alpha.dtype == np.float32
    assert np.array_equal(out.image, again.image) and np.array_equal(out.image, replay.image)
    assert np.array_equal(out.alpha, replay.alpha) and out.meta == again.meta
    # where the product is absent the picture is exactly the plate
    assert np.array_equal(out.image[out.alpha == 0], out.plate[out.alpha == 0])
    assert out.has("plate")
    import json
    json.dumps(params)  # params are JSON-able


def test_different_seeds_give_different_pictures(sample):
    step = build({"kind": "gradient", **SMALL})
    a = step(sample, np.random.default_rng(1)).image
    b = step(sample, np.random.default_rng(2)).image
    assert not np.array_equal(a, b)


def test_identity_placement_keeps_product_pixels_unchanged(sample):
    step = build({"kind": "solid", "color": [10, 200, 30], "canvas": None, "scale": None,
                  "refine": {"feather": 0, "decontaminate": False}})
    out = step(sample, np.random.default_rng(0))
    assert out.image.shape == sample.image.shape
    opaque = sample.alpha == 1
    assert np.array_equal(out.image[opaque], sample.image[opaque])
    assert np.all(out.image[~opaque] == [10, 200, 30])
    for before, after in zip(sample.instances, out.instances):
        assert np.array_equal(before.mask, after.mask) and before.box == after.box


@pytest.mark.parametrize("cfg", [{"kind": "solid", "scale": 0.5}, {"kind": "studio"},
                                 {"kind": "gradient", "position": "random", "scale": 0.9},
                                 {"kind": "solid", "canvas": {"size": 300, "aspect": 0.75}}])
def test_masks_boxes_and_layers_follow_placement_exactly(cfg, sample):
    step = build({**SMALL, **cfg, "refine": {"feather": 0, "decontaminate": False}})
    for seed in range(4):
        out = step(sample, np.random.default_rng(seed))
        p = out.meta["applied"]["background"]
        m, size = np.asarray(p["matrix"]), tuple(p["canvas"])
        for before, after in zip(sample.instances, out.instances):
            assert np.array_equal(after.mask, warp_mask(before.mask, m, size))
            assert after.box == mask_box(after.mask) and after.class_id == before.class_id
            bx0, by0, bx1, by1 = before.box  # the box lands where the affine sends it (a disc's
            # one-pixel tips may drop below half coverage when shrunk, hence 1.5 px)
            f, tx, ty = m[0, 0], m[0, 2], m[1, 2]
            assert np.allclose(after.box, [bx0 * f + tx, by0 * f + ty, bx1 * f + tx, by1 * f + ty], atol=1.5)
        # the matte and every layer went through the same transform
        np.testing.assert_allclose(out.layers["probe"], out.alpha, atol=1e-4)
        union = out.instances[0].mask | out.instances[1].mask
        iou = (union & (out.alpha > 0.5)).sum() / (union | (out.alpha > 0.5)).sum()
        assert iou > 0.97
        # the product stays inside the frame
        assert out.alpha[0].max() < 0.5 and out.alpha[-1].max() < 0.5 or p["kind"] == "studio"


def test_canvas_aspect_and_size():
    step = build({"kind": "solid", "canvas": {"size": 200, "aspect": 0.5}})
    out = step(packshot_sample(), np.random.default_rng(0))
    assert out.image.shape == (200, 100, 3)


@pytest.mark.parametrize("kind", ["solid", "gradient", "studio"])
def test_contrast_rule_holds_over_200_draws(kind):
    s = packshot_sample()
    s = s.replace(palette=_palette((RED, 0.6), ((235, 235, 235), 0.3), ((20, 20, 20), 0.05)))
    step = build({"kind": kind, "canvas": {"size": 32}, "min_delta_e": 25})
    pal = np.array([c.lab for c in s.palette if c.share >= 0.1])
    for seed in range(200):
        params = step.draw(s, np.random.default_rng(seed))["plate"]
        colors = {"solid": lambda p: [p["color"]], "gradient": lambda p: p["colors"],
                  "studio": lambda p: [p["wall"]]}[kind](params)
        lab = srgb_to_lab(np.array(colors, np.uint8))
        d = delta_e_2000(lab[:, None], pal[None]).min()
        assert d >= 25, (seed, colors)


def test_contrast_fallback_is_deterministic_when_impossible():
    s = packshot_sample()
    step = build({"kind": "solid", "canvas": {"size": 32}, "min_delta_e": 100})
    a = step.draw(s, np.random.default_rng(0))["plate"]
    b = step.draw(s, np.random.default_rng(0))["plate"]
    assert a == b and a["min_delta_e"] < 100


def test_texture_rule_on_mean_colour_and_textures_decoded_once_on_use():
    step = build({"kind": "texture", **SMALL})
    assert len(step.textures) >= 30 and not step.textures._decoded  # listed at build, none decoded
    s = packshot_sample()
    names = {step.draw(s, np.random.default_rng(i))["plate"]["file"] for i in range(40)}
    assert len(names) > 10
    assert len(step.textures._decoded) == len(names)  # each drawn texture decoded once
    first = step.textures[0]
    assert step.textures[0] is first


def test_studio_sets_floor_and_product_stands_on_it():
    step = build({"kind": "studio", **SMALL})
    for seed in range(10):
        out = step(packshot_sample(), np.random.default_rng(seed))
        horizon = out.meta["applied"]["background"]["plate"]["horizon"]
        assert out.floor_y == pytest.approx(horizon * 256)
        assert out.instances[0].box[3] > out.floor_y  # the product's bottom is on the floor
        assert out.has("floor_y")


def test_image_kind_places_product_low_in_a_photo(tmp_path):
    rng = np.random.default_rng(0)
    for i in range(2):
        photo = cv2.GaussianBlur(rng.integers(0, 256, (300, 400, 3), dtype=np.uint8), (0, 0), 5)
        cv2.imwrite(str(tmp_path / f"room{i}.jpg"), photo)
    (tmp_path / "notes.txt").write_text("ignored")
    step = background.build(ADAPTER.validate_python({"kind": "image", "path": str(tmp_path), **SMALL}))
    assert step.photos.names == ["room0.jpg", "room1.jpg"]
    for seed in range(6):
        out = step(packshot_sample(), np.random.default_rng(seed))
        bottom = out.instances[0].box[3]
        assert 0.75 * 256 <= bottom <= 0.96 * 256 + 1
        assert out.floor_y == pytest.approx(mask_box(out.alpha > 0.02)[3])
        replay = step.apply(packshot_sample(), out.meta["applied"]["background"])
        assert np.array_equal(replay.image, out.image)


def test_transparent_output_alpha_and_halo_free_rgb():
    s = packshot_sample()
    out = build({"kind": "transparent"})(s, np.random.default_rng(0))
    assert out.output_alpha is not None and np.array_equal(out.output_alpha, out.alpha)
    edge = (out.alpha > 0) & (out.alpha < 1)
    assert edge.any()
    # the RGB under every (partially) covered pixel is the product's colour, not the old white
    assert np.array_equal(out.image[out.alpha > 0], out.plate[out.alpha > 0])
    assert out.image[edge].astype(int).min(axis=1).max() < 200


def test_decontamination_removes_old_background_fringe():
    s = packshot_sample()
    step = build({"kind": "solid", "color": "black", "canvas": None, "scale": None, "refine": {"feather": 2}})
    clean = step(s, np.random.default_rng(0))
    dirty = build({"kind": "solid", "color": "black", "canvas": None, "scale": None,
                   "refine": {"feather": 2, "decontaminate": False}})(s, np.random.default_rng(0))
    edge = (clean.alpha > 0.05) & (clean.alpha < 0.95)
    # the packshot's background is light grey: without decontamination the edge is greyish
    def lum(im):
        return im[edge].astype(float).mean(axis=1)

    assert (lum(dirty.image) - lum(clean.image)).mean() > 10


def test_config_errors():
    with pytest.raises(ValidationError):
        ADAPTER.validate_python({"kind": "soild"})
    with pytest.raises(ValidationError):
        ADAPTER.validate_python({"kind": "solid", "colour": "white"})
    with pytest.raises(ValidationError):
        ADAPTER.validate_python({"kind": "solid", "color": "not-a-colour"})
    with pytest.raises(ValidationError):
        ADAPTER.validate_python({"kind": "texture", "path": "/does/not/exist"})
    cfg = ADAPTER.validate_python({"kind": "solid", "color": {"choice": ["white", "random"]}})
    assert cfg.color.choice[0] == (255, 255, 255) and cfg.color.choice[1] == "random"


def test_empty_matte_is_a_sample_error():
    from product_augment.pipeline import SampleError

    s = Sample(np.zeros((20, 20, 3), np.uint8), np.zeros((20, 20), np.float32))
    with pytest.raises(SampleError):
        build({"kind": "solid"})(s, np.random.default_rng(0))


def test_texture_path_resolves_relative_to_the_preset(tmp_path):
    (tmp_path / "tex").mkdir()
    tile = np.random.default_rng(0).integers(0, 256, (64, 64, 3), dtype=np.uint8)
    cv2.imwrite(str(tmp_path / "tex" / "a.png"), tile)
    presets = tmp_path / "configs"
    presets.mkdir()
    cfg = ADAPTER.validate_python({"kind": "texture", "path": "../tex"}, context={"base_dir": str(presets)})
    step = background.build(cfg)
    assert step.textures.names == ["a.png"]
    out = step(packshot_sample(), np.random.default_rng(0))
    assert out.meta["applied"]["background"]["plate"]["file"] == "a.png"


def test_null_scale_fits_the_whole_input_into_the_canvas():
    s = packshot_sample()  # 240×320
    step = build({"kind": "solid", "color": "white", "canvas": {"size": 160}, "scale": None})
    out = step(s, np.random.default_rng(0))
    m = np.asarray(out.meta["applied"]["background"]["matrix"])
    assert m[0, 0] == pytest.approx(0.5) and m[1, 2] == pytest.approx(20.0)  # letterboxed vertically


def test_contrasting_color_always_consumes_the_same_randomness():
    a, b = np.random.default_rng(5), np.random.default_rng(5)
    easy = np.zeros((0, 3))
    hard = srgb_to_lab(np.array([[128, 128, 128], [240, 240, 240], [20, 20, 20]], np.uint8))
    background.contrasting_color(a, easy, 25, (35, 97), (0, 32))
    background.contrasting_color(b, hard, 60, (35, 97), (0, 32))
    assert a.random() == b.random()


def test_when_the_range_cannot_pass_the_nearest_passing_lightness_is_used():
    # a light grey product: no studio wall with L* in 55..95 and chroma <= 28 is 25 ΔE away
    pal = srgb_to_lab(np.array([[190, 183, 175], [169, 165, 159]], np.uint8))
    for seed in range(30):
        rgb, de = background.contrasting_color(np.random.default_rng(seed), pal, 25, (55, 95), (0, 28))
        assert de >= 25 and rgb not in [(0, 0, 0), (255, 255, 255)]
        assert srgb_to_lab(np.array(rgb, np.uint8))[0] > 20  # the lightest passing, not near-black


def test_an_instance_shrunk_below_a_pixel_is_dropped_not_kept_empty():
    # a big product and a one-pixel speck far away; on a 32 px canvas the speck has no pixel left
    img = np.full((400, 400, 3), 240, np.uint8)
    big = np.zeros((400, 400), bool)
    big[50:350, 50:350] = True
    speck = np.zeros((400, 400), bool)
    speck[390, 390] = True
    alpha = (big | speck).astype(np.float32)
    s = Sample(img, alpha, (Instance.from_mask(5, big), Instance.from_mask(6, speck)))
    step = build({"kind": "solid", "canvas": {"size": 32}, "scale": 0.7, "jitter": 0})
    out = step(s, np.random.default_rng(0))
    assert [i.class_id for i in out.instances] == [5]
    assert all(i.mask.any() and i.box == mask_box(i.mask) for i in out.instances)


def test_a_product_too_thin_to_survive_placement_is_a_sample_error():
    img = np.full((4, 2000, 3), 240, np.uint8)
    line = np.zeros((4, 2000), bool)
    line[2, 10:1990] = True  # one row tall: at 0.7 × 96 px long it is 0.03 px tall
    s = Sample(img, line.astype(np.float32), (Instance.from_mask(5, line),))
    step = build({"kind": "solid", "canvas": {"size": 96}, "scale": 0.7})
    with pytest.raises(SampleError, match="no instance mask keeps a pixel"):
        step(s, np.random.default_rng(0))


def test_bad_image_in_a_texture_folder_is_a_preset_error(tmp_path):
    from product_augment.presets.errors import PresetError
    from product_augment.presets.loader import load_preset

    folder = tmp_path / "tex"
    folder.mkdir()
    cv2.imwrite(str(folder / "good.png"), np.full((32, 32, 3), 200, np.uint8))
    (folder / "broken.jpg").write_bytes(b"not a jpeg at all")
    p = tmp_path / "p.yaml"
    p.write_text("version: 1\nsteps:\n  - segment: {backend: alpha}\n"
                 f"  - background: {{kind: texture, path: {folder}}}\n")
    with pytest.raises(PresetError) as e:
        load_preset(p)
    assert "steps[1].background.path" in str(e.value) and "broken.jpg is not a readable image" in str(e.value)
