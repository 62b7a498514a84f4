"""Preset files: YAML → validated models → a built Pipeline.

A preset is checked completely before any image is read: unknown fields, bad values, missing files
and steps in the wrong order all fail here with the file and field path named.
"""
from __future__ import annotations

import hashlib
import importlib
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError

from ..pipeline import ParamStep, Pipeline, PipelineOrderError, Step
from .errors import PresetError, did_you_mean, format_loc

# Step name → module that defines `Config` and `build(config, ctx)`.
STEP_MODULES: dict[str, str] = {
    "segment": "product_augment.steps.segment",
    "palette": "product_augment.steps.palette",
    "background": "product_augment.steps.background",
    "shadow": "product_augment.steps.shadow",
    "logo": "product_augment.steps.logo",
}

OUTPUT_FORMATS = ("jpg", "png", "webp")
DISCRIMINATORS = ("kind", "backend")  # the field that picks a step's variant
ANNOTATION_FORMATS = ("coco", "yolo")


class InputOptions(BaseModel):
    model_config = ConfigDict(extra="forbid")
    dir: str | None = Field(None, description="input folder or image (relative to the preset); --input overrides")
    recursive: bool = Field(True, description="also read images in sub-folders")
    max_side: int = Field(4096, ge=64, description="larger inputs are downscaled to this longest side")


class OutputOptions(BaseModel):
    model_config = ConfigDict(extra="forbid")
    dir: str | None = Field(None, description="output folder (relative to the preset); --output overrides")
    format: Literal["jpg", "png", "webp"] = Field(
        "jpg", description="image format; a transparent background always gives PNG (or WebP) with alpha")
    quality: int = Field(92, ge=1, le=100, description="JPEG/WebP quality")
    annotations: list[Literal["coco", "yolo"]] = Field(
        ["coco"], description="annotations.json (COCO instance segmentation) and/or labels/*.txt (YOLO-seg)")
    layers: list[Literal["shadow", "logo"]] = Field(
        [], description="also write these mattes to layers/ and annotate them as their own categories")


class PresetModel(BaseModel):
    model_config = ConfigDict(extra="forbid")
    version: Literal[1] = Field(description="preset format version")
    description: str = Field("", description="one line shown by `augment presets`")
    seed: int = Field(0, description="one seed gives byte-identical outputs on any worker count")
    variants: int = Field(1, ge=1, le=10_000, description="outputs per input image")
    input: InputOptions = Field(default_factory=InputOptions)
    output: OutputOptions = Field(default_factory=OutputOptions)
    steps: list[dict[str, Any]] = Field(min_length=1, description="ordered steps, each `- name: {params}`")


@dataclass(frozen=True)
class BuildContext:
    base_dir: Path


@dataclass(frozen=True)
class Preset:
    path: Path
    model: PresetModel
    step_configs: tuple[tuple[str, Any], ...]  # (step name, validated config or a _Choice of them)
    sha256: str
    raw: dict = field(repr=False, default_factory=dict)

    @property
    def base_dir(self) -> Path:
        return self.path.parent

    def resolve(self, p: str | None) -> Path | None:
        if p is None:
            return None
        q = Path(p).expanduser()
        return q if q.is_absolute() else (self.base_dir / q)

    def build_pipeline(self) -> Pipeline:
        ctx = BuildContext(base_dir=self.base_dir)
        steps = [_build_step(name, cfg, ctx) for name, cfg in self.step_configs]
        return Pipeline(steps)


@dataclass(frozen=True)
class _Choice:
    alternatives: tuple[Any, ...]
    weights: tuple[float, ...] | None


