"""Preset values that may be fixed, a random range or a weighted choice.

    opacity: 0.4                                  # fixed
    opacity: {range: [0.3, 0.6]}                  # uniform in [0.3, 0.6]
    blur: {range: [2, 8], int: true}              # uniform integer in [2, 8]
    color: {choice: ["#ffffff", "#f4f4f4"], weights: [3, 1]}

`draw(spec, rng)` turns a spec into a concrete value; fixed values come back unchanged and use
no random numbers.
"""
from __future__ import annotations

from typing import Any, Generic, TypeVar, Union

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, model_validator

T = TypeVar("T")


class RangeSpec(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    range: tuple[float, float]
    int: bool = False

    @model_validator(mode="after")
    def _ordered(self) -> RangeSpec:
        lo, hi = self.range
        if lo > hi:
            raise ValueError(f"range [{lo}, {hi}] has its low end above its high end")
        return self


class ChoiceSpec(BaseModel, Generic[T]):
    model_config = ConfigDict(extra="forbid", frozen=True)
    choice: list[T] = Field(min_length=1)
    weights: list[float] | None = None

    @model_validator(mode="after")
    def _weights_match(self) -> ChoiceSpec[T]:
        if self.weights is not None:
            if len(self.weights) != len(self.choice):
                raise ValueError(
                    f"weights has {len(self.weights)} entries but choice has {len(self.choice)}")
            if any(w < 0 for w in self.weights) or sum(self.weights) <= 0:
                raise ValueError("weights must be non-negative and not all zero")
        return self


# A number that may be random.
SampledFloat = Union[float, RangeSpec, ChoiceSpec[float]]
SampledInt = Union[int, RangeSpec, ChoiceSpec[int]]


def sampled(t: Any) -> Any:
    """The type `t | {choice: [t, ...]}` for non-numeric values (strings, colours, bools)."""
    return Union[t, ChoiceSpec[t]]


def draw(spec: Any, rng: np.random.Generator) -> Any:
    """A concrete value from a spec: fixed values pass through, ranges and choices use `rng`."""
    if isinstance(spec, RangeSpec):
        lo, hi = spec.range
        if spec.int:
            return int(rng.integers(int(np.ceil(lo)), int(np.floor(hi)) + 1))
        return float(rng.uniform(lo, hi))
    if isinstance(spec, ChoiceSpec):
        p = None
        if spec.weights is not None:
            w = np.asarray(spec.weights, dtype=float)
            p = w / w.sum()
        return draw(spec.choice[int(rng.choice(len(spec.choice), p=p))], rng)
    return spec
