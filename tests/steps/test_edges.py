"""Issue 12: clean product edges against the exact alpha composite (no blocks, no halo, a tight
cut-out). Cut-outs are procedural (tests/steps/cutouts.py) with an exact soft alpha: leaves with
anti-aliased edges, hair-thin fringes and a semi-transparent glass disc."""
import cv2
import numpy as np
import pytest
from PIL import Image

from product_augment.presets.loader import load_preset
from product_augment.sample import Sample

from .cutouts import backdrop, blockiness, composite, edge_errors, foliage_cutout, soft_iou

LIGHT_BG, DARK_BG = (232, 230, 224), (24, 26, 32)


def _run(tmp_path, seg: str, bg: str, image, alpha=None, name="c"):
    p = tmp_path / "p.yaml"
    p.write_text(f"version: 1\nsteps:\n  - segment: {seg}\n  - palette: {{}}\n  - background: {bg}\n")
    return load_preset(p).build_pipeline()(Sample(image=image, alpha=alpha, meta={"relpath": f"{name}.png"}),
                                           seed=0, relpath=f"{name}.png")


def _case(light: bool, seed: int = 0):
    f, a = foliage_cutout(160, np.random.default_rng(seed), light=light)
    new_bg = DARK_BG if light else LIGHT_BG
    exact = composite(f, a, np.broadcast_to(np.array(new_bg, np.uint8), f.shape))
    solid = f"{{kind: solid, color: [{new_bg[0]}, {new_bg[1]}, {new_bg[2]}], canvas: null, scale: null}}"
    return f, a, exact, solid


def _masks_run(tmp_path, img, a, solid):
    d = tmp_path / "m"
    d.mkdir(exist_ok=True)
    Image.fromarray(np.rint(a * 255).astype(np.uint8)).save(d / "c.png")
    return _run(tmp_path, f"{{backend: masks, path: {d}}}", solid, img)


@pytest.mark.parametrize("light", [False, True], ids=["dark-on-light", "light-on-dark"])
@pytest.mark.parametrize("old", ["plain", "texture", "photo"])
def test_masks_backend_matches_exact_composite(tmp_path, light, old):
    f, a, exact, solid = _case(light)
    img = composite(f, a, backdrop(old, *a.shape, np.random.default_rng(1), tone=30 if light else 235))
    out = _masks_run(tmp_path, img, a, solid)
    m = edge_errors(out.image, exact, a)
    assert m["band_mae"] < 2.0, m          # within 2 grey levels in the ±8 px band
    assert m["interior_mae"] < 0.5, m
    assert abs(m["halo"]) < 1.0 and m["halo_abs"] < 1.5, m   # no halo in the 1–6 px ring
    assert m["blockiness"] < 20, m       # no window-shaped blocks (the old code: 31 px)


@pytest.mark.parametrize("light", [False, True], ids=["dark-on-light", "light-on-dark"])
def test_alpha_backend_straight_cutout_matches_exact_composite(tmp_path, light):
    f, a, exact, solid = _case(light, seed=2)
    out = _run(tmp_path, "{backend: alpha}", solid, f, a)  # an RGBA cut-out: straight colours
    m = edge_errors(out.image, exact, a)
    assert m["band_mae"] < 1.0 and abs(m["halo"]) < 0.5 and m["blockiness"] < 12, m


def test_blockiness_metric_sees_window_blocks():
    diff = np.zeros((64, 64), np.float32)
    assert blockiness(diff) == 0
    diff[10:40, 20:44] = 12  # a rectangular smear
    assert blockiness(diff) == 30
    yy, xx = np.mgrid[:64, :64]
    disc = ((yy - 32) ** 2 + (xx - 32) ** 2 < 20 ** 2) * 12.0  # a round error: short runs only
    assert blockiness(disc) < 16


@pytest.mark.parametrize("light", [False, True])
def test_cutout_alpha_stays_within_band_and_beats_the_mask(tmp_path, light):
    f, a, _, _ = _case(light, seed=3)
    img = composite(f, a, backdrop("photo", *a.shape, np.random.default_rng(4), tone=128))
    binary = a > 0.5
    d = tmp_path / "m"
    d.mkdir()
    Image.fromarray(binary.astype(np.uint8) * 255).save(d / "c.png")
    out = _run(tmp_path, f"{{backend: masks, path: {d}}}",
               "{kind: transparent, refine: {erode: 0, feather: 1.0}}", img)
    dist = cv2.distanceTransform((~binary).astype(np.uint8), cv2.DIST_L2, cv2.DIST_MASK_PRECISE)
    # feather 1 px: alpha > 0 only within 2 px (Euclidean, 2.3 for the diagonal) of the mask
    assert dist[out.output_alpha > 0].max() <= 2.3
    assert soft_iou(out.output_alpha, a) >= soft_iou(binary, a)
    # the RGBA colours under the cut-out are the product's, not the photo's
    assert np.array_equal(out.image[out.alpha > 0], out.plate[out.alpha > 0])


def test_confined_probability_matte():
    from product_augment.ops.matte import confine_matte
    x = np.arange(80, dtype=np.float32)
    prob = np.tile(1 / (1 + np.exp((x - 40) / 6)), (20, 1)).astype(np.float32)  # long tails
    prob[:, :20] *= 0.85  # "textured" interior below 1
    out = confine_matte(prob, band=2)
    assert np.array_equal(out > 0.5, prob > 0.5)
    assert out[:, :37].min() == 1.0 and out[:, 43:].max() == 0.0
    assert np.all(np.diff(out[0]) <= 0)  # still a monotone edge
