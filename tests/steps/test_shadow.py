"""The shadow step: configs, the three compositing modes, product pixels untouched, determinism, replay."""
from __future__ import annotations

import cv2
import numpy as np
import pytest
from pydantic import TypeAdapter, ValidationError

from product_augment.ops import shadow as ops
from product_augment.pipeline import Pipeline
from product_augment.sample import Instance, Sample
from product_augment.steps import shadow as shadow_step

H, W = 180, 220
ADAPTER = TypeAdapter(shadow_step.Config)
BG = (236, 238, 242)


def bottle(h: int = H, w: int = W, floor: int = 150) -> tuple[np.ndarray, np.ndarray]:
    """Anti-aliased bottle matte standing on `floor`, and its shaded colour."""
    big = np.zeros((h * 4, w * 4), np.uint8)
    pts = np.array([[102, 30], [118, 30], [118, 62], [134, 78], [134, floor], [86, floor], [86, 78],
                    [102, 62]], np.int32) * 4
    cv2.fillPoly(big, [pts], 255, cv2.LINE_AA)
    alpha = cv2.resize(big, (w, h), interpolation=cv2.INTER_AREA).astype(np.float32) / 255
    rng = np.random.default_rng(0)
    fg = np.clip(np.array([40, 120, 70], np.float32) * np.linspace(0.6, 1.2, w)[None, :, None]
                 + rng.normal(0, 3, (h, w, 3)), 0, 255)
    return alpha, fg


def make_sample(mode: str = "background", floor_y: float | None = None, floor: int = 150) -> Sample:
    alpha, fg = bottle(floor=floor)
    bg = np.empty((H, W, 3), np.uint8)
    bg[:] = BG
    image = np.clip(alpha[..., None] * fg + (1 - alpha[..., None]) * bg + 0.5, 0, 255).astype(np.uint8)
    inst = (Instance.from_mask(1, alpha > 0.5),)
    if mode == "background":
        return Sample(image=image, alpha=alpha, instances=inst, plate=bg, floor_y=floor_y)
    if mode == "transparent":
        return Sample(image=image, alpha=alpha, instances=inst, output_alpha=alpha.copy(), floor_y=floor_y)
    return Sample(image=image, alpha=alpha, instances=inst, floor_y=floor_y)


def step_for(**cfg):
    return shadow_step.build(ADAPTER.validate_python(cfg))


KINDS = [{"kind": "mirror"}, {"kind": "drop"}, {"kind": "drop", "azimuth": 170, "elevation": 30},
         {"kind": "none"}]
MODES = ["background", "transparent", "photo"]


# --- config -----------------------------------------------------------------------------------

def test_defaults_and_ranges_parse():
    drop = ADAPTER.validate_python({"kind": "drop"})
    assert (drop.azimuth, drop.elevation, drop.opacity, drop.color) == (35.0, 50.0, 0.55, "auto")
    mirror = ADAPTER.validate_python({"kind": "mirror", "opacity": {"range": [0.2, 0.5]},
                                      "squash": {"choice": [0.7, 1.0]}})
    assert mirror.opacity.range == (0.2, 0.5)
    assert ADAPTER.validate_python({"kind": "drop", "color": "#203040"}).color == (32, 48, 64)
    assert ADAPTER.validate_python({"kind": "none"}).kind == "none"


@pytest.mark.parametrize("bad", [
    {"kind": "drop", "opacity": 1.5},
    {"kind": "drop", "elevation": {"range": [0, 40]}},
    {"kind": "mirror", "squash": 0.1},
    {"kind": "mirror", "blurr": 0.1},
    {"kind": "mirorr"},
    {"kind": "drop", "color": "not-a-colour"},
])
def test_bad_configs_are_rejected(bad):
    with pytest.raises(ValidationError):
        ADAPTER.validate_python(bad)


def test_draw_samples_ranges_and_records_json_values():
    step = step_for(kind="drop", azimuth={"range": [-60, 60]}, elevation={"range": [30, 70]},
                    color={"choice": ["auto", "#101820"]})
    draws = [step.draw(make_sample(), np.random.default_rng(i)) for i in range(20)]
    assert len({d["azimuth"] for d in draws}) == 20
    assert all(-60 <= d["azimuth"] <= 60 and 30 <= d["elevation"] <= 70 for d in draws)
    assert {str(d["color"]) for d in draws} == {"auto", "[16, 24, 32]"}


def test_step_declares_its_contract():
    step = step_for(kind="drop")
    assert step.name == "shadow"
    assert step.requires == {"alpha"} and step.provides == {"layer:shadow"}
    Pipeline([step], initial=frozenset({"image", "alpha"}))


# --- compositing modes ------------------------------------------------------------------------

