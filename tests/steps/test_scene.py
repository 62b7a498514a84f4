"""Scene coherence (issue 21): true size from the class and the backdrop's camera, hanging products,
one light for the scene and its shadow, mirror strength from the floor's gloss, the enlargement cap,
the backdrop's own objects annotated."""
from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
from pydantic import TypeAdapter

from product_augment import scene
from product_augment.classes import CLASS_ID
from product_augment.ops import shadow as ops
from product_augment.presets.loader import load_preset
from product_augment.sample import Instance, Sample
from product_augment.steps import background, shadow

REPO = Path(__file__).resolve().parents[2]
BACKDROPS = REPO / "backgrounds"


def _bg(cfg: dict):
    config = TypeAdapter(background.Config).validate_python(cfg, context={"base_dir": str(REPO)})
    return background.build(config)


def _shadow(cfg: dict):
    return shadow.build(TypeAdapter(shadow.Config).validate_python(cfg, context={"base_dir": str(REPO)}))


def _product(class_name: str, h: int = 640, w: int = 640, box=(170, 120, 470, 560)) -> Sample:
    """A solid product (a rounded box) of one class, big enough not to hit the enlargement cap."""
    img = np.full((h, w, 3), 240, np.uint8)
    alpha = np.zeros((h, w), np.float32)
    x0, y0, x1, y1 = box
    alpha[y0:y1, x0:x1] = 1.0
    img[alpha > 0] = (150, 60, 40)
    inst = Instance.from_mask(CLASS_ID[class_name], alpha > 0.5)
    return Sample(image=img, alpha=alpha, instances=(inst,), meta={"relpath": f"{class_name}.png"})


def _hanging(h: int = 480, w: int = 480) -> Sample:
    """A pendant lamp: a wide shade hanging from a thin cord that leaves through the top border."""
    img = np.full((h, w, 3), 235, np.uint8)
    alpha = np.zeros((h, w), np.float32)
    alpha[0:260, 236:244] = 1.0  # the cord
    yy, xx = np.mgrid[:h, :w]
    alpha[(yy > 250) & (yy < 380) & (np.abs(xx - 240) < (yy - 230) * 1.2)] = 1.0  # the shade
    img[alpha > 0] = (40, 40, 40)
    inst = Instance.from_mask(15, alpha > 0.5)
    return Sample(image=img, alpha=alpha, instances=(inst,), meta={"relpath": "pendant.png"})


IMAGE = {"kind": "image", "path": str(BACKDROPS), "canvas": {"size": 512}}


@pytest.mark.parametrize("name", ["cup", "shoe", "chair", "sofa", "plant", "lamp", "television"])
def test_true_size_is_within_the_class_prior_in_every_output(name):
    step = _bg(IMAGE)
    lo, hi = scene.SIZE_PRIOR_CM[name]
    true = 0
    for seed in range(8):
        out = step(_product(name), np.random.default_rng(seed))
        p = out.meta["applied"]["background"]
        size = p["size"]
        if size["mode"] != "true":  # allowed only with its reason recorded
            assert size["why"]
            continue
        true += 1
        prod = next(i for i in out.instances if not i.backdrop)
        x0, y0, x1, y1 = prod.box
        measured_cm = max(x1 - x0, y1 - y0) / size["px_per_cm"]
        assert lo * 0.97 <= measured_cm <= hi * 1.03, (name, seed, measured_cm, size)
        # it stands on the backdrop's support, at the recorded contact row, inside the frame
        bd = scene.read_backdrop(BACKDROPS / (Path(p["plate"]["file"]).stem + ".json"))
        assert abs(y1 - size["contact_row"]) <= 2
        assert y0 >= 0 and p["enlargement"] <= 1.5 + 1e-9
        assert bd.support_kind in ("floor", "counter", "table")
    assert true >= 6, f"{name}: true size applied to only {true} of 8 draws"


def test_unknown_class_keeps_the_preset_scale_and_says_why():
    s = _product("cup")
    generic = Instance(22, s.instances[0].mask, s.instances[0].box)
    out = _bg(IMAGE)(s.replace(instances=(generic,)), np.random.default_rng(0))
    size = out.meta["applied"]["background"]["size"]
    assert size == {"mode": "scale", "why": "class unknown (product)"}


def test_sizing_scale_is_an_override():
    out = _bg({**IMAGE, "sizing": "scale", "scale": 0.5})(_product("sofa"), np.random.default_rng(0))
    prod = out.instances[0]
    assert "size" not in out.meta["applied"]["background"]
    assert abs(max(prod.box[2] - prod.box[0], prod.box[3] - prod.box[1]) - 256) <= 2


