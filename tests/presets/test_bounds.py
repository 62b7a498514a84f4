"""One bounds check for every sampled number (issue 23): a zero or negative scale, zoom or radius is
a preset error naming the field, whether fixed, a range end or a choice."""
import pytest

from product_augment.presets.errors import PresetError
from product_augment.presets.loader import load_preset

HEAD = "version: 1\nsteps:\n  - segment: {backend: alpha}\n  - palette: {}\n"


@pytest.mark.parametrize("step, field", [
    ("{kind: solid, scale: -0.5}", "steps[2].background.scale"),
    ("{kind: solid, scale: 0}", "steps[2].background.scale"),
    ("{kind: texture, mode: scale, zoom: {range: [0.0, 1.2]}}", "steps[2].background.zoom"),
    ("{kind: gradient, radius: {choice: [0.8, -1]}}", "steps[2].background.radius"),
    ("{kind: studio, sheen: 1.5}", "steps[2].background.sheen"),
])
def test_out_of_bounds_number_is_a_preset_error_naming_the_field(tmp_path, step, field):
    p = tmp_path / "p.yaml"
    p.write_text(HEAD + f"  - background: {step}\n")
    with pytest.raises(PresetError) as e:
        load_preset(p)
    assert field in str(e.value) and "outside" in str(e.value)


def test_in_bounds_numbers_pass(tmp_path):
    p = tmp_path / "p.yaml"
    p.write_text(HEAD + "  - background: {kind: solid, scale: {range: [0.4, 0.9]}}\n"
                        "  - shadow: {kind: drop, opacity: {choice: [0.2, 0.5]}}\n")
    load_preset(p)
