"""Markdown reference of every preset field, generated from the pydantic models themselves."""
from __future__ import annotations

import typing

from pydantic import BaseModel
from pydantic_core import PydanticUndefined

from ..qa import QAConfig
from ..steps.registry import STEPS
from .loader import InputOptions, OutputOptions, PresetModel


def _type_name(tp: typing.Any) -> str:
    origin = typing.get_origin(tp)
    args = typing.get_args(tp)
    if origin is typing.Literal:
        return " \\| ".join(repr(a) for a in args)
    if origin is typing.Annotated:
        return _type_name(args[0])
    if origin in (typing.Union,) or type(tp).__name__ == "UnionType":
        names = []
        for a in args:
            n = "null" if a is type(None) else _type_name(a)
            if n.startswith(("RangeSpec", "ChoiceSpec")):
                n = "{range}" if n.startswith("RangeSpec") else "{choice}"
            if n not in names:
                names.append(n)
        return " \\| ".join(names)
    if origin in (list, tuple):
        inner = ", ".join(_type_name(a) for a in args if a is not Ellipsis)
        return f"{'list' if origin is list else 'tuple'}[{inner}]"
    if isinstance(tp, type):
        if issubclass(tp, BaseModel):
            return tp.__name__
        return tp.__name__
    return str(tp).replace("typing.", "")


def _default(f) -> str:
    if f.default is not PydanticUndefined:
        d = f.default
    elif f.default_factory is not None:
        d = f.default_factory()
    else:
        return "required"
    if isinstance(d, BaseModel):
        d = d.model_dump(mode="json")
    return f"`{d!r}`" if d is not None else "`null`"


def _model_table(model: type[BaseModel]) -> list[str]:
    rows = ["| field | type | default | meaning |", "|---|---|---|---|"]
    for name, f in model.model_fields.items():
        desc = (f.description or "").replace("|", "\\|")
        rows.append(f"| `{name}` | {_type_name(f.annotation)} | {_default(f)} | {desc} |")
    return rows


def preset_reference() -> str:
    """The whole reference: top-level options, then each step and each of its kinds."""
    out = ["# Preset reference", "",
           "Generated from the code by `python -m product_augment.presets.reference > docs/PRESETS.md`.",
           ("Any number field marked `{range}` / `{choice}` also takes `{range: [lo, hi]}` or "
            "`{choice: [a, b], weights: [1, 2]}`; any step also takes `{choice: [cfgA, cfgB], weights: [..]}` "
            "or `kind: {choice: [a, b]}` to pick a variant per image. Paths are relative to the preset file."), ""]
    for title, model in (("Top level", PresetModel), ("input", InputOptions), ("output", OutputOptions),
                         ("qa", QAConfig)):
        out += [f"## {title}", "", *_model_table(model), ""]
    for step, st in STEPS.items():
        doc = (st.module.__doc__ or "").strip().splitlines()
        out += [f"## Step `{step}`", "", doc[0] if doc else "", ""]
        for m in st.models():
            tags = [t for t, mm in st.kinds.items() if mm is m]
            key = st.key or "kind"
            out += [f"### `{step}` {key} `{', '.join(tags)}`", ""]
            if m.__doc__ and not m.__doc__.startswith(("!!!", "Usage docs")):
                out += [m.__doc__.strip().splitlines()[0], ""]
            out += [*_model_table(m), ""]
    return "\n".join(out)


if __name__ == "__main__":
    print(preset_reference())
