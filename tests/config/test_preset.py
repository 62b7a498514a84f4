from pathlib import Path

import numpy as np
import pytest

from product_augment.config.errors import PresetError
from product_augment.config.preset import load_preset
from product_augment.config.sampling import ChoiceSpec, RangeSpec, draw
from product_augment.pipeline import ParamStep, PipelineOrderError, check_order


def write(tmp_path: Path, text: str, name: str = "p.yaml") -> Path:
    p = tmp_path / name
    p.write_text(text)
    return p


def errors_of(path: Path) -> list[str]:
    with pytest.raises(PresetError) as ei:
        load_preset(path)
    return str(ei.value).splitlines()


def test_minimal_preset_loads(tmp_path):
    p = write(tmp_path, "version: 1\nsteps:\n  - segment: {backend: classical}\n")
    preset = load_preset(p)
    assert [n for n, _ in preset.step_configs] == ["segment"]
    assert preset.model.variants == 1 and preset.model.output.format == "jpg"


def test_unknown_backend_did_you_mean(tmp_path):
    p = write(tmp_path, "version: 1\nsteps:\n  - segment: {backend: clasical}\n")
    assert errors_of(p) == [
        f"{p}: steps[0].segment.backend: 'clasical' is not one of yolact, alpha, masks, classical "
        "(did you mean 'classical'?)"]


def test_unknown_field_did_you_mean(tmp_path):
    p = write(tmp_path, "version: 1\nsteps:\n  - segment: {backend: classical, treshold: 3}\n")
    assert errors_of(p) == [f"{p}: steps[0].segment.treshold: unknown field (did you mean 'threshold'?)"]


def test_unknown_step_and_top_level_field(tmp_path):
    p = write(tmp_path, "version: 1\nvariant: 3\nsteps:\n  - segment: {backend: classical}\n")
    assert errors_of(p) == [f"{p}: variant: unknown field (did you mean 'variants'?)"]
    p = write(tmp_path, "version: 1\nsteps:\n  - segmnt: {backend: classical}\n")
    assert errors_of(p) == [f"{p}: steps[0]: unknown step 'segmnt'; steps are segment, palette, "
                            "background, shadow, logo (did you mean 'segment'?)"]


def test_missing_file_named_at_load(tmp_path):
    p = write(tmp_path, "version: 1\nsteps:\n  - segment: {backend: masks, path: nowhere}\n")
    (msg,) = errors_of(p)
    assert msg.startswith(f"{p}: steps[0].segment.path: file or folder not found: ")
    assert msg.endswith(str(tmp_path / "nowhere"))


def test_bad_version_and_bad_yaml(tmp_path):
    p = write(tmp_path, "version: 2\nsteps:\n  - segment: {backend: classical}\n")
    assert errors_of(p) == [f"{p}: version: 2 is not one of 1"]
    p = write(tmp_path, "version: 1\nsteps: [\n")
    (msg,) = errors_of(p)
    assert msg.startswith(f"{p}: line ") and "invalid YAML" in msg


def test_bad_class_name(tmp_path):
    p = write(tmp_path, "version: 1\nsteps:\n  - segment: {backend: classical, class_name: shoes}\n")
    (msg,) = errors_of(p)
    assert msg.startswith(f"{p}: steps[0].segment.class_name: unknown class 'shoes'")


def test_step_choice_validates_each_alternative(tmp_path):
    p = write(tmp_path, "version: 1\nsteps:\n  - segment:\n      choice:\n"
                        "        - {backend: classical}\n        - {backend: alpha, threshold: 2}\n"
                        "      weights: [1, 2]\n")
    (msg,) = errors_of(p)
    assert msg.startswith(f"{p}: steps[0].segment.choice[1].threshold: ")


