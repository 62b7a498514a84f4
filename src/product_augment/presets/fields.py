"""The preset language's own error messages, said by the types that know the answer.

* `ConfigModel` — the base of every model a preset fills in (the top level, `qa:`, each step's
  configs, a `{range}` / `{choice}`): unknown fields are refused, and the model itself names its
  unknown fields with a did-you-mean over its own field names (`unknown field (did you mean
  'threshold'?)`, or `unknown field; fields here are range, int`).
* `one_of("a", "b")` — a `Literal["a", "b"]` whose error lists the allowed values with a did-you-mean
  (`'radal' is not one of linear, radial (did you mean 'radial'?)`), and says so when a number was
  written as a string.

So a preset error's location is pydantic's own, and its message comes from the field's type: the
loader only formats them (`format_errors`), it never looks at type annotations.
"""
from __future__ import annotations

from typing import Annotated, Any, Literal, get_args

from pydantic import BaseModel, ConfigDict, ValidationError, model_validator
from pydantic_core import PydanticCustomError, core_schema

from .errors import did_you_mean, format_loc


class _one_ofCheck:
    """Wraps a Literal's validation: a failure becomes one message listing the allowed values."""

    def __init__(self, values: tuple[Any, ...]):
        self.values = values

    def __get_pydantic_core_schema__(self, source: Any, handler: Any) -> core_schema.CoreSchema:
        values = self.values

        def check(value: Any, validate: Any) -> Any:
            try:
                return validate(value)
            except ValidationError:
                raise PydanticCustomError("not_one_of", _not_one_of(value, values)) from None

        return core_schema.no_info_wrap_validator_function(check, handler(source))


def _not_one_of(value: Any, values: tuple[Any, ...]) -> str:
    if isinstance(value, str) and any(not isinstance(a, str) and str(a) == value for a in values):
        return f"{value!r} is a string; write {value} without quotes"
    names = [str(a) for a in values]
    return f"{value!r} is not one of {', '.join(names)}{did_you_mean(str(value), names)}"


def one_of(*values: Any) -> Any:
    """The type `Literal[*values]`, with the preset language's message (like `sampled(T)`, a type
    made by a call)."""
    return Annotated[Literal[values], _one_ofCheck(values)]


class ConfigModel(BaseModel):
    """A mapping in a preset: no unknown fields, and an unknown one named with its nearest field."""

    model_config = ConfigDict(extra="forbid")

    @model_validator(mode="wrap")
    @classmethod
    def _name_unknown_fields(cls, data: Any, handler: Any) -> Any:
        try:
            return handler(data)
        except ValidationError as e:
            errors = e.errors(include_url=False)
            if not any(x["type"] == "extra_forbidden" and len(x["loc"]) == 1 for x in errors):
                raise
            fields = list(cls.model_fields)
            details = []
            for x in errors:
                if x["type"] == "extra_forbidden" and len(x["loc"]) == 1:
                    hint = did_you_mean(str(x["loc"][0]), fields) or f"; fields here are {', '.join(fields)}"
                    details.append({"type": PydanticCustomError("unknown_field", "unknown field" + hint),
                                    "loc": x["loc"], "input": x["input"]})
                else:
                    details.append(_detail(x))
            raise ValidationError.from_exception_data(e.title, details) from None


def _detail(x: dict) -> dict:
    """An error of `ValidationError.errors()` as the line it came from (to raise it again)."""
    out = {"loc": x["loc"], "input": x["input"]}
    if x["type"] not in _PYDANTIC_ERRORS:  # one of ours (PydanticCustomError): its text as it is
        return {**out, "type": PydanticCustomError(x["type"], x["msg"])}
    return {**out, "type": x["type"], **({"ctx": x["ctx"]} if "ctx" in x else {})}


_PYDANTIC_ERRORS = frozenset(get_args(core_schema.ErrorType))


def format_errors(err: ValidationError) -> list[str]:
    """`field.path: message` lines, the first error of each field, in pydantic's order."""
    by_path: dict[str, str] = {}
    for x in err.errors(include_url=False):
        by_path.setdefault(format_loc(x["loc"]), _message(x))
    return [f"{where}: {text}" for where, text in by_path.items()]


def _message(x: dict) -> str:
    kind, value = x["type"], x.get("input")
    if kind == "missing":
        return "required field missing"
    if kind == "extra_forbidden":  # a model that is not a ConfigModel
        return "unknown field"
    if kind in ("dict_type", "model_type", "model_attributes_type"):
        return f"expected a mapping of fields ({{key: value, ...}}), got {value!r}"
    return x["msg"].removeprefix("Value error, ")
