import re
from pathlib import Path

import numpy as np
import pytest

from product_augment.pipeline import ParamStep, PipelineOrderError, check_order
from product_augment.presets.errors import PresetError
from product_augment.presets.loader import load_preset
from product_augment.presets.sampling import ChoiceSpec, RangeSpec, draw


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
        (f"{p}: steps[0].segment.backend: 'clasical' is not one of yolact, alpha, masks, classical "
        "(did you mean 'classical'?)")]


def test_unknown_field_did_you_mean(tmp_path):
    p = write(tmp_path, "version: 1\nsteps:\n  - segment: {backend: classical, treshold: 3}\n")
    assert errors_of(p) == [f"{p}: steps[0].segment.treshold: unknown field (did you mean 'threshold'?)"]


def test_unknown_step_and_top_level_field(tmp_path):
    p = write(tmp_path, "version: 1\nvariant: 3\nsteps:\n  - segment: {backend: classical}\n")
    assert errors_of(p) == [f"{p}: variant: unknown field (did you mean 'variants'?)"]
    p = write(tmp_path, "version: 1\nsteps:\n  - segmnt: {backend: classical}\n")
    assert errors_of(p) == [(f"{p}: steps[0]: unknown step 'segmnt'; steps are segment, palette, "
                            "background, shadow, logo (did you mean 'segment'?)")]


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
        f"{p}: steps[3].shadow.kind: 'mirorr' is not one of mirror, drop, realistic, none (did you mean 'mirror'?)",
        f"{p}: steps[4].logo.size.range[1]: required field missing",
        (f"{p}: steps[4].logo.corner: 'middle' is not one of top-left, top-right, bottom-left, "
        "bottom-right, top, bottom, left, right, any")]
    p = write(tmp_path, "version: 1\nsteps:\n  - segment: {backend: classical}\n"
                        "  - shadow: {kind: drop, opacity: {rnge: [0, 1]}}\n")
    assert errors_of(p) == [(f"{p}: steps[1].shadow.opacity: expected a value, {{range: [lo, hi]}} or "
                            "{choice: [...], weights: [...]}; got {'rnge': [0, 1]}")]


def test_kind_choice_sugar_and_wrong_order(tmp_path):
    p = write(tmp_path, "version: 1\nsteps:\n  - segment: {backend: classical}\n"
                        "  - shadow: {kind: {choice: [mirror, drop], weights: [1, 2]}, opacity: 0.3, "
                        "azimuth: 20}\n")
    preset = load_preset(p)
    choice = preset.step_configs[1][1]
    assert [c.kind for c in choice.alternatives] == ["mirror", "drop"] and choice.weights == (1.0, 2.0)
    assert choice.alternatives[1].azimuth == 20 and not hasattr(choice.alternatives[0], "azimuth")
    p = write(tmp_path, "version: 1\nsteps:\n  - palette: {}\n  - segment: {backend: classical}\n")
    assert errors_of(p) == [(f"{p}: steps[0].palette requires alpha: 'alpha' is provided by segment "
                            "which comes later")]


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
    assert errors_of(p) == [(f"{p}: steps[1].background: expected a mapping of fields ({{key: value, ...}}), "
                            "got 'white'")]
    p = write(tmp_path, "version: 1\nsteps:\n  - segment: {backend: classical}\n"
                        "  - background: {kind: solid, canvas: 1024}\n")
    assert errors_of(p) == [(f"{p}: steps[1].background.canvas: expected a mapping of fields "
                            "({key: value, ...}), got 1024")]


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
    assert errors_of(p) == [(f"{p}: steps[1].shadow uses plate: 'plate' is provided by background "
                            "which comes later (put shadow after background)")]
    # so is a logo; and a logo placed before the shadow cannot keep off it
    p = write(tmp_path, seg + "  - logo: {kind: caption}\n  - background: {kind: gradient}\n"
                              "  - shadow: {kind: mirror}\n")
    assert errors_of(p) == [(f"{p}: steps[1].logo uses layer:shadow, plate: 'layer:shadow' is provided by "
                            "shadow which comes later; 'plate' is provided by background which comes "
                            "later (put logo after background, shadow)")]
    # the background's contrast rule reads the palette: a later palette would be ignored
    p = write(tmp_path, seg + "  - background: {kind: solid, color: random}\n  - palette: {}\n")
    assert errors_of(p) == [(f"{p}: steps[1].background uses palette: 'palette' is provided by palette "
                            "which comes later (put background after palette)")]
    # a step choice uses what any alternative uses; `kind: {choice}` sugar too
    p = write(tmp_path, seg + "  - background: {kind: {choice: [transparent, studio]}}\n  - palette: {}\n")
    assert errors_of(p)[0].startswith(f"{p}: steps[1].background uses palette:")
    p = write(tmp_path, seg + "  - shadow: {choice: [{kind: none}, {kind: drop}]}\n"
                              "  - background: {kind: studio}\n")
    assert errors_of(p)[0].startswith(f"{p}: steps[1].shadow uses plate:")