@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("cfg", KINDS, ids=lambda c: "-".join(str(v) for v in c.values()))
def test_product_pixels_are_never_changed(cfg, mode):
    sample = make_sample(mode)
    out = step_for(**cfg)(sample, np.random.default_rng(0))
    solid = sample.alpha >= 1.0
    assert np.array_equal(out.image[solid], sample.image[solid])
    layer = out.layers["shadow"]
    assert layer.dtype == np.float32 and layer.shape == (H, W)
    assert layer.min() >= 0 and layer.max() <= 1 and not layer[solid].any()
    if cfg["kind"] != "none":
        assert layer.max() > 0.2
        assert not np.array_equal(out.image, sample.image)


def test_background_mode_shades_the_plate_and_keeps_the_compositing_identity():
    sample = make_sample("background")
    out = step_for(kind="drop", azimuth=170, elevation=35)(sample, np.random.default_rng(0))
    assert out.plate is not None and (out.plate <= sample.plate).all()
    assert (out.plate < sample.plate).any()
    # image == α·F + (1-α)·B' still holds with the shaded plate
    a = sample.alpha[..., None]
    _, fg = bottle()
    recon = a * fg + (1 - a) * out.plate.astype(np.float32)
    assert np.abs(recon - out.image).max() <= 2.0


def test_a_zero_strength_shadow_leaves_the_picture_untouched():
    """No halo: recompositing with an unchanged plate reproduces every pixel, edges included."""
    sample = make_sample("background")
    out = step_for(kind="drop", opacity=0.0, contact=0.0)(sample, np.random.default_rng(0))
    assert np.array_equal(out.image, sample.image)


def test_contact_is_darker_than_the_far_shadow_in_the_picture():
    sample = make_sample("background")
    out = step_for(kind="drop", azimuth=180, elevation=40, size=0.1)(sample, np.random.default_rng(0))
    lum = out.image.astype(np.float32).mean(axis=2)
    assert lum[151, 110] < lum[170, 110] - 15
    assert lum[170, 110] < BG[0] - 5                       # the far shadow is still there


def test_transparent_mode_writes_the_shadow_into_output_alpha():
    sample = make_sample("transparent")
    out = step_for(kind="drop", azimuth=180, elevation=40)(sample, np.random.default_rng(0))
    cov = out.output_alpha
    assert cov.dtype == np.float32
    assert (cov >= sample.output_alpha - 1e-6).all()
    under = cov[152:165, 100:120]
    assert under.min() > 0.2
    solid = sample.alpha >= 1
    assert np.array_equal(cov[solid], sample.output_alpha[solid])
    assert out.image[152:158, 100:120].max() < 60            # a dark colour where the shadow is
    assert out.plate is None


def test_photo_mode_darkens_only_around_the_product():
    sample = make_sample("photo")
    out = step_for(kind="drop", azimuth=180, elevation=40)(sample, np.random.default_rng(0))
    assert (out.image <= sample.image).all()
    assert (out.image[152:160, 100:120] < sample.image[152:160, 100:120]).all()


def test_mirror_in_the_step_is_the_flipped_matte_before_fading():
    sample = make_sample("background")
    step = step_for(kind="mirror", opacity=1.0, fade=3.0, blur=0.0, squash=1.0)
    out = step(sample, np.random.default_rng(0))
    fp = ops.find_footprint(sample.alpha)
    axis = fp.base_y
    n = H - axis
    fade = ops.fade_weights(n, 1.0, 3.0 * fp.height)
    flipped = sample.alpha[axis - n:axis][::-1]
    got = out.layers["shadow"][axis:] / fade[:, None]
    free = 1.0 - sample.alpha[axis:]
    np.testing.assert_allclose(got, flipped * free, atol=1e-5)
    # and the reflection shows the product's colour: green dominates under the bottle
    px = out.image[axis + 3, 110].astype(int)
    assert px[1] > px[0] + 20


# --- floor line ---------------------------------------------------------------------------------

def test_shadow_sits_on_the_scene_floor_when_the_product_touches_it():
    def first_strong_row(floor_y):
        out = step_for(kind="mirror", blur=0.0)(make_sample(floor_y=floor_y), np.random.default_rng(0))
        return int(np.argmax(out.layers["shadow"][:, 110] > 0.2))
    own = first_strong_row(None)
    assert own == 150                                  # the bottle's base
    assert first_strong_row(151.0) == own + 2          # touching: mirrored about the floor line
    assert first_strong_row(175.0) == own              # too far above the floor: its own base


def test_each_product_stands_on_its_own_contact_line():
    alpha = np.zeros((H, W), np.float32)
    alpha[40:100, 30:80] = 1.0          # a product further back, standing higher in the picture
    alpha[90:150, 130:190] = 1.0        # one in front
    image = np.full((H, W, 3), 240, np.uint8)
    image[alpha > 0] = (60, 60, 160)
    inst = (Instance.from_mask(1, _left(alpha)), Instance.from_mask(1, _right(alpha)))
    sample = Sample(image=image, alpha=alpha, instances=inst, plate=np.full((H, W, 3), 240, np.uint8))
    out = step_for(kind="drop", azimuth=180, elevation=45)(sample, np.random.default_rng(0))
    layer = out.layers["shadow"]
    assert layer[101, 55] > 0.4 and layer[151, 160] > 0.4     # dark right under each base
    # with one matte for both, the back product's shadow would only start at the front one's base
    single = step_for(kind="drop", azimuth=180, elevation=45)(sample.replace(instances=()),
                                                              np.random.default_rng(0))
    assert single.layers["shadow"][101, 55] < 0.1


