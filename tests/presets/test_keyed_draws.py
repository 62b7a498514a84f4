"""Draws keyed by field (issue 23): each field draws from its own generator, so making one field
random (or fixed, or widening its range) leaves every other field's value unchanged for a seed."""
import numpy as np
import pytest
from pydantic import TypeAdapter

from product_augment.presets.sampling import Draws, RangeSpec
from product_augment.sample import Instance, Sample
from product_augment.steps.registry import STEPS

from ..conftest import make_packshot


def _sample() -> Sample:
    img, mask = make_packshot(96, 128, radius=30)
    return Sample(image=img, alpha=mask.astype(np.float32), instances=(Instance.from_mask(3, mask),),
                  meta={"relpath": "p.png"})


def _params(step: str, cfg: dict, seed: int) -> dict:
    module = STEPS[step].module
    config = TypeAdapter(module.Config).validate_python(cfg, context={"base_dir": "."})
    return module.build(config).draw(_sample(), np.random.default_rng(seed))


def _flat(d: dict, prefix: str = "") -> dict:
    out = {}
    for k, v in d.items():
        if isinstance(v, dict):
            out.update(_flat(v, f"{prefix}{k}."))
        else:
            out[f"{prefix}{k}"] = v
    return out


# (step, the config, the field made random, the params it alone decides)
CASES = [
    ("background", {"kind": "studio", "vignette": 0.2}, "vignette", {"plate.vignette"}),
    ("background", {"kind": "studio", "horizon": 0.6, "position": "center"}, "horizon", {"plate.horizon"}),
    ("background", {"kind": "gradient", "angle": 30.0}, "angle", {"plate.angle"}),
    ("background", {"kind": "texture", "tint": 0.1, "position": "center"}, "tint", {"plate.tint_strength"}),
    ("shadow", {"kind": "drop", "elevation": 45.0}, "elevation", {"elevation"}),
    ("shadow", {"kind": "mirror", "opacity": 0.3, "gloss": "preset"}, "opacity", {"opacity"}),
    ("logo", {"kind": "caption", "avoid_layers": [], "opacity": 0.4}, "opacity", {"opacity"}),
]


@pytest.mark.parametrize("step, cfg, field, own", CASES, ids=lambda c: str(c) if isinstance(c, str) else None)
def test_making_one_field_random_leaves_every_other_draw_unchanged(step, cfg, field, own):
    lo = float(cfg[field]) * 0.5
    for seed in range(8):
        fixed = _flat(_params(step, cfg, seed))
        for spec in ({"range": [lo, lo * 3]}, {"range": [lo, lo * 1.5]}, {"choice": [lo, lo * 2], "weights": [1, 3]}):
            random = _flat(_params(step, {**cfg, field: spec}, seed))
            assert set(fixed) == set(random)
            changed = {k for k in fixed if fixed[k] != random[k]}
            assert changed <= own | {"matrix"}, (seed, spec, changed)
            if "matrix" in changed:  # where the product goes, only when the field moves the floor
                assert field == "horizon"


def test_a_choice_step_s_alternatives_draw_the_same_whatever_the_weights():
    from product_augment.steps.choice import ChoiceStep
    module = STEPS["shadow"].module
    alts = [module.build(TypeAdapter(module.Config).validate_python(c))
            for c in ({"kind": "drop", "opacity": {"range": [0.2, 0.6]}}, {"kind": "none"})]
    for seed in range(10):
        a = ChoiceStep("shadow", alts, (1.0, 1.0)).draw(_sample(), np.random.default_rng(seed))
        b = ChoiceStep("shadow", alts, (1.0, 0.0)).draw(_sample(), np.random.default_rng(seed))
        assert b["choice"] == 0 and (a["choice"] == 1 or a["params"] == b["params"])


def test_draws_are_keyed_streams():
    rng = np.random.default_rng(5)
    d = Draws(rng)
    first = [d.value(RangeSpec(range=(0, 1)), "a") for _ in range(3)]
    assert len(set(first)) == 3  # one field's repeated draws continue its stream
    again = Draws(np.random.default_rng(5))
    again.value(RangeSpec(range=(0, 1)), "b")  # another field drawn first changes nothing
    assert [again.value(RangeSpec(range=(0, 1)), "a") for _ in range(3)] == first
    assert Draws(rng).value(RangeSpec(range=(0, 1)), "a") != first[0]  # a generator's next draw differs