def test_a_big_product_stands_further_back_than_a_small_one(tmp_path):
    # one backdrop for both, so that the camera and crop are the same (with the whole folder, the sofa
    # and the cup may land on different backdrops)
    import shutil
    for suffix in (".jpg", ".json"):
        shutil.copy(BACKDROPS / f"living-oak-sage{suffix}", tmp_path)
    rows = {}
    for name in ("cup", "sofa"):
        out = _bg({**IMAGE, "path": str(tmp_path), "max_enlarge": None})(_product(name), np.random.default_rng(4))
        rows[name] = out.meta["applied"]["background"]["size"]["contact_row"]
    assert rows["sofa"] < rows["cup"]


def test_enlargement_cap_places_a_small_product_smaller_and_records_it():
    img = np.full((300, 300, 3), 240, np.uint8)
    alpha = np.zeros((300, 300), np.float32)
    alpha[140:160, 140:160] = 1.0  # 20 px product, asked to fill 70 % of a 512 canvas
    s = Sample(image=img, alpha=alpha, instances=(Instance.from_mask(6, alpha > 0),), meta={"relpath": "s.png"})
    out = _bg({"kind": "solid", "color": "white", "canvas": {"size": 512}, "scale": 0.7})(s, np.random.default_rng(0))
    p = out.meta["applied"]["background"]
    assert p["enlargement"] == 1.5 and p["enlarge_capped"] == pytest.approx(0.7 * 512 / 20, rel=1e-3)
    x0, _y0, x1, _y1 = out.instances[0].box
    assert x1 - x0 == pytest.approx(30, abs=2)
    uncapped = _bg({"kind": "solid", "color": "white", "canvas": {"size": 512}, "scale": 0.7, "max_enlarge": None})(
        s, np.random.default_rng(0))
    assert uncapped.instances[0].box[2] - uncapped.instances[0].box[0] == pytest.approx(0.7 * 512, abs=3)


def test_hanging_product_hangs_from_the_top_and_gets_no_floor_shadow_or_reflection():
    s = _hanging()
    assert scene.is_hanging(s.alpha)
    assert not scene.is_hanging(_product("cup").alpha)
    for kind in ("image", "studio"):
        cfg = IMAGE if kind == "image" else {"kind": "studio", "canvas": {"size": 512}}
        out = _bg(cfg)(s, np.random.default_rng(1))
        assert out.meta["applied"]["background"]["support"] == "hanging" and out.support == "hanging"
        assert out.floor_y is None
        assert out.instances[0].box[1] == 0  # its cord leaves through the canvas top
        for sh in ({"kind": "drop"}, {"kind": "mirror"}, {"kind": "realistic"}):
            shaded = _shadow(sh)(out, np.random.default_rng(2))
            assert not shaded.layers["shadow"].any(), (kind, sh)
            assert np.array_equal(shaded.image, out.image)


def test_support_can_be_forced():
    out = _bg({**IMAGE, "support": "standing"})(_hanging(), np.random.default_rng(1))
    assert out.support == "standing" and out.floor_y is not None


@pytest.mark.parametrize("kind", ["drop", "realistic"])
def test_shadow_follows_the_backdrops_light_and_flips_with_it(kind):
    step = _bg(IMAGE)
    seen_flip = set()
    for seed in range(10):
        placed = step(_product("cup"), np.random.default_rng(seed))
        plate = placed.meta["applied"]["background"]["plate"]
        bd = scene.read_backdrop(BACKDROPS / (Path(plate["file"]).stem + ".json"))
        want = -bd.light_azimuth if plate["flip"] else bd.light_azimuth
        seen_flip.add(plate["flip"])
        out = _shadow({"kind": kind, "azimuth": {"range": [-170, 170]}})(placed, np.random.default_rng(seed))
        p = out.meta["applied"]["shadow"]
        assert abs(((p["azimuth"] - want) + 180) % 360 - 180) <= 30
        assert p["elevation"] == bd.light_elevation and p["light"] == f"backdrop {plate['file']}"
    assert seen_flip == {True, False}


def test_studio_and_gradient_share_their_light_with_the_shadow():
    s = _product("cup")
    placed = _bg({"kind": "studio", "canvas": {"size": 256}})(s, np.random.default_rng(3))
    lx = placed.meta["applied"]["background"]["plate"]["light_xy"][0]
    out = _shadow({"kind": "drop", "azimuth": -120})(placed, np.random.default_rng(0))
    az = out.meta["applied"]["shadow"]["azimuth"]
    assert np.sign(az) == np.sign(0.5 - lx) and out.meta["applied"]["shadow"]["light"] == "studio"
    grad = _bg({"kind": "gradient", "shape": "linear", "angle": 0, "colors": ["white", "black"],
                "canvas": {"size": 256}})(s, np.random.default_rng(3))
    assert grad.light is not None and grad.light.azimuth == 60.0  # white on the left: lit from the left


