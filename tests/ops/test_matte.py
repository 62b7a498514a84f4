"""confine_matte: the matte made from a soft probability map."""
import numpy as np


def test_confine_matte_tiles_give_the_full_frame_values():
    """The band-limited pass (tiles with an edge, margins wider than the band) equals the plain
    full-frame pass everywhere, on a matte with edges crossing many tiles."""
    import cv2

    from product_augment.ops import matte

    rng = np.random.default_rng(1)
    soft = np.zeros((700, 1100), np.float32)
    cv2.circle(soft, (550, 350), 300, 1.0, -1)
    cv2.rectangle(soft, (20, 20), (90, 680), 1.0, -1)  # touches the frame's edge region
    soft = np.clip(cv2.GaussianBlur(soft, (0, 0), 4) + rng.normal(0, 0.05, soft.shape).astype(np.float32), 0, 1)
    for band in (1.0, 3.0, 9.5):
        got = matte.confine_matte(soft, band)
        assert np.array_equal(got, matte._confine(np.clip(soft, 0, 1), band))


def test_confine_matte_allocates_about_two_frames():
    """On a large frame the matte costs its result and one copy of the mask's box (plus booleans):
    no clipped full-frame copy and no second full-frame result (3.3 frames before)."""
    import tracemalloc

    import cv2

    from product_augment.ops import matte

    soft = np.zeros((2731, 4096), np.float32)
    cv2.ellipse(soft, (2048, 1400), (1800, 1200), 0, 0, 360, 1.0, -1)
    soft = cv2.GaussianBlur(soft, (0, 0), 3)
    tracemalloc.start()
    try:
        out = matte.confine_matte(soft, 8.0)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert out.dtype == np.float32 and out[1400, 2048] == 1.0 and out[5, 5] == 0.0
    assert peak < 2.5 * soft.nbytes, peak / soft.nbytes
