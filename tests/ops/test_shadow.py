"""Shadow kernels: contact line, exact mirror, variable blur, cast shadow geometry and compositing."""
from __future__ import annotations

import cv2
import numpy as np
import pytest

from product_augment.ops import shadow as ops

from ..conftest import edge_width

H, W = 160, 200


def aa_matte(draw, h: int = H, w: int = W, ss: int = 4) -> np.ndarray:
    """Anti-aliased float32 matte: draw 255 on a 4× canvas (scale passed in), then area-average."""
    big = np.zeros((h * ss, w * ss), np.uint8)
    draw(big, ss)
    return cv2.resize(big, (w, h), interpolation=cv2.INTER_AREA).astype(np.float32) / 255.0


def box_matte(x0=70, y0=40, x1=130, y1=120) -> np.ndarray:
    a = np.zeros((H, W), np.float32)
    a[y0:y1, x0:x1] = 1.0
    return a


def bottle_matte() -> np.ndarray:
    def draw(c, s):
        pts = np.array([[94, 20], [106, 20], [106, 50], [120, 64], [120, 118], [80, 118], [80, 64],
                        [94, 50]], np.int32) * s
        cv2.fillPoly(c, [pts], 255, cv2.LINE_AA)
    return aa_matte(draw)


# --- contact line ---------------------------------------------------------------------------

def test_footprint_of_a_box():
    fp = ops.find_footprint(box_matte())
    assert fp.box == (70, 40, 130, 120)
    assert fp.base_y == 120
    assert fp.height == 80


def test_footprint_reaches_thin_legs_and_ignores_a_speck():
    a = np.zeros((H, W), np.float32)
    a[40:70, 60:140] = 1.0          # table top
    a[70:130, 62:64] = 1.0          # two legs, 2 px wide
    a[70:130, 136:138] = 1.0
    a[150, 100] = 1.0               # a stray speck below
    fp = ops.find_footprint(a)
    assert fp.base_y == 130
    assert fp.bottoms[62 - fp.box[0]] == 130 and fp.bottoms[80 - fp.box[0]] == 70


def test_fill_tells_solid_products_from_open_frames():
    assert ops.find_footprint(box_matte()).fill == pytest.approx(1.0)
    assert ops.find_footprint(bottle_matte()).fill > 0.95
    frame = np.zeros((H, W), np.float32)
    frame[40:46, 60:140] = 1.0
    frame[46:130, 60:63] = 1.0
    frame[46:130, 137:140] = 1.0
    assert ops.find_footprint(frame).fill < 0.2


def test_empty_matte_has_no_footprint():
    assert ops.find_footprint(np.zeros((H, W), np.float32)) is None


def test_contact_line_uses_the_floor_only_when_the_product_touches_it():
    fp = ops.find_footprint(box_matte())
    assert ops.contact_line(fp, None) == 120
    assert ops.contact_line(fp, 121.4) == 121      # touching: shadows sit on the scene's floor
    assert ops.contact_line(fp, 150.0) == 120      # floating above the floor: its own base


def test_touching_instances_are_one_product_and_apart_ones_are_two():
    alpha = np.zeros((H, W), np.float32)
    alpha[40:100, 20:60] = 1.0       # a cup ...
    alpha[100:106, 10:70] = 1.0      # ... on its saucer
    alpha[60:120, 120:180] = 1.0     # and a box further right
    cup, saucer, box = (np.zeros((H, W), bool) for _ in range(3))
    cup[40:100, 20:60] = saucer[100:106, 10:70] = box[60:120, 120:180] = True
    parts = ops.split_products(alpha, [cup, saucer, box])
    assert len(parts) == 2
    bases = sorted(ops.find_footprint(p).base_y for p in parts)
    assert bases == [106, 120]
    assert np.array_equal(np.maximum(*parts), alpha)


# --- mirror -----------------------------------------------------------------------------------

@pytest.mark.parametrize("matte", [bottle_matte(), box_matte()], ids=["bottle", "box"])
def test_reflection_matte_is_exactly_the_flipped_product(matte):
    axis = ops.find_footprint(matte).base_y
    refl = ops.reflect_matte(matte, axis)
    n = H - axis
    assert np.array_equal(refl[axis:], matte[axis - n:axis][::-1])
    assert not refl[:axis].any()


def test_mirror_layer_is_the_flipped_matte_times_the_fade():
    matte = bottle_matte()
    fp = ops.find_footprint(matte)
    image = np.full((H, W, 3), 200, np.uint8)
    layer = ops.mirror_reflection(image, matte, fp, fp.base_y, opacity=1.0, fade=2.0, blur=0.0, squash=1.0)
    got = layer.full((H, W))
    n = H - fp.base_y
    fade = ops.fade_weights(n, 1.0, 2.0 * fp.height)
    expected = ops.reflect_matte(matte, fp.base_y)
    expected[fp.base_y:] *= fade[:, None]
    # the layer is cropped to where it exceeds 0.5/255, so compare there and check the rest is faint
    inside = got > 0
    assert np.array_equal(got[inside], expected[inside])
    assert expected[~inside].max() <= 0.5 / 255