def test_used_steps_are_optional_and_the_shipped_order_is_fine(tmp_path):
    seg = "version: 1\nsteps:\n  - segment: {backend: classical}\n"
    for steps in ("  - background: {kind: gradient}\n",                 # no palette at all
                  "  - shadow: {kind: drop}\n  - logo: {kind: caption}\n",  # on the original photo
                  "  - background: {kind: transparent}\n  - palette: {}\n",  # never reads it
                  ("  - palette: {}\n  - background: {kind: studio}\n  - shadow: {kind: drop}\n"
                  "  - logo: {kind: caption, avoid_layers: []}\n")):
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
        (f"{p}: steps[0].segment.device: 'cuda' but no CUDA GPU is available on this machine "
        "(torch.cuda.is_available() is false); use device: auto (GPU when there is one) or cpu")]
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


# Error locations are plain field paths: sampled values and step variants are validated by their
# shape / tag, one form alone, so no pydantic union member name ('float', 'function-after[...]',
# 'RangeSpec', a kind tag) ever reaches a message.
SEG = "version: 1\nsteps:\n  - segment: {backend: classical}\n"
PLAIN_PATH = re.compile(r"steps\[\d+\]\.\w+(\.\w+|\[\d+\])*")
LABELS = re.compile(r"function-|RangeSpec|ChoiceSpec|literal\[|tagged-union|\bfloat\b|tuple\[|list\[|constrained|"
                    r"Union|Annotated")
BAD_STEPS = [
    "  - shadow: {kind: drop, opacity: {rnge: [0, 1]}, color: {choice: [auto, whte]}}\n",
    "  - shadow: {kind: drop, opacity: {choice: [0.1, x], wieghts: [1]}, size: {range: [1, 0]}}\n",
    "  - shadow: {kind: mirror, blur: [1, 2], fade: {range: [0.1, 0.5], nt: true}}\n",
    "  - background: {kind: solid, color: {choice: [random, whte], weights: [1]}, canvas: {sise: 5}}\n",
    "  - background: {kind: gradient, colors: ['#fff', 7], shape: {choice: [radal]}, angle: x}\n",
    "  - background: {kind: studio, wall: {range: [1, 2]}, scale: {range: [0.5]}, refine: 3}\n",
    "  - logo: {kind: caption, text: {choice: [a, 5]}, badge_color: {choice: [whte]}, text_color: blck}\n",
    "  - logo: {kind: caption, corner: {choice: [middle]}, size: {choice: [0.1], weights: [0]}}\n",
    ("  - background:\n      choice:\n        - {kind: solid, color: 5}\n"
    "        - {kind: studio, scale: {range: [1, 2, 3]}}\n"),
]


@pytest.mark.parametrize("step", BAD_STEPS)
def test_no_union_member_names_in_messages(tmp_path, step):
    p = write(tmp_path, SEG + step)
    msgs = errors_of(p)
    assert msgs
    for msg in msgs:
        where, text = msg.removeprefix(f"{p}: ").split(": ", 1)
        assert PLAIN_PATH.fullmatch(where) and not LABELS.search(text), msg


def test_nested_paths_name_the_field_and_the_form(tmp_path):
    p = write(tmp_path, SEG + "  - palette: {}\n  - background:\n      choice:\n        - {kind: solid}\n"
                              "        - {kind: studio, scale: {range: [1, 2, 3]}, wal: white}\n"
                              "        - {kind: solid, scale: {choice: [0.5, x]}, color: {choice: [random, whte]}}\n")
    msgs = [m.removeprefix(f"{p}: ") for m in errors_of(p)]
    assert msgs[0].startswith("steps[2].background.choice[1].scale.range: ")
    assert msgs[1] == "steps[2].background.choice[1].wal: unknown field (did you mean 'wall'?)"
    assert msgs[2].startswith("steps[2].background.choice[2].scale.choice[1]: ")
    assert msgs[3].startswith("steps[2].background.choice[2].color.choice[1]: 'whte' is not a colour: ")
    assert msgs[3].endswith("(did you mean 'white'?)") and len(msgs) == 4