def test_light_preset_keeps_the_preset_azimuth():
    placed = _bg(IMAGE)(_product("cup"), np.random.default_rng(0))
    out = _shadow({"kind": "drop", "azimuth": -123, "light": "preset"})(placed, np.random.default_rng(0))
    assert out.meta["applied"]["shadow"]["azimuth"] == -123 and "light" not in out.meta["applied"]["shadow"]


def test_mirror_strength_follows_the_floors_gloss():
    placed = _bg(IMAGE)(_product("cup"), np.random.default_rng(0))
    for gloss, factor in ((0.0, 0.0), (0.06, 0.4), (0.3, 1.0)):
        out = _shadow({"kind": "mirror", "opacity": 0.5})(placed.replace(gloss=gloss), np.random.default_rng(0))
        assert out.meta["applied"]["shadow"]["opacity"] == pytest.approx(0.5 * factor)
    out = _shadow({"kind": "mirror", "opacity": 0.5, "gloss": "preset"})(placed.replace(gloss=0.0),
                                                                          np.random.default_rng(0))
    assert out.meta["applied"]["shadow"]["opacity"] == 0.5


def test_backdrop_objects_are_annotated_and_hidden_behind_the_product():
    step = _bg(IMAGE)
    found = 0
    for seed in range(6):
        out = step(_product("cup"), np.random.default_rng(seed))
        extra = [i for i in out.instances if i.backdrop]
        product = out.alpha > 0.5
        for inst in extra:
            assert 1 <= inst.class_id <= 21 and not (inst.mask & product).any()
        found += len(extra)
    assert found >= 6
    # and they reach the outputs' annotations, marked
    assert all(not i.backdrop for i in _bg({"kind": "solid", "canvas": {"size": 128}})(
        _product("cup"), np.random.default_rng(0)).instances)