def test_order_is_checked():
    class NeedsPalette(ParamStep):
        name = "background"
        requires = frozenset({"alpha", "palette"})

    class GivesPalette(ParamStep):
        name = "palette"
        requires = frozenset({"alpha"})
        provides = frozenset({"palette"})

    with pytest.raises(PipelineOrderError, match=r"steps\[0\]\.background requires alpha, palette"):
        check_order([NeedsPalette(), GivesPalette()])


def test_sampling_specs_draw_in_bounds():
    rng = np.random.default_rng(0)
    r = RangeSpec(range=(0.3, 0.6))
    vals = [draw(r, rng) for _ in range(200)]
    assert min(vals) >= 0.3 and max(vals) <= 0.6 and len(set(vals)) > 100
    ri = RangeSpec(range=(2, 4), int=True)
    assert {draw(ri, rng) for _ in range(200)} == {2, 3, 4}
    c = ChoiceSpec[str](choice=["a", "b"], weights=[0, 1])
    assert {draw(c, rng) for _ in range(50)} == {"b"}
    assert draw(0.5, rng) == 0.5
    with pytest.raises(ValueError, match="weights has 1 entries but choice has 2"):
        ChoiceSpec[str](choice=["a", "b"], weights=[1])
    with pytest.raises(ValueError, match="low end above its high end"):
        RangeSpec(range=(2, 1))


def test_sampled_field_errors_name_the_relevant_form(tmp_path):
    p = write(tmp_path, "version: 1\nsteps:\n  - segment: {backend: classical}\n  - palette: {}\n"
                        "  - background: {kind: solid, color: white}\n  - shadow: {kind: mirorr}\n"
                        "  - logo: {kind: caption, corner: middle, size: {range: [0.3]}}\n")
    assert errors_of(p) == [
        f"{p}: steps[3].shadow.kind: 'mirorr' is not one of mirror, drop, none (did you mean 'mirror'?)",
        f"{p}: steps[4].logo.size.range[1]: required field missing",
        f"{p}: steps[4].logo.corner: 'middle' is not one of top-left, top-right, bottom-left, "
        "bottom-right, top, bottom, left, right, any"]
    p = write(tmp_path, "version: 1\nsteps:\n  - segment: {backend: classical}\n"
                        "  - shadow: {kind: drop, opacity: {rnge: [0, 1]}}\n")
    assert errors_of(p) == [f"{p}: steps[1].shadow.opacity: expected a value, {{range: [lo, hi]}} or "
                            "{choice: [...], weights: [...]}; got {'rnge': [0, 1]}"]


def test_kind_choice_sugar_and_wrong_order(tmp_path):
    p = write(tmp_path, "version: 1\nsteps:\n  - segment: {backend: classical}\n"
                        "  - shadow: {kind: {choice: [mirror, drop], weights: [1, 2]}, opacity: 0.3, "
                        "azimuth: 20}\n")
    preset = load_preset(p)
    choice = preset.step_configs[1][1]
    assert [c.kind for c in choice.alternatives] == ["mirror", "drop"] and choice.weights == (1.0, 2.0)
    assert choice.alternatives[1].azimuth == 20 and not hasattr(choice.alternatives[0], "azimuth")
    p = write(tmp_path, "version: 1\nsteps:\n  - palette: {}\n  - segment: {backend: classical}\n")
    assert errors_of(p) == [f"{p}: steps[0].palette requires alpha: 'alpha' is provided by segment "
                            "which comes later"]


def test_colour_typo_names_the_colour_forms_not_only_random(tmp_path):
    p = write(tmp_path, "version: 1\nsteps:\n  - segment: {backend: classical}\n"
                        "  - background: {kind: solid, color: whte}\n")
    (msg,) = errors_of(p)
    assert msg.startswith(f"{p}: steps[1].background.color: 'whte' is not a colour: use '#rrggbb'")
    assert msg.endswith("(did you mean 'white'?)")
    p = write(tmp_path, "version: 1\nsteps:\n  - segment: {backend: classical}\n"
                        "  - background: {kind: solid, color: [300, 0, 0]}\n")
    (msg,) = errors_of(p)
    assert "[300, 0, 0] is not a colour" in msg and "not one of random" not in msg


