"""Golden images: the compositing chain on a fixed synthetic product, compared with a tolerance.

Regenerate after an intended visual change with `UPDATE_GOLDEN=1 pytest tests/test_golden.py`
and look at the new files before committing them.
"""
import os
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from product_augment.presets.loader import load_preset
from product_augment.sample import Sample

from .conftest import make_packshot

GOLDEN = Path(__file__).parent / "golden"
CASES = {
    "white-drop": "  - background: {kind: solid, color: white, canvas: {size: 256, aspect: 1.0}, scale: 0.6}\n"
                  "  - shadow: {kind: drop, azimuth: 30, elevation: 50, size: 0.1, opacity: 0.5}\n",
    "gradient-mirror-caption": "  - background: {kind: gradient, canvas: {size: 256, aspect: 1.0}, scale: 0.55}\n"
                               "  - shadow: {kind: mirror, opacity: 0.4}\n"
                               "  - logo: {kind: caption, text: NEW, corner: top-right}\n",
    "studio-drop": "  - background: {kind: studio, canvas: {size: 256, aspect: 1.0}, scale: 0.5}\n"
                   "  - shadow: {kind: drop, azimuth: -30, elevation: 40}\n",
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_golden(name, tmp_path):
    p = tmp_path / "p.yaml"
    p.write_text("version: 1\nsteps:\n  - segment: {backend: alpha, class_name: cup}\n  - palette: {}\n"
                 + CASES[name])
    pipeline = load_preset(p).build_pipeline()
    img, mask = make_packshot()
    out = pipeline(Sample(image=img, alpha=mask.astype(np.float32)), seed=3, relpath="golden.png")
    got = out.image
    path = GOLDEN / f"{name}.png"
    if os.environ.get("UPDATE_GOLDEN"):
        GOLDEN.mkdir(exist_ok=True)
        Image.fromarray(got).save(path)
    want = np.asarray(Image.open(path).convert("RGB"))
    assert got.shape == want.shape
    mad = np.abs(got.astype(np.float32) - want).mean()
    assert mad < 1.0, f"{name}: mean absolute difference {mad:.2f} from {path}"