class ChoiceStep(ParamStep):
    """One of several configured alternatives of a step, picked per image with the step's rng."""

    def __init__(self, name: str, alternatives: list[ParamStep], weights: tuple[float, ...] | None):
        self.name = name  # type: ignore[misc]
        self.alternatives = alternatives
        self.weights = weights
        self.requires = frozenset().union(*(a.requires for a in alternatives))  # type: ignore[misc]
        self.provides = frozenset.intersection(*(frozenset(a.provides) for a in alternatives))  # type: ignore[misc]
        self.uses = frozenset().union(*(a.uses for a in alternatives))  # type: ignore[misc]

    def draw(self, sample, rng):
        p = None
        if self.weights is not None:
            total = sum(self.weights)
            p = [w / total for w in self.weights]
        i = int(rng.choice(len(self.alternatives), p=p))
        return {"choice": i, "params": self.alternatives[i].draw(sample, rng)}

    def apply(self, sample, params):
        return self.alternatives[params["choice"]].apply(sample, params["params"])


def _build_step(name: str, cfg: Any, ctx: BuildContext) -> Step:
    module = importlib.import_module(STEP_MODULES[name])
    if isinstance(cfg, _Choice):
        return ChoiceStep(name, [module.build(c, ctx) for c in cfg.alternatives], cfg.weights)
    return module.build(cfg, ctx)