def test_quoted_number_and_non_mapping_step_messages(tmp_path):
    p = write(tmp_path, "version: '1'\nsteps:\n  - segment: {backend: classical}\n")
    assert errors_of(p) == [f"{p}: version: '1' is a string; write 1 without quotes"]
    p = write(tmp_path, "version: 1\nsteps:\n  - segment: {backend: classical}\n  - background: white\n")
    assert errors_of(p) == [f"{p}: steps[1].background: expected a mapping of fields ({{key: value, ...}}), "
                            "got 'white'"]
    p = write(tmp_path, "version: 1\nsteps:\n  - segment: {backend: classical}\n"
                        "  - background: {kind: solid, canvas: 1024}\n")
    assert errors_of(p) == [f"{p}: steps[1].background.canvas: expected a mapping of fields "
                            "({key: value, ...}), got 1024"]


def test_a_step_given_twice_is_refused(tmp_path):
    # meta["applied"] and the layers are keyed by step name: a second logo step would overwrite
    # the first's record (replay breaks) and its matte (annotations lose the first overlay)
    p = write(tmp_path, "version: 1\nsteps:\n  - segment: {backend: classical}\n"
                        "  - logo: {kind: caption}\n  - logo: {kind: caption}\n")
    (msg,) = errors_of(p)
    assert msg == (f"{p}: steps[2].logo: logo is already steps[1]; each step can appear once "
                   "(use `choice:` to vary it)")


def test_gradient_colour_count_is_checked_not_clamped(tmp_path):
    p = write(tmp_path, "version: 1\nsteps:\n  - segment: {backend: classical}\n"
                        "  - background: {kind: gradient, colors: 7}\n")
    (msg,) = errors_of(p)
    assert msg.startswith(f"{p}: steps[1].background.colors: ") and "4" in msg


def test_replay_with_a_step_missing_names_it(tmp_path):
    from product_augment.sample import Sample

    p = write(tmp_path, "version: 1\nsteps:\n  - segment: {backend: alpha}\n  - palette: {}\n")
    pipe = load_preset(p).build_pipeline()
    img = np.zeros((8, 8, 3), np.uint8)
    with pytest.raises(KeyError, match="no recorded parameters for step 'palette'"):
        pipe.replay(Sample(img, np.ones((8, 8), np.float32)), {"segment": {"backend": "alpha"}})


def test_choice_weights_checked_the_same_for_steps_and_kinds(tmp_path):
    p = write(tmp_path, "version: 1\nsteps:\n  - segment: {backend: classical}\n"
                        "  - shadow: {kind: {choice: [mirror, drop], weights: [1, -1]}}\n")
    assert errors_of(p) == [f"{p}: steps[1].shadow.kind.weights: must be 2 non-negative numbers, not all zero"]
    p = write(tmp_path, "version: 1\nsteps:\n  - segment: {backend: classical}\n"
                        "  - shadow: {choice: [{kind: mirror}, {kind: drop}], weights: [0, 0]}\n")
    assert errors_of(p) == [f"{p}: steps[1].shadow.weights: must be 2 non-negative numbers, not all zero"]