def test_reflection_touches_a_tilted_base_all_along():
    """A sole drawn in perspective (base rising 20 px across): the reflection starts right under
    every column of it, not under the lowest row (no wedge-shaped gap)."""
    h, w = 240, 240
    alpha = np.zeros((h, w), np.float32)
    for x in range(40, 200):
        alpha[80:120 + (x - 40) // 8, x] = 1.0
    alpha[200:203, 100:103] = 1.0  # a stray speck of the cut below it
    img = np.zeros((h, w, 3), np.uint8)
    img[alpha > 0] = 200
    fp = ops.find_footprint(alpha)
    line = ops.contact_outline(alpha, fp)
    layer = ops.mirror_reflection_outline(img, alpha, fp, line, opacity=0.6, fade=0.6, blur=0.0, squash=1.0)
    full = layer.full((h, w))
    for x in (45, 120, 195):
        base = 120 + (x - 40) // 8
        first = int(np.flatnonzero(full[:, x] > 0.05)[0])
        assert abs(first - base) <= 1, (x, first, base)


def test_contact_outline_is_level_under_a_round_bottom_and_through_leg_tips():
    h, w = 200, 200
    yy, xx = np.mgrid[:h, :w]
    ball = (((yy - 100) ** 2 + (xx - 100) ** 2) < 50 ** 2).astype(np.float32)
    line = ops.contact_outline(ball, ops.find_footprint(ball))
    assert np.allclose(line, 150)
    chair = np.zeros((h, w), np.float32)
    chair[60:100, 50:150] = 1
    chair[100:140, 52:56] = 1
    chair[100:150, 144:148] = 1
    line = ops.contact_outline(chair, ops.find_footprint(chair))
    assert abs(line[4] - 140) <= 1 and abs(line[-4] - 150) <= 1


def test_bad_sidecar_names_the_file_and_field(tmp_path):
    good = json.loads((BACKDROPS / "scandi-concrete.json").read_text())
    bad = {**good, "light": {**good["light"], "elevation": 95}}
    path = tmp_path / "x.json"
    path.write_text(json.dumps(bad))
    with pytest.raises(scene.BackdropError, match=r"x\.json: field 'light\.elevation'"):
        scene.read_backdrop(path)
    del bad["camera_height_cm"]
    path.write_text(json.dumps(bad))
    with pytest.raises(scene.BackdropError, match="missing field 'camera_height_cm'"):
        scene.read_backdrop(path)
    path.write_text(json.dumps({**good, "kind": "painting"}))
    with pytest.raises(scene.BackdropError, match=r"x\.json: field 'kind' must be one of render, photo"):
        scene.read_backdrop(path)


def test_photo_backdrops_read_like_rendered_ones():
    """A view of a real photograph: its sidecar says `kind: photo` and is used as the rendered ones are."""
    bd = scene.read_backdrop(BACKDROPS / "photo-field-sun-right90.json")
    assert bd.kind == "photo" and bd.support_kind == "floor" and bd.gloss == 0.0 and not bd.objects
    assert scene.read_backdrop(BACKDROPS / "scandi-concrete.json").kind == "render"
    # the sun stands on the view's right: the light comes from the right
    assert bd.light_azimuth == pytest.approx(-90, abs=1)


def test_photo_scene_preset_records_size_light_and_support_for_every_output(tmp_path):
    """The shipped preset on synthetic inputs of three classes: every output says how it was sized
    (true, or why not), its support, and a shadow within 30 degrees of the scene's light."""
    preset = load_preset(REPO / "configs" / "photo-scene.yaml")
    pipeline = preset.build_pipeline()
    for name in ("cup", "chair", "lamp"):
        for v in range(2):
            out = pipeline(_product(name), seed=v, relpath=f"{name}.png")
            a = out.meta["applied"]
            assert a["background"]["support"] == "standing"
            assert a["background"]["size"]["mode"] in ("true", "scale")
            assert out.light is not None
            assert abs(((a["shadow"]["azimuth"] - out.light.azimuth) + 180) % 360 - 180) <= 30
            assert math.isfinite(a["background"]["enlargement"]) and a["background"]["enlargement"] <= 1.5


def test_harmonize_gains_are_neutral_bounded_and_partial():
    from product_augment.ops import harmonize as hz

    light = np.array([0.8, 0.7, 0.5], np.float32)
    assert np.allclose(hz.gains(light, light, 1.0), 1.0)
    assert np.allclose(hz.gains(light, light * 0.25, 0.0), 1.0)
    full = hz.gains(light, light * 0.25, 1.0)  # two stops darker: capped at one
    assert np.allclose(full, 0.5, atol=1e-6)
    half = hz.gains(light, light * 0.25, 0.5)
    assert np.allclose(half, 2 ** -0.5, atol=1e-6)
    warm_to_cool = hz.gains(np.array([0.9, 0.7, 0.5], np.float32), np.array([0.5, 0.7, 0.9], np.float32), 1.0)
    assert warm_to_cool[2] > 1 > warm_to_cool[0] and warm_to_cool.max() <= 1.25 * 1.01


def test_image_kind_relights_a_warm_product_for_a_cool_room(tmp_path):
    """A product shot on warm paper (warm light), put in a cool neutral room: with harmonize its
    colour moves toward blue; with harmonize 0 it is the product as shot."""
    room = tmp_path / "room"
    room.mkdir()
    from PIL import Image
    Image.fromarray(np.full((256, 256, 3), (170, 190, 225), np.uint8)).save(room / "cool.png")
    s = _product("cup")
    warm = s.image.copy()
    warm[s.alpha == 0] = (250, 225, 180)
    warm[s.alpha > 0] = (200, 180, 150)
    s = s.replace(image=warm)
    base = {"kind": "image", "path": str(room), "canvas": {"size": 256}, "flip": False,
            "refine": {"feather": 0, "decontaminate": False}}
    plain = _bg({**base, "harmonize": 0.0})(s, np.random.default_rng(0))
    relit = _bg({**base, "harmonize": 1.0})(s, np.random.default_rng(0))
    inside = plain.alpha > 0.99
    p, r = plain.image[inside].astype(float).mean(0), relit.image[inside].astype(float).mean(0)
    assert np.allclose(p, (200, 180, 150), atol=1.5)
    assert r[2] - r[0] > p[2] - p[0] + 20  # bluer
    assert np.array_equal(plain.image[~(plain.alpha > 0)], relit.image[~(relit.alpha > 0)])  # room untouched


def test_not_hanging_when_cropped_by_the_top_a_loop_handle_or_a_strap_at_an_angle():
    h, w = 300, 300
    yy, xx = np.mgrid[:h, :w]
    ball = (((yy - 120) ** 2 + (xx - 150) ** 2) < 130 ** 2).astype(np.float32)  # crown cut by the frame
    bag = np.zeros((h, w), np.float32)
    bag[60:280, 60:240] = 1
    bag[0:60, 100:108] = 1  # a loop handle: two straps up to the border
    bag[0:60, 192:200] = 1
    bag[0:4, 100:200] = 1
    strap = np.zeros((h, w), np.float32)
    strap[150:260, 80:220] = 1
    for y in range(150):  # a strap leaving at 45 degrees
        strap[y, 220 - 150 + y:220 - 150 + y + 10] = 1
    for m in (ball, bag, strap):
        assert not scene.is_hanging(m)
    assert scene.is_hanging(_hanging().alpha)
