"""sRGB ↔ CIELAB and CIEDE2000 against published reference data."""
from __future__ import annotations

import numpy as np
import pytest

from product_augment.ops.color import delta_e_2000, lab_to_srgb, min_delta_e, srgb_to_lab

# Sharma, Wu & Dalal (2005), Table 1: (L1, a1, b1), (L2, a2, b2), ΔE00.
SHARMA = [
    ((50.0000, 2.6772, -79.7751), (50.0000, 0.0000, -82.7485), 2.0425),
    ((50.0000, 3.1571, -77.2803), (50.0000, 0.0000, -82.7485), 2.8615),
    ((50.0000, 2.8361, -74.0200), (50.0000, 0.0000, -82.7485), 3.4412),
    ((50.0000, -1.3802, -84.2814), (50.0000, 0.0000, -82.7485), 1.0000),
    ((50.0000, -1.1848, -84.8006), (50.0000, 0.0000, -82.7485), 1.0000),
    ((50.0000, -0.9009, -85.5211), (50.0000, 0.0000, -82.7485), 1.0000),
    ((50.0000, 0.0000, 0.0000), (50.0000, -1.0000, 2.0000), 2.3669),
    ((50.0000, -1.0000, 2.0000), (50.0000, 0.0000, 0.0000), 2.3669),
    ((50.0000, 2.4900, -0.0010), (50.0000, -2.4900, 0.0009), 7.1792),
    ((50.0000, 2.4900, -0.0010), (50.0000, -2.4900, 0.0010), 7.1792),
    ((50.0000, 2.4900, -0.0010), (50.0000, -2.4900, 0.0011), 7.2195),
    ((50.0000, 2.4900, -0.0010), (50.0000, -2.4900, 0.0012), 7.2195),
    ((50.0000, -0.0010, 2.4900), (50.0000, 0.0009, -2.4900), 4.8045),
    ((50.0000, -0.0010, 2.4900), (50.0000, 0.0010, -2.4900), 4.8045),
    ((50.0000, -0.0010, 2.4900), (50.0000, 0.0011, -2.4900), 4.7461),
    ((50.0000, 2.5000, 0.0000), (50.0000, 0.0000, -2.5000), 4.3065),
    ((50.0000, 2.5000, 0.0000), (73.0000, 25.0000, -18.0000), 27.1492),
    ((50.0000, 2.5000, 0.0000), (61.0000, -5.0000, 29.0000), 22.8977),
    ((50.0000, 2.5000, 0.0000), (56.0000, -27.0000, -3.0000), 31.9030),
    ((50.0000, 2.5000, 0.0000), (58.0000, 24.0000, 15.0000), 19.4535),
    ((50.0000, 2.5000, 0.0000), (50.0000, 3.1736, 0.5854), 1.0000),
    ((50.0000, 2.5000, 0.0000), (50.0000, 3.2972, 0.0000), 1.0000),
    ((50.0000, 2.5000, 0.0000), (50.0000, 1.8634, 0.5757), 1.0000),
    ((50.0000, 2.5000, 0.0000), (50.0000, 3.2592, 0.3350), 1.0000),
    ((60.2574, -34.0099, 36.2677), (60.4626, -34.1751, 39.4387), 1.2644),
    ((63.0109, -31.0961, -5.8663), (62.8187, -29.7946, -4.0864), 1.2630),
    ((61.2901, 3.7196, -5.3901), (61.4292, 2.2480, -4.9620), 1.8731),
    ((35.0831, -44.1164, 3.7933), (35.0232, -40.0716, 1.5901), 1.8645),
    ((22.7233, 20.0904, -46.6940), (23.0331, 14.9730, -42.5619), 2.0373),
    ((36.4612, 47.8580, 18.3852), (36.2715, 50.5065, 21.2231), 1.4146),
    ((90.8027, -2.0831, 1.4410), (91.1528, -1.6435, 0.0447), 1.4441),
    ((90.9257, -0.5406, -0.9208), (88.6381, -0.8985, -0.7239), 1.5381),
    ((6.7747, -0.2908, -2.4247), (5.8714, -0.0985, -2.2286), 0.6377),
    ((2.0776, 0.0795, -1.1350), (0.9033, -0.0636, -0.5514), 0.9082),
]


def test_ciede2000_matches_sharma_table_vectorised():
    lab1 = np.array([p[0] for p in SHARMA])
    lab2 = np.array([p[1] for p in SHARMA])
    expected = np.array([p[2] for p in SHARMA])
    np.testing.assert_allclose(delta_e_2000(lab1, lab2), expected, atol=5e-5)
    # symmetric
    np.testing.assert_allclose(delta_e_2000(lab2, lab1), expected, atol=5e-5)


@pytest.mark.parametrize("pair", SHARMA[:8])
def test_ciede2000_scalar_inputs(pair):
    assert float(delta_e_2000(pair[0], pair[1])) == pytest.approx(pair[2], abs=5e-5)


def test_ciede2000_identity_and_broadcast():
    lab = srgb_to_lab(np.random.default_rng(0).integers(0, 256, (50, 3), dtype=np.uint8))
    assert np.all(delta_e_2000(lab, lab) == 0)
    d = delta_e_2000(lab[:, None], lab[None, :])
    assert d.shape == (50, 50)
    np.testing.assert_allclose(d, d.T, atol=1e-9)


def test_lab_reference_values():
    np.testing.assert_allclose(srgb_to_lab(np.array([255, 255, 255], np.uint8)), [100, 0, 0], atol=1e-3)
    np.testing.assert_allclose(srgb_to_lab(np.array([0, 0, 0], np.uint8)), [0, 0, 0], atol=1e-6)
    # sRGB red, D65 (Bruce Lindbloom's calculator): L 53.2408, a 80.0925, b 67.2032
    np.testing.assert_allclose(srgb_to_lab(np.array([255, 0, 0], np.uint8)), [53.2408, 80.0925, 67.2032],
                               atol=5e-3)
    # float input in [0, 1] agrees with uint8 input
    rgb = np.random.default_rng(1).integers(0, 256, (100, 3), dtype=np.uint8)
    np.testing.assert_allclose(srgb_to_lab(rgb / 255.0), srgb_to_lab(rgb), atol=1e-9)


def test_srgb_lab_round_trip_is_exact_on_uint8():
    rgb = np.random.default_rng(2).integers(0, 256, (4000, 3), dtype=np.uint8)
    assert np.array_equal(lab_to_srgb(srgb_to_lab(rgb)), rgb)


def test_min_delta_e_empty_palette_is_unconstrained():
    d = min_delta_e(np.zeros((3, 3)), np.zeros((0, 3)))
    assert np.all(np.isinf(d))
