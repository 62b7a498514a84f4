"""Preset values that may be fixed, a random range or a weighted choice.

    opacity: 0.4                                  # fixed
    opacity: {range: [0.3, 0.6]}                  # uniform in [0.3, 0.6]
    blur: {range: [2, 8], int: true}              # uniform integer in [2, 8]
    color: {choice: ["#ffffff", "#f4f4f4"], weights: [3, 1]}

`draw(spec, rng)` turns a spec into a concrete value; fixed values come back unchanged and use
no random numbers. A step draws each field from its own generator (`Draws`, keyed by the field's
name), so making one field random, fixed or wider leaves every other field's value unchanged.

A sampled value is validated by its shape, not as a union: a mapping with `range` is a RangeSpec,
one with `choice` a ChoiceSpec, anything else the plain type. Only that form is validated, so an
error names the field itself (`opacity`, `opacity.range[1]`, `color.choice[2]`), never a form.
"""
from __future__ import annotations

import types
import typing
from collections.abc import Mapping
from typing import Annotated, Any, ClassVar, Generic, NamedTuple, TypeVar, Union

import numpy as np
from pydantic import (
    ConfigDict,
    Field,
    TypeAdapter,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic_core import core_schema

from ..pipeline import stable_hash
from .fields import ConfigModel

T = TypeVar("T")


class ByShape:
    """`Annotated[A | B | ..., ByShape()]`: a union validated as the one member that the input's shape
    picks (`by_shape`), so that its errors carry plain field paths; pydantic's union would put each
    member's name into them. JSON schema and serialization stay the union's. ByShape must be the
    union's only annotation: it validates the members itself."""

    def __get_pydantic_core_schema__(self, source: Any, handler: Any) -> core_schema.CoreSchema:
        members = union_members(source)
        if len(members) == 1:  # nothing to pick (and with `Annotated[Color, ByShape()]`, Color's bare tuple)
            return handler(source)
        adapters: dict[int, TypeAdapter] = {}

        def validate(value: Any, _: Any, info: core_schema.ValidationInfo) -> Any:
            forms = by_shape(members, value)
            failed = []
            for m in forms:
                adapter = adapters.get(id(m)) or adapters.setdefault(id(m), TypeAdapter(m))
                try:
                    return adapter.validate_python(value, context=info.context)
                except ValidationError as e:
                    failed.append(e)
            if isinstance(value, Mapping) and not is_spec(forms[0]) and any(map(is_spec, members)):
                raise ValueError("expected a value, {range: [lo, hi]} or {choice: [...], weights: [...]}; "
                                 f"got {value!r}")
            raise min(failed, key=_rank)

        return core_schema.with_info_wrap_validator_function(validate, handler(source))


def union_members(tp: Any) -> tuple[Any, ...]:
    """The members of a union (a one-member tuple for any other type)."""
    return typing.get_args(tp) if typing.get_origin(tp) in (Union, types.UnionType) else (tp,)


def is_spec(tp: Any) -> bool:
    return isinstance(tp, type) and issubclass(tp, (RangeSpec, ChoiceSpec))


def by_shape(members: tuple[Any, ...], value: Any) -> list[Any]:
    """The members `value` can be by its shape: a mapping with `range` a RangeSpec, with `choice` a
    ChoiceSpec; anything else (or a spec the type lacks) the plain members, to try in order."""
    if isinstance(value, Mapping):
        want = RangeSpec if "range" in value else ChoiceSpec if "choice" in value else None
    else:
        want = next((c for c in (RangeSpec, ChoiceSpec) if isinstance(value, c)), None)
    spec = [m for m in members if want is not None and is_spec(m) and issubclass(m, want)]
    return spec[:1] or [m for m in members if not is_spec(m)]


def _rank(e: ValidationError) -> int:
    """Which failed plain member to report: our validators' messages ('whte' is not a colour ...) first,
    then any but a wrong-type error (for `colors: 7`, 'less than or equal to 4' over 'not a list')."""
    kinds = [x["type"] for x in e.errors()]
    return 0 if "value_error" in kinds else 2 if all(k.endswith(("_type", "_parsing")) for k in kinds) else 1


class RangeSpec(ConfigModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    range: tuple[float, float]
    int: bool = False

    @model_validator(mode="after")
    def _ordered(self) -> RangeSpec:
        lo, hi = self.range
        if lo > hi:
            raise ValueError(f"range [{lo}, {hi}] has its low end above its high end")
        return self


class ChoiceSpec(ConfigModel, Generic[T]):
    model_config = ConfigDict(extra="forbid", frozen=True)
    choice: list[Annotated[T, ByShape()]] = Field(min_length=1)
    weights: list[float] | None = None

    @model_validator(mode="after")
    def _weights_match(self) -> ChoiceSpec[T]:
        problem = weights_problem(self.weights, len(self.choice))
        if problem:
            raise ValueError(problem)
        return self


def weights_problem(weights: Any, n: int) -> str | None:
    """What is wrong with the weights of n choices (None: uniform), or None: the one check of choice
    weights, for a sampled value's `{choice}` and a step's or a kind's `choice:`."""
    if weights is None:
        return None
    if not isinstance(weights, (list, tuple)) or any(
            isinstance(w, bool) or not isinstance(w, (int, float)) for w in weights):
        return "weights must be a list of numbers"
    if len(weights) != n:
        return f"weights has {len(weights)} entries but choice has {n}"
    if any(w < 0 for w in weights) or sum(weights) <= 0:
        return "weights must be non-negative and not all zero"
    return None


def pick(n: int, weights: Any, rng: np.random.Generator) -> int:
    """An index in range(n), with probabilities ∝ weights (None: uniform): the one weighted draw."""
    p = None
    if weights is not None:
        w = np.asarray(weights, dtype=float)
        p = w / w.sum()
    return int(rng.choice(n, p=p))


# A number that may be random.
SampledFloat = Annotated[float | RangeSpec | ChoiceSpec[float], ByShape()]
SampledInt = Annotated[int | RangeSpec | ChoiceSpec[int], ByShape()]


def sampled(t: Any) -> Any:
    """The type `t | {choice: [t, ...]}` for non-numeric values (strings, colours, bools)."""
    return Annotated[t | ChoiceSpec[t], ByShape()]


def draw(spec: Any, rng: np.random.Generator) -> Any:
    """A concrete value from a spec: fixed values pass through, ranges and choices use `rng`."""
    if isinstance(spec, RangeSpec):
        lo, hi = spec.range
        if spec.int:
            return int(rng.integers(int(np.ceil(lo)), int(np.floor(hi)) + 1))
        return float(rng.uniform(lo, hi))
    if isinstance(spec, ChoiceSpec):
        return draw(spec.choice[pick(len(spec.choice), spec.weights, rng)], rng)
    return spec


class Draws:
    """The random draws of one `draw(sample, rng)`, keyed by what they are for.

    `draws.rng("scale")` is the generator of the `scale` field: a child of the step's generator
    (`SeedSequence` of two words taken once from `rng`, plus the stable hash of the key), made on
    first use and kept, so repeated draws of one field continue its stream. No field's numbers
    depend on another's: a fixed value (which draws nothing) made random, a range widened or a
    choice added changes that field alone for a seed. Steps key their draws by config field name,
    and draws that are no field's (a texture's index, an offset) by a name of their own.
    """

    def __init__(self, rng: np.random.Generator):
        self._entropy = [int(w) for w in rng.integers(0, 2**63, size=2)]
        self._rngs: dict[str, np.random.Generator] = {}

    def rng(self, key: str) -> np.random.Generator:
        g = self._rngs.get(key)
        if g is None:
            seq = np.random.SeedSequence([*self._entropy, stable_hash(key)])
            g = self._rngs[key] = np.random.default_rng(seq)
        return g

    def value(self, spec: Any, key: str) -> Any:
        """`draw(spec, ...)` from the generator of `key` (the field's name)."""
        return draw(spec, self.rng(key))


class Bounds(NamedTuple):
    """Where every value a sampled number can take must lie: [lo, hi], or (lo, hi] with open_low."""

    lo: float
    hi: float
    open_low: bool = False

    def check(self, v: float) -> None:
        if (v <= self.lo if self.open_low else v < self.lo) or v > self.hi:
            low = f"({self.lo:g}" if self.open_low else f"[{self.lo:g}"
            raise ValueError(f"{v:g} is outside {low}, {self.hi:g}]")


def spec_values(spec: Any) -> list[float]:
    """The numbers a spec can produce at its extremes: a fixed number, a range's ends, every choice."""
    if isinstance(spec, RangeSpec):
        return list(spec.range)
    if isinstance(spec, ChoiceSpec):
        return [v for c in spec.choice for v in spec_values(c)]
    if isinstance(spec, (int, float)) and not isinstance(spec, bool):
        return [float(spec)]
    return []


class Bounded(ConfigModel):
    """A step config whose numbers (fixed, ranges, choices) must lie in `limits[field]`: the one
    bounds check of the preset language, so a negative scale is an error naming the field."""

    limits: ClassVar[dict[str, Bounds | tuple]] = {}

    @field_validator("*", mode="after")
    @classmethod
    def _within_limits(cls, value: Any, info: ValidationInfo) -> Any:
        bounds = cls.limits.get(info.field_name or "")
        if bounds is not None:
            b = bounds if isinstance(bounds, Bounds) else Bounds(*bounds)
            for v in spec_values(value):
                b.check(v)
        return value