def test_steps_that_read_a_later_step_s_output_are_refused(tmp_path):
    seg = "version: 1\nsteps:\n  - segment: {backend: classical}\n"
    # a shadow drawn before the background is painted over by it
    p = write(tmp_path, seg + "  - shadow: {kind: drop}\n  - background: {kind: solid, color: white}\n")
    assert errors_of(p) == [f"{p}: steps[1].shadow uses background: 'background' is provided by background "
                            "which comes later (put shadow after background)"]
    # so is a logo; and a logo placed before the shadow cannot keep off it
    p = write(tmp_path, seg + "  - logo: {kind: caption}\n  - background: {kind: gradient}\n"
                              "  - shadow: {kind: mirror}\n")
    assert errors_of(p) == [f"{p}: steps[1].logo uses background, layer:shadow: 'background' is provided by "
                            "background which comes later; 'layer:shadow' is provided by shadow which comes "
                            "later (put logo after background, shadow)"]
    # the background's contrast rule reads the palette: a later palette would be ignored
    p = write(tmp_path, seg + "  - background: {kind: solid, color: random}\n  - palette: {}\n")
    assert errors_of(p) == [f"{p}: steps[1].background uses palette: 'palette' is provided by palette "
                            "which comes later (put background after palette)"]
    # a step choice uses what any alternative uses; `kind: {choice}` sugar too
    p = write(tmp_path, seg + "  - background: {kind: {choice: [transparent, studio]}}\n  - palette: {}\n")
    assert errors_of(p)[0].startswith(f"{p}: steps[1].background uses palette:")
    p = write(tmp_path, seg + "  - shadow: {choice: [{kind: none}, {kind: drop}]}\n"
                              "  - background: {kind: studio}\n")
    assert errors_of(p)[0].startswith(f"{p}: steps[1].shadow uses background:")


def test_used_steps_are_optional_and_the_shipped_order_is_fine(tmp_path):
    seg = "version: 1\nsteps:\n  - segment: {backend: classical}\n"
    for steps in ("  - background: {kind: gradient}\n",                 # no palette at all
                  "  - shadow: {kind: drop}\n  - logo: {kind: caption}\n",  # on the original photo
                  "  - background: {kind: transparent}\n  - palette: {}\n",  # never reads it
                  "  - palette: {}\n  - background: {kind: studio}\n  - shadow: {kind: drop}\n"
                  "  - logo: {kind: caption, avoid_layers: []}\n"):
        load_preset(write(tmp_path, seg + steps))
    # a logo that avoids no layer may come before the shadow
    load_preset(write(tmp_path, seg + "  - logo: {kind: caption, avoid_layers: []}\n  - shadow: {kind: drop}\n"))


YOLACT = "version: 1\nsteps:\n  - segment: {{backend: yolact, weights: {w}, device: {d}}}\n"
WEIGHTS = Path(__file__).resolve().parents[2] / "weights" / "yolact_ws_effnetlite0.safetensors"


def test_cuda_device_without_a_gpu_is_a_preset_error(tmp_path, monkeypatch):
    import torch
    from click.testing import CliRunner

    from product_augment.cli.main import main

    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    p = write(tmp_path, YOLACT.format(w=WEIGHTS, d="cuda"))
    assert errors_of(p) == [
        f"{p}: steps[0].segment.device: 'cuda' but no CUDA GPU is available on this machine "
        "(torch.cuda.is_available() is false); use device: auto (GPU when there is one) or cpu"]
    # before any image is read: the run stops with the preset exit code and writes nothing
    inp = tmp_path / "in"
    inp.mkdir()
    (inp / "x.png").write_bytes(b"not read")
    r = CliRunner().invoke(main, ["run", "--config", str(p), "--input", str(inp),
                                  "--output", str(tmp_path / "o"), "--workers", "1"])
    assert r.exit_code == 2 and "steps[0].segment.device: 'cuda'" in r.output
    assert not (tmp_path / "o").exists()
    p = write(tmp_path, "version: 1\nsteps:\n  - segment:\n      choice:\n        - {backend: classical}\n"
                        f"        - {{backend: yolact, weights: {WEIGHTS}, device: cuda}}\n")
    (msg,) = errors_of(p)
    assert msg.startswith(f"{p}: steps[0].segment.choice[1].device: 'cuda' but no CUDA GPU")
    for device in ("auto", "cpu"):
        load_preset(write(tmp_path, YOLACT.format(w=WEIGHTS, d=device)))
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    load_preset(write(tmp_path, YOLACT.format(w=WEIGHTS, d="cuda")))