def test_mirror_fades_and_blurs_with_distance():
    matte = box_matte()
    fp = ops.find_footprint(matte)
    image = np.full((H, W, 3), 50, np.uint8)
    layer = ops.mirror_reflection(image, matte, fp, fp.base_y, opacity=0.5, fade=0.5, blur=0.1, squash=1.0)
    m = layer.full((H, W))
    col = m[fp.base_y:fp.base_y + 40, 100]
    assert col[0] == pytest.approx(0.5, abs=0.02)
    assert np.all(np.diff(col) <= 1e-6)              # opacity only falls
    near = edge_width(m[fp.base_y + 3, 40:100] / m[fp.base_y + 3, 100])
    far = edge_width(m[fp.base_y + 30, 40:100] / m[fp.base_y + 30, 100])
    assert far > near + 3


def test_squashed_reflection_is_shorter():
    matte = box_matte(y0=100)
    full = ops.reflect_rows(matte, 120, squash=1.0)
    half = ops.reflect_rows(matte, 120, squash=0.5)
    assert np.count_nonzero(full[:, 100] > 0.5) == 20
    assert np.count_nonzero(half[:, 100] > 0.5) == 10


# --- drop shadow ------------------------------------------------------------------------------

@pytest.mark.parametrize("rows", [1, 2, 5, 16, 40])
def test_reach_back_is_a_max_over_the_rows_below(rows):
    m = np.random.default_rng(0).random((60, 7), dtype=np.float32)
    expected = np.stack([m[y:y + rows + 1].max(axis=0) for y in range(60)])
    got = m.copy()
    ops.reach_back(got, rows)
    assert np.array_equal(got, expected)


def test_light_direction_moves_the_shadow_away_from_the_light():
    dx, dy = ops.light_shear(90, 45, 0.3)     # from the left: to the right
    assert dx == pytest.approx(1.0) and abs(dy) < 0.05
    dx, dy = ops.light_shear(0, 45, 0.3)      # from the front: behind, up in the picture
    assert dy == pytest.approx(-0.3) and abs(dx) < 1e-9
    dx, dy = ops.light_shear(180, 45, 0.3)    # from behind: towards the camera
    assert dy == pytest.approx(0.3)


def _backlit(matte, **kw):
    fp = ops.find_footprint(matte)
    args = {"azimuth": 180.0, "elevation": 45.0, "size": 0.15, "opacity": 0.8, "contact": 0.0,
            "floor_tilt": 0.5}
    args.update(kw)
    return fp, ops.drop_shadow(matte, fp, fp.base_y, **args).full(matte.shape)


def test_drop_shadow_is_darker_at_the_contact_than_far_away():
    fp, m = _backlit(box_matte(), contact=0.8)
    assert m[fp.base_y + 1, 100] > 0.6
    assert m[fp.base_y + 1, 100] > m[fp.base_y + 30, 100] + 0.25


def test_drop_shadow_penumbra_widens_with_distance_from_the_contact():
    fp, m = _backlit(box_matte())
    widths = [edge_width(m[fp.base_y + d, 40:100]) for d in (3, 15, 30)]
    assert widths[0] < 5.0
    assert widths[0] < widths[1] < widths[2]
    assert widths[2] > 3 * widths[0]


def test_soft_side_light_penumbra_crosses_the_contact_line_smoothly():
    fp = ops.find_footprint(box_matte())
    m = ops.drop_shadow(box_matte(), fp, fp.base_y, azimuth=90, elevation=20, size=0.3, opacity=1.0,
                        contact=0.0, floor_tilt=1.0).full((H, W))
    col = m[fp.base_y - 15:fp.base_y + 15, 190]       # far right of the product, across the line
    assert col.max() > 0.1
    assert np.abs(np.diff(col)).max() < 0.2 * col.max()     # no step at the line


def test_contact_shadow_sits_right_under_the_base():
    fp, m = _backlit(box_matte(), opacity=0.0, contact=1.0)
    assert m[fp.base_y, 100] > 0.7
    assert m[fp.base_y + 20, 100] < 0.05
    assert m[fp.base_y, 20] < 0.01           # and only under the footprint


def test_hard_shadow_edge_is_still_antialiased():
    fp = ops.find_footprint(box_matte())
    m = ops.drop_shadow(box_matte(), fp, fp.base_y, azimuth=150, elevation=40, size=0.0, opacity=1.0,
                        contact=0.0, floor_tilt=0.5).full((H, W))
    below = m[fp.base_y + 2:]
    partial = (below > 0.05) & (below < 0.95)
    assert partial.sum() > 20                # a sheared edge crosses pixels: fractional values


def test_shadow_falls_on_the_right_side_for_a_light_from_the_left():
    fp = ops.find_footprint(box_matte())
    m = ops.drop_shadow(box_matte(), fp, fp.base_y, azimuth=80, elevation=40, size=0.05, opacity=1.0,
                        contact=0.0, floor_tilt=0.3).full((H, W))
    assert m[:, 131:].sum() > 10 * m[:, :69].sum()
