"""Every shipped preset loads, and runs end to end on an example photo with the shipped weights."""
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from product_augment.presets.loader import load_preset
from product_augment.runner import RunOptions, run

ROOT = Path(__file__).resolve().parents[1]
PRESETS = sorted((ROOT / "configs").glob("*.yaml"))
WEIGHTS = ROOT / "weights" / "yolact_ws_effnetlite0.safetensors"


def test_presets_shipped():
    assert {p.stem for p in PRESETS} >= {"catalog-white", "gradient-mirror", "texture", "studio", "photo-scene",
                                        "transparent", "sale-caption", "train-expand"}


@pytest.mark.parametrize("path", PRESETS, ids=lambda p: p.stem)
def test_preset_runs_on_an_example(path, tmp_path):
    preset = load_preset(path)
    assert preset.model.description and preset.step_configs[0][0] == "segment"
    inp = tmp_path / "in"
    inp.mkdir()
    # a small copy of one example keeps the test quick
    img = Image.open(ROOT / "examples" / "handbag.jpg")
    img.thumbnail((320, 320))
    img.save(inp / "handbag.jpg", quality=95)
    out = tmp_path / "out"
    summary = run(load_preset(path, {"variants": 1}), RunOptions(input_dir=inp, output_dir=out, workers=1))
    assert summary.ok, summary.failed
    (image,) = (out / "images").iterdir()
    pic = np.asarray(Image.open(image))
    if preset.model.output.format == "png" or pic.shape[-1] == 4:
        assert pic.shape[-1] == 4 and pic[..., 3].min() == 0 and pic[..., 3].max() == 255
    masks = sorted((out / "masks").iterdir())
    assert masks, "no instance mask written"
    m = np.asarray(Image.open(masks[0])) > 127  # __i0: the product (a backdrop's own objects follow it)
    assert masks[0].stem.endswith("__i0")
    assert m.shape == pic.shape[:2] and 0.02 < m.mean() < 0.9
