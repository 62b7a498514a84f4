"""A step configured as a choice of alternatives: `{choice: [cfgA, cfgB], weights: [..]}` or
`kind: {choice: [a, b]}`, one alternative picked per image."""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..pipeline import ParamStep
from ..presets.sampling import Draws, pick
from ..sample import Sample


@dataclass(frozen=True)
class Choice:
    """The validated configs of a step's alternatives and their weights (None: uniform)."""

    alternatives: tuple[Any, ...]
    weights: tuple[float, ...] | None


class ChoiceStep(ParamStep):
    """One of several configured alternatives of a step, picked per image with the step's rng; the
    record is `{"choice": i, "params": <the alternative's>}`. It requires and uses what any
    alternative does and provides what all of them do."""

    def __init__(self, name: str, alternatives: list[ParamStep], weights: tuple[float, ...] | None):
        self.name = name  # type: ignore[misc]
        self.alternatives = alternatives
        self.weights = weights
        self.requires = frozenset().union(*(a.requires for a in alternatives))  # type: ignore[misc]
        self.provides = frozenset.intersection(*(frozenset(a.provides) for a in alternatives))  # type: ignore[misc]
        self.uses = frozenset().union(*(getattr(a, "uses", frozenset()) for a in alternatives))  # type: ignore[misc]

    def draw(self, sample: Sample, rng: np.random.Generator) -> dict[str, Any]:
        i = pick(len(self.alternatives), self.weights, Draws(rng).rng("choice"))
        return {"choice": i, "params": self.alternatives[i].draw(sample, rng)}

    def apply(self, sample: Sample, params: Mapping[str, Any]) -> Sample:
        return self.alternatives[params["choice"]].apply(sample, params["params"])