def load_preset(path: str | Path, overrides: dict[str, Any] | None = None) -> Preset:
    """Read, validate and check a preset; raise PresetError listing every problem."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as e:
        raise PresetError(path, [f"cannot read preset: {e.strerror or e}"]) from None
    try:
        raw = yaml.safe_load(text)
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark else ""
        raise PresetError(path, [f"{where}invalid YAML: {getattr(e, 'problem', None) or e}"]) from None
    if not isinstance(raw, dict):
        raise PresetError(path, ["a preset must be a YAML mapping with version, steps, ..."])
    for key, value in (overrides or {}).items():
        _set_dotted(raw, key, value)

    try:
        model = PresetModel.model_validate(raw)
    except ValidationError as e:
        raise PresetError(path, _format_errors(e, PresetModel, raw)) from None

    ctx = {"base_dir": str(path.parent.resolve())}
    problems: list[str] = []
    configs: list[tuple[str, Any]] = []
    for i, item in enumerate(model.steps):
        where = f"steps[{i}]"
        if len(item) != 1:
            problems.append(f"{where}: each step is a mapping with exactly one key, the step name "
                            f"({', '.join(STEP_MODULES)}); got {sorted(item) or 'nothing'}")
            continue
        (name, params), = item.items()
        if name not in STEP_MODULES:
            problems.append(f"{where}: unknown step {name!r}; steps are {', '.join(STEP_MODULES)}"
                            f"{did_you_mean(name, STEP_MODULES)}")
            continue
        # applied parameters and layers are keyed by step name: a second one would overwrite them
        first = next((j for j, other in enumerate(model.steps[:i]) if name in other), None)
        if first is not None:
            problems.append(f"{where}.{name}: {name} is already steps[{first}]; each step can appear "
                            f"once (use `choice:` to vary it)")
            continue
        try:
            configs.append((name, _validate_step(name, params if params is not None else {}, ctx)))
        except _StepErrors as e:
            problems.extend(f"{where}.{name}{m}" for m in e.messages)
            continue
        problems.extend(f"{where}.{name}{m}" for m in _device_problems(configs[-1][1]))
    if problems:
        raise PresetError(path, problems)

    preset = Preset(path=path.resolve(), model=model, step_configs=tuple(configs),
                    sha256=hashlib.sha256(text.encode() + repr(sorted((overrides or {}).items())).encode())
                    .hexdigest(), raw=raw)
    try:
        preset.build_pipeline()
    except PipelineOrderError as e:
        raise PresetError(path, [str(e)]) from None
    except (ValueError, OSError) as e:
        raise PresetError(path, [f"steps: {e}"]) from None
    return preset


def cuda_available() -> bool:
    """Whether torch sees a CUDA GPU (torch is imported only for a preset that asks for cuda)."""
    try:
        import torch
    except ImportError:
        return False
    return bool(torch.cuda.is_available())


def _device_problems(cfg: Any) -> list[str]:
    """`device: cuda` on a machine without a GPU fails here, not on every image."""
    alternatives = [(f".choice[{j}]", c) for j, c in enumerate(cfg.alternatives)] \
        if isinstance(cfg, _Choice) else [("", cfg)]
    wanted = [where for where, c in alternatives if getattr(c, "device", None) == "cuda"]
    if not wanted or cuda_available():
        return []
    return [f"{where}.device: 'cuda' but no CUDA GPU is available on this machine "
            f"(torch.cuda.is_available() is false); use device: auto (GPU when there is one) or cpu"
            for where in wanted]


class _StepErrors(Exception):
    def __init__(self, messages: list[str]):
        self.messages = messages


def _validate_step(name: str, params: Any, ctx: dict) -> Any:
    config_type = importlib.import_module(STEP_MODULES[name]).Config
    adapter = TypeAdapter(config_type)
    if isinstance(params, dict) and set(params) <= {"choice", "weights"} and "choice" in params:
        alts = params["choice"]
        weights = params.get("weights")
        msgs: list[str] = []
        if not isinstance(alts, list) or not alts:
            raise _StepErrors([".choice: must be a non-empty list of alternatives"])
        if _bad_weights(weights, len(alts)):
            msgs.append(f".weights: must be {len(alts)} non-negative numbers, not all zero")
        validated = []
        for j, alt in enumerate(alts):
            try:
                validated.append(adapter.validate_python(alt, context=ctx))
            except ValidationError as e:
                msgs.extend(f".choice[{j}]{_dot(m)}" for m in _format_errors(e, config_type, alt))
        if msgs:
            raise _StepErrors(msgs)
        return _Choice(tuple(validated), tuple(float(w) for w in weights) if weights else None)
    if isinstance(params, dict) and isinstance(params.get("kind"), dict) and "choice" in params["kind"]:
        return _validate_kind_choice(config_type, adapter, params, ctx)
    try:
        return adapter.validate_python(params, context=ctx)
    except ValidationError as e:
        raise _StepErrors([_dot(m) for m in _format_errors(e, config_type, params)]) from None


def _bad_weights(weights: Any, n: int) -> bool:
    """Whether choice weights (None = uniform) are not n non-negative numbers with a positive sum."""
    if weights is None:
        return False
    return (not isinstance(weights, list) or len(weights) != n
            or any(isinstance(w, bool) or not isinstance(w, (int, float)) or w < 0 for w in weights)
            or sum(weights) <= 0)


def _dot(message: str) -> str:
    return message if message.startswith(("[", ":")) else "." + message


def _validate_kind_choice(config_type, adapter, params: dict, ctx: dict) -> _Choice:
    """`kind: {choice: [a, b], weights: [..]}`: each kind gets the shared fields it knows."""
    spec = params["kind"]
    kinds = spec.get("choice")
    weights = spec.get("weights")
    if not isinstance(kinds, list) or not kinds:
        raise _StepErrors([".kind.choice: must be a non-empty list of kinds"])
    members = _union_members(config_type)
    shared = {k: v for k, v in params.items() if k != "kind"}
    msgs, validated, used = [], [], set()
    for j, kind in enumerate(kinds):
        model = members.get(kind)
        if model is None:
            msgs.append(f".kind.choice[{j}]: {kind!r} is not one of {', '.join(members)}"
                        f"{did_you_mean(kind, members)}")
            continue
        fields = {k: v for k, v in shared.items() if k in model.model_fields}
        used |= set(fields)
        try:
            validated.append(adapter.validate_python({"kind": kind, **fields}, context=ctx))
        except ValidationError as e:
            msgs.extend(_dot(m) for m in _format_errors(e, config_type, {"kind": kind, **fields}))
    all_fields = set().union(*(m.model_fields for m in members.values()))
    for k in shared:
        if k not in used and not msgs:
            msgs.append(f".{k}: no chosen kind has this field{did_you_mean(k, all_fields)}")
    if _bad_weights(weights, len(kinds)):
        msgs.append(f".kind.weights: must be {len(kinds)} non-negative numbers, not all zero")
    if msgs:
        raise _StepErrors(msgs)
    return _Choice(tuple(validated), tuple(float(w) for w in weights) if weights else None)


def _union_members(tp: Any) -> dict[str, type[BaseModel]]:
    """kind tag → model for a discriminated union (or a single model with a `kind` literal)."""
    out: dict[str, type[BaseModel]] = {}
    for m in _flatten(tp):
        if isinstance(m, type) and issubclass(m, BaseModel):
            key = next((k for k in DISCRIMINATORS if k in m.model_fields), None)
            for tag in typing.get_args(m.model_fields[key].annotation) if key else ():
                out[tag] = m
    return out


def _flatten(tp: Any) -> list[Any]:
    origin = typing.get_origin(tp)
    if origin is typing.Annotated:
        return _flatten(typing.get_args(tp)[0])
    if origin is typing.Union or origin is types.UnionType:
        return [x for a in typing.get_args(tp) for x in _flatten(a)]
    return [tp]


def _fields_at(tp: Any, loc: tuple, data: Any) -> list[str]:
    """Field names that are valid at `loc` (for did-you-mean on unknown fields)."""
    for part in loc:
        models = [m for m in _flatten(tp) if isinstance(m, type) and issubclass(m, BaseModel)]
        if not models:
            origin = typing.get_origin(tp)
            if origin in (list, tuple) and isinstance(part, int):
                tp = typing.get_args(tp)[0]
                data = data[part] if isinstance(data, list) and part < len(data) else None
                continue
            return []
        members = _union_members(tp)
        if isinstance(part, str) and part in members:
            tp = members[part]
            continue
        model = models[0]
        tag = _tag_of(data)
        if len(models) > 1 and tag in members:
            model = members[tag]
        if part not in model.model_fields:
            return []
        tp = model.model_fields[part].annotation
        data = data.get(part) if isinstance(data, dict) else None
    models = [m for m in _flatten(tp) if isinstance(m, type) and issubclass(m, BaseModel)]
    if len(models) > 1 and isinstance(data, dict):
        members = _union_members(tp)
        models = [members[_tag_of(data)]] if _tag_of(data) in members else models
    return list(models[0].model_fields) if models else []


def _tag_of(data: Any) -> Any:
    if isinstance(data, dict):
        return next((data[k] for k in DISCRIMINATORS if k in data), None)
    return None


def _split_loc(loc: tuple, data: Any, missing: bool) -> tuple[tuple, list[str], Any]:
    """(field path, union member labels, input at that path) of an error location.

    pydantic puts union member labels ('float', 'function-after[..., RangeSpec]', a kind tag)
    into locations; a part is a label when the input has no such key at that point.
    """
    path, labels = [], []
    for i, part in enumerate(loc):
        last = i == len(loc) - 1
        if isinstance(part, int) or (isinstance(data, dict) and part in data) or (last and missing):
            path.append(part)
            if isinstance(data, dict):
                data = data.get(part)
            elif isinstance(data, list) and isinstance(part, int) and part < len(data):
                data = data[part]
            else:
                data = None
        else:
            labels.append(str(part))
    return tuple(path), labels, data


def _member_fits(labels: list[str], value: Any) -> bool:
    """Whether an error from this union member is the relevant one for `value`."""
    spec = next((l for l in labels if "RangeSpec" in l or "ChoiceSpec" in l), None)
    if isinstance(value, dict):
        want = "RangeSpec" if "range" in value else "ChoiceSpec" if "choice" in value else None
        return spec is not None and want is not None and want in spec
    return spec is None


def _format_errors(err: ValidationError, root_type: Any, data: Any) -> list[str]:
    by_field: dict[tuple, list] = {}
    for e in err.errors(include_url=False):
        path, labels, value = _split_loc(tuple(e["loc"]), data, e["type"] == "missing")
        # errors of one union field group under the field itself (before any member's sub-path)
        key = tuple(path[: len(path) - _subpath_len(e["loc"], labels)]) if labels else path
        by_field.setdefault(key, []).append((path, labels, value, e))
    out: list[str] = []
    for key, items in by_field.items():
        has_spec = any("RangeSpec" in l or "ChoiceSpec" in l for it in items for l in it[1])
        fitting = [it for it in items if _member_fits(it[1], _value_at(data, key))] if has_spec else items
        if not fitting:
            out.append(f"{format_loc(key)}: expected a value, {{range: [lo, hi]}} or "
                       f"{{choice: [...], weights: [...]}}; got {_value_at(data, key)!r}")
            continue
        # among a union's members, our own validators' messages ("'whte' is not a colour ...")
        # say more than a literal's ("is not one of random") or a type error
        fitting = sorted(fitting, key=lambda it: it[3]["type"] != "value_error")
        for path, _, value, e in fitting:
            msg = _one_error(path, value, e, root_type, data)
            if msg not in out:
                out.append(msg)
    return _prefer_specific(out)


def _subpath_len(loc: tuple, labels: list[str]) -> int:
    """How many field parts follow the last union label in a location."""
    last = max(i for i, p in enumerate(loc) if str(p) in labels)
    return len(loc) - last - 1


def _value_at(data: Any, path: tuple) -> Any:
    for part in path:
        if isinstance(data, dict):
            data = data.get(part)
        elif isinstance(data, list) and isinstance(part, int) and part < len(data):
            data = data[part]
        else:
            return None
    return data


def _one_error(path: tuple, value: Any, e: dict, root_type: Any, data: Any) -> str:
    typ = e["type"]
    ctx = e.get("ctx") or {}
    if typ == "union_tag_invalid":
        tag = ctx.get("tag")
        expected = [t.strip(" '") for t in str(ctx.get("expected_tags", "")).split(",")]
        key = str(ctx.get("discriminator", "kind")).strip("'")
        return f"{format_loc(path + (key,))}: {tag!r} is not one of {', '.join(expected)}" \
               f"{did_you_mean(tag, expected)}"
    if typ == "union_tag_not_found":
        key = str(ctx.get("discriminator", "kind")).strip("'")
        members = list(_union_members(_type_at(root_type, path)))
        return f"{format_loc(path + (key,))}: missing; one of {', '.join(members)}"
    if typ == "extra_forbidden":
        name = path[-1]
        valid = _fields_at(root_type, path[:-1], data)
        msg = f"{format_loc(path)}: unknown field{did_you_mean(str(name), valid)}"
        if valid and not did_you_mean(str(name), valid):
            msg += f"; fields here are {', '.join(valid)}"
        return msg
    if typ == "literal_error":
        expected = [x.strip(" '") for x in str(ctx.get("expected", "")).replace(" or ", ",").split(",")]
        expected = [x for x in expected if x]
        if isinstance(value, str) and value in expected and value not in str(ctx.get("expected", "")).split("'")[1::2]:
            return f"{format_loc(path)}: {value!r} is a string; write {value} without quotes"
        return f"{format_loc(path)}: {value!r} is not one of {', '.join(expected)}" \
               f"{did_you_mean(str(value), expected)}"
    if typ == "missing":
        return f"{format_loc(path)}: required field missing"
    if typ in ("dict_type", "model_type", "model_attributes_type"):
        return f"{format_loc(path)}: expected a mapping of fields ({{key: value, ...}}), got {value!r}"
    text = e["msg"]
    text = text.removeprefix("Value error, ")
    return f"{format_loc(path)}: {text}"


def _prefer_specific(msgs: list[str]) -> list[str]:
    """A value that fits none of `x | {range} | {choice}` gives one line per member; keep one."""
    by_field: dict[str, str] = {}
    for m in msgs:
        key = m.split(":", 1)[0]
        by_field.setdefault(key, m)
    return list(by_field.values())


def _type_at(tp: Any, loc: tuple) -> Any:
    for part in loc:
        members = _union_members(tp)
        if isinstance(part, str) and part in members:
            tp = members[part]
            continue
        models = [m for m in _flatten(tp) if isinstance(m, type) and issubclass(m, BaseModel)]
        if models and isinstance(part, str) and part in models[0].model_fields:
            tp = models[0].model_fields[part].annotation
        elif isinstance(part, int):
            args = typing.get_args(tp)
            tp = args[0] if args else tp
    return tp


def _set_dotted(raw: dict, key: str, value: Any) -> None:
    node = raw
    parts = key.split(".")
    for p in parts[:-1]:
        if not isinstance(node.get(p), dict):
            node[p] = {}
        node = node[p]
    node[parts[-1]] = value