def test_each_form_reports_its_own_errors(tmp_path):
    cases = {
        # a ChoiceSpec's fields, not a RangeSpec's
        "  - shadow: {kind: drop, opacity: {choice: [0.1, 0.2], wieghts: [1, 2]}}\n":
            ["steps[1].shadow.opacity.wieghts: unknown field (did you mean 'weights'?)"],
        "  - shadow: {kind: drop, opacity: {range: [0.1, 0.5], zz: true}}\n":
            ["steps[1].shadow.opacity.zz: unknown field; fields here are range, int"],
        "  - shadow: {kind: drop, opacity: {choice: [0.1, 0.2], weights: [1]}}\n":
            ["steps[1].shadow.opacity: weights has 1 entries but choice has 2"],
        "  - shadow: {kind: drop, color: {range: [1, 2]}}\n":
            [("steps[1].shadow.color: expected a value, {range: [lo, hi]} or {choice: [...], weights: [...]}; "
             "got {'range': [1, 2]}")],
        # a bad colour inside a choice is that entry's error, once
        "  - background: {kind: solid, color: {choice: [random, '#fff', blak]}}\n":
            [("steps[1].background.color.choice[2]: 'blak' is not a colour: use '#rrggbb', [r, g, b] or one of "
             "black, blue, catalog, green, grey, light-grey, red, white, yellow (did you mean 'black'?)")],
        # `int | list[Color]`: the list's error for a list, the number's for a number
        "  - background: {kind: gradient, colors: ['#fff']}\n":
            ["steps[1].background.colors: List should have at least 2 items after validation, not 1"],
        "  - background: {kind: gradient, colors: ['#fff', [1, 2]]}\n":
            [("steps[1].background.colors[1]: [1, 2] is not a colour: use '#rrggbb' or [r, g, b] with 0..255 "
             "integers")],
        "  - shadow: {kind: 3}\n": ["steps[1].shadow.kind: 3 is not one of mirror, drop, realistic, none"],
        "  - shadow: {kind: null}\n":  # YAML's null, not the string none
            ["steps[1].shadow.kind: None is not one of mirror, drop, realistic, none (did you mean 'none'?)"],
        "  - shadow: {}\n": ["steps[1].shadow.kind: missing; one of mirror, drop, realistic, none"],
        "  - shadow: [1, 2]\n": ["steps[1].shadow: expected a mapping of fields ({key: value, ...}), got [1, 2]"],
        # a shared field's error under `kind: {choice}` is said once, not once per kind
        "  - shadow: {kind: {choice: [mirror, drop]}, opacity: 3}\n":
            ["steps[1].shadow.opacity: 3 is outside [0, 1]"],
    }
    for step, want in cases.items():
        p = write(tmp_path, SEG + step)
        assert [m.removeprefix(f"{p}: ") for m in errors_of(p)] == want, step


def test_sampled_values_keep_their_types_schema_and_context(tmp_path):
    from typing import Literal

    from pydantic import BaseModel, TypeAdapter

    from product_augment.presets.sampling import SampledFloat, SampledInt, sampled
    from product_augment.presets.types import Color, PresetPath

    class M(BaseModel):
        a: SampledFloat = 0.5
        b: SampledInt | None = None
        c: sampled(Literal["auto"] | Color) = "auto"
        d: sampled(PresetPath) | None = None

    (tmp_path / "x.png").write_bytes(b"")
    m = M.model_validate({"a": {"range": [0, 1]}, "b": 3.0, "c": {"choice": ["auto", "white"], "weights": [1, 3]},
                          "d": {"choice": ["x.png"]}}, context={"base_dir": str(tmp_path)})
    assert isinstance(m.a, RangeSpec) and m.a.range == (0.0, 1.0) and m.b == 3 and type(m.b) is int
    assert isinstance(m.c, ChoiceSpec) and m.c.choice == ["auto", (255, 255, 255)] and m.c.weights == [1.0, 3.0]
    assert m.d.choice == [tmp_path / "x.png"]
    assert M(a=0.25, c=[1, 2, 3]).c == (1, 2, 3) and type(M(a=1).a) is float
    assert M(a=RangeSpec(range=(1, 2))).a == RangeSpec(range=(1, 2))
    # the JSON schema is still the union's
    schema = TypeAdapter(M).json_schema()
    assert schema["properties"]["a"]["anyOf"] == [{"type": "number"}, {"$ref": "#/$defs/RangeSpec"},
                                                  {"$ref": "#/$defs/ChoiceSpec_float_"}]
    assert M(a={"choice": [1, 2]}).model_dump(mode="json")["a"] == {"choice": [1.0, 2.0], "weights": None}


def test_config_models_name_their_own_errors_without_the_loader():
    """The messages come from the models (presets.fields): a step config validated on its own says
    the same as the loader does under steps[i].<step>."""
    from pydantic import ValidationError

    from product_augment.presets.fields import format_errors
    from product_augment.steps import background, logo
    from product_augment.steps.registry import STEPS

    with pytest.raises(ValidationError) as e:
        background.SolidConfig.model_validate({"kind": "solid", "colr": "white", "position": "middl",
                                               "scale": {"range": [0.2, 0.5], "it": True}})
    assert sorted(format_errors(e.value)) == [
        "colr: unknown field (did you mean 'color'?)",
        "position: 'middl' is not one of center, random, floor",
        "scale.it: unknown field (did you mean 'int'?)"]
    # the registry is the loader's table: every step's kinds by their key, one class per kind
    assert list(STEPS) == ["segment", "palette", "background", "shadow", "logo"]
    assert STEPS["logo"].step_class(logo.CaptionConfig(kind="caption")) is logo.CaptionStep
    assert STEPS["background"].kinds["studio"] is background.StudioConfig