def _left(alpha):
    m = alpha > 0.5
    m[:, 110:] = False
    return m


def _right(alpha):
    m = alpha > 0.5
    m[:, :110] = False
    return m


# --- determinism ------------------------------------------------------------------------------

@pytest.mark.parametrize("cfg", [
    {"kind": "mirror", "opacity": {"range": [0.2, 0.5]}, "blur": {"range": [0.0, 0.08]},
     "squash": {"range": [0.6, 1.0]}},
    {"kind": "drop", "azimuth": {"range": [-180, 180]}, "elevation": {"range": [20, 80]},
     "size": {"range": [0.02, 0.3]}, "color": {"choice": ["auto", "#202428"]}},
], ids=["mirror", "drop"])
def test_same_seed_same_bytes_and_replay(cfg):
    step = step_for(**cfg)
    sample = make_sample("background")
    a = step(sample, np.random.default_rng(7))
    b = step(sample, np.random.default_rng(7))
    assert np.array_equal(a.image, b.image)
    assert np.array_equal(a.layers["shadow"], b.layers["shadow"])
    recorded = a.meta["applied"]["shadow"]
    replayed = step.apply(sample, recorded)
    assert np.array_equal(replayed.image, a.image)
    assert np.array_equal(replayed.plate, a.plate)
    other = step(sample, np.random.default_rng(8))
    assert not np.array_equal(other.image, a.image)


def test_no_alpha_is_a_clear_error():
    with pytest.raises(ValueError, match="alpha"):
        step_for(kind="drop").apply(Sample(image=np.zeros((8, 8, 3), np.uint8)),
                                    {"kind": "drop", "azimuth": 0, "elevation": 45, "size": 0.1,
                                     "opacity": 0.5, "contact": 0.5, "floor_tilt": 0.3, "color": "auto"})


def test_an_empty_matte_gives_an_empty_layer():
    s = Sample(image=np.full((20, 20, 3), 200, np.uint8), alpha=np.zeros((20, 20), np.float32))
    out = step_for(kind="drop")(s, np.random.default_rng(0))
    assert np.array_equal(out.image, s.image) and not out.layers["shadow"].any()


# --- realistic (the learned shadow) -------------------------------------------------------------

SHADOW_NET = shadow_step.shipped_shadow_weights()
needs_net = pytest.mark.skipif(not SHADOW_NET.exists(), reason="shipped shadow network not present")


@needs_net
def test_realistic_config_parses_like_drop():
    cfg = ADAPTER.validate_python({"kind": "realistic", "azimuth": {"range": [-90, 90]}, "size": 0.1})
    assert cfg.elevation == 50.0 and cfg.opacity == 0.55 and cfg.floor_tilt == 0.3 and cfg.weights is None
    assert shadow_step.step_class(cfg) is shadow_step.RealisticShadowStep
    for bad in ({"elevation": 2}, {"opacity": 1.5}, {"floor_tilt": 0}, {"weights": "/nonexistent/x.onnx"}):
        with pytest.raises(ValidationError):
            ADAPTER.validate_python({"kind": "realistic", **bad})


@needs_net
@pytest.mark.parametrize("mode", MODES)
def test_realistic_keeps_product_pixels_replays_and_records_its_model(mode):
    step = step_for(kind="realistic", azimuth={"range": [-60, 60]}, elevation={"range": [30, 70]})
    sample = make_sample(mode)
    out = step(sample, np.random.default_rng(3))
    solid = sample.alpha >= 1.0
    assert np.array_equal(out.image[solid], sample.image[solid])
    assert out.layers["shadow"].max() > 0.1
    assert out.meta["models"]["shadow"] == SHADOW_NET.name
    replay = step.apply(sample, out.meta["applied"]["shadow"])
    assert np.array_equal(replay.image, out.image)
    if mode == "transparent":
        assert (out.output_alpha >= sample.output_alpha).all() and out.output_alpha.sum() > sample.output_alpha.sum()


@needs_net
def test_realistic_shadow_falls_away_from_the_light():
    sample = make_sample("background")
    cx = []
    for az in (90.0, -90.0):
        out = step_for(kind="realistic", azimuth=az, elevation=40, contact=0.0, floor_tilt=0.4)(
            sample, np.random.default_rng(0))
        m = out.layers["shadow"]
        cx.append(float((m.sum(0) * np.arange(W)).sum() / m.sum()))
    assert cx[0] > 110 + 5 and cx[1] < 110 - 5   # light from the left → shadow right, and back
