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
from typing import Annotated, Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError

from ..pipeline import ParamStep, Pipeline, PipelineOrderError, Step, check_order
from ..qa import QAConfig
from .errors import PresetError, did_you_mean, format_loc
from .sampling import ByShape, by_shape, union_members

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
        [], description="also write these mattes to layers/ and annotate them in layers.json (COCO, one "
                    "category per layer; annotations.json keeps only the products)")


class PresetModel(BaseModel):
    model_config = ConfigDict(extra="forbid")
    version: Literal[1] = Field(description="preset format version")
    description: str = Field("", description="one line shown by `augment presets`")
    seed: int = Field(0, description="one seed gives byte-identical outputs on any worker count")
    variants: int = Field(1, ge=1, le=10_000, description="outputs per input image")
    input: InputOptions = Field(default_factory=InputOptions)
    output: OutputOptions = Field(default_factory=OutputOptions)
    qa: QAConfig = Field(default_factory=QAConfig, description="the quality gate: thresholds of every "
                         "output's quality signals and what a failed check does (keep, flag, reject)")
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
        """The steps, built: asset folders listed, mask files indexed, fonts read. Call it once
        per worker process; models load on their first image."""
        ctx = BuildContext(base_dir=self.base_dir)
        steps = [_build_step(name, cfg, ctx) for name, cfg in self.step_configs]
        return Pipeline(steps)

    def __reduce__(self):
        # sent to worker processes as its parsed YAML and validated there again (configs of
        # parametrised pydantic generics do not pickle; the YAML file is not read again)
        return _validate_preset, (self.path, self.raw, self.sha256)

    def contracts(self) -> list[StepContract]:
        """What each step requires, provides and uses, from the configs alone (nothing built)."""
        return [_contract(name, cfg) for name, cfg in self.step_configs]


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


@dataclass(frozen=True)
class StepContract:
    """A step's requirements as `pipeline.check_order` reads them."""

    name: str
    requires: frozenset[str]
    provides: frozenset[str]
    uses: frozenset[str]


def _contract(name: str, cfg: Any) -> StepContract:
    """The contract of a configured step (a choice requires and uses what any alternative does and
    provides what all of them do), from each config's step class: no step is built."""
    module = importlib.import_module(STEP_MODULES[name])
    parts = []
    for c in (cfg.alternatives if isinstance(cfg, _Choice) else (cfg,)):
        cls = module.step_class(c)
        uses = cls.contract_uses(c) if hasattr(cls, "contract_uses") else cls.uses
        parts.append((frozenset(cls.requires), frozenset(cls.provides), frozenset(uses)))
    return StepContract(name, frozenset().union(*(p[0] for p in parts)),
                        frozenset.intersection(*(p[1] for p in parts)), frozenset().union(*(p[2] for p in parts)))


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
    sha = hashlib.sha256(text.encode() + repr(sorted((overrides or {}).items())).encode()).hexdigest()
    return _validate_preset(path, raw, sha)


DICT_PRESET_NAME = "<preset dict>"  # the file name a preset given as a mapping is reported under


def preset_from_dict(raw: dict, base_dir: str | Path | None = None,
                     overrides: dict[str, Any] | None = None) -> Preset:
    """A preset given as a mapping (what its YAML file would parse to); its relative paths are
    resolved against `base_dir` (default: the current folder). Errors name `<preset dict>` in it."""
    import copy
    import json

    base = Path(base_dir) if base_dir is not None else Path.cwd()
    path = base / DICT_PRESET_NAME
    if not isinstance(raw, dict):
        raise PresetError(path, [f"a preset must be a mapping with version, steps, ...; got {type(raw).__name__}"])
    raw = copy.deepcopy(raw)
    for key, value in (overrides or {}).items():
        _set_dotted(raw, key, value)
    try:
        text = json.dumps(raw, sort_keys=True, default=str)
    except (TypeError, ValueError) as e:
        raise PresetError(path, [f"a preset mapping holds plain values only: {e}"]) from None
    sha = hashlib.sha256(f"dict:{base.resolve()}:{text}".encode()).hexdigest()
    return _validate_preset(path, raw, sha)


def _validate_preset(path: Path, raw: dict, sha256: str) -> Preset:
    """A Preset from its parsed YAML (overrides applied): every field, path and the step order."""
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

    preset = Preset(path=path.resolve(), model=model, step_configs=tuple(configs), sha256=sha256, raw=raw)
    # the step order is checked from the configs alone: validation builds nothing
    try:
        check_order(preset.contracts())
    except PipelineOrderError as e:
        raise PresetError(path, [str(e)]) from None
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
    if isinstance(params, dict) and set(params) <= {"choice", "weights"} and "choice" in params:
        alts = params["choice"]
        weights = params.get("weights")
        if not isinstance(alts, list) or not alts:
            raise _StepErrors([".choice: must be a non-empty list of alternatives"])
        msgs = [f".weights: must be {len(alts)} non-negative numbers, not all zero"] \
            if _bad_weights(weights, len(alts)) else []
        validated = []
        for j, alt in enumerate(alts):
            try:
                validated.append(_validate_config(config_type, alt, ctx))
            except _StepErrors as e:
                msgs.extend(f".choice[{j}]{m}" for m in e.messages)
        if msgs:
            raise _StepErrors(msgs)
        return _Choice(tuple(validated), tuple(float(w) for w in weights) if weights else None)
    if isinstance(params, dict) and isinstance(params.get("kind"), dict) and "choice" in params["kind"]:
        return _validate_kind_choice(config_type, params, ctx)
    return _validate_config(config_type, params, ctx)


def _validate_config(config_type: Any, params: Any, ctx: dict) -> Any:
    """One step config, validated by the model its `kind`/`backend` names, alone: error locations
    are then plain field paths. Raises _StepErrors."""
    models = _flatten(config_type)
    model = models[0]
    if len(models) > 1 and isinstance(params, dict):  # a non-mapping fails any member alike
        members = _union_members(config_type)
        key = next(k for k in DISCRIMINATORS if k in model.model_fields)
        tag = params.get(key)
        if key not in params:
            raise _StepErrors([f".{key}: missing; one of {', '.join(members)}"])
        if tag not in [*members]:
            hint = did_you_mean(str(tag), members)
            raise _StepErrors([f".{key}: {tag!r} is not one of {', '.join(members)}{hint}"])
        model = members[tag]
    try:
        return model.model_validate(params, context=ctx)
    except ValidationError as e:
        raise _StepErrors([_dot(m) for m in _format_errors(e, model, params, ctx)]) from None


def _bad_weights(weights: Any, n: int) -> bool:
    """Whether choice weights (None = uniform) are not n non-negative numbers with a positive sum."""
    if weights is None:
        return False
    return (not isinstance(weights, list) or len(weights) != n
            or any(isinstance(w, bool) or not isinstance(w, (int, float)) or w < 0 for w in weights)
            or sum(weights) <= 0)


def _dot(message: str) -> str:
    return message if message.startswith(("[", ":")) else "." + message


def _validate_kind_choice(config_type: Any, params: dict, ctx: dict) -> _Choice:
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
        if kind not in [*members]:
            msgs.append(f".kind.choice[{j}]: {kind!r} is not one of {', '.join(members)}"
                        f"{did_you_mean(kind, members)}")
            continue
        fields = {k: v for k, v in shared.items() if k in members[kind].model_fields}
        used |= set(fields)
        try:
            validated.append(_validate_config(config_type, {"kind": kind, **fields}, ctx))
        except _StepErrors as e:  # a shared field's error is said once, not once per kind
            msgs.extend(m for m in e.messages if m not in msgs)
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


def _format_errors(err: ValidationError, root_type: Any, data: Any, ctx: dict | None = None) -> list[str]:
    """`field.path: message` lines, one per field, for a ValidationError of `root_type` on `data`."""
    by_path: dict[str, str] = {}
    for path, text in _errors(err, root_type, data, ctx):
        by_path.setdefault(format_loc(path), text)
    return [f"{where}: {text}" for where, text in by_path.items()]


def _errors(err: ValidationError, root_type: Any, data: Any, ctx: dict | None) -> list[tuple[tuple, str]]:
    """(field path, message) per error. Locations are field paths, except below an `A | B` field of a
    step's model, which pydantic validates as a union (member names come next in the location): that
    value is validated again by its shape, with the one member it picks, like a sampled value."""
    out: list[tuple[tuple, str]] = []
    redone: set[tuple] = set()
    for e in err.errors(include_url=False):
        loc = tuple(e["loc"])
        n, tp, value = _walk(root_type, loc, data)
        if n == len(loc) or len(union_members(tp)) == 1:
            out.append((loc, _one_error(e, tp)))
        elif loc[:n] not in redone:
            redone.add(loc[:n])
            shaped = Annotated[tp, ByShape()]
            try:
                TypeAdapter(shaped).validate_python(value, context=ctx)
                out.append((loc[:n], e["msg"]))  # not reached: each member has failed already
            except ValidationError as again:
                out += [(loc[:n] + path, text) for path, text in _errors(again, shaped, value, ctx)]
    return out


def _walk(tp: Any, loc: tuple, data: Any) -> tuple[int, Any, Any]:
    """(parts followed, type there, input there) along an error location; it stops early at a
    field that its model lacks (giving the model) and at a union."""
    for i, part in enumerate(loc):
        tp = _settle(tp, data, part)
        if isinstance(tp, type) and issubclass(tp, BaseModel) and part in tp.model_fields:
            f = tp.model_fields[part]
            tp = Annotated[(f.annotation, *f.metadata)] if f.metadata else f.annotation
        elif typing.get_origin(tp) in (list, tuple) and isinstance(part, int):
            items = [a for a in typing.get_args(tp) if a is not Ellipsis] or [Any]
            tp = items[min(part, len(items) - 1)]
        else:
            return i, tp, data
        data = data.get(part) if isinstance(data, dict) else \
            data[part] if isinstance(data, list) and isinstance(part, int) and part < len(data) else None
    return len(loc), _settle(tp, data, None), data


def _settle(tp: Any, value: Any, part: Any) -> Any:
    """The type that validates `value`, through Annotated and `X | None`; of a sampled value, the
    form its shape picks (Any below several plain forms, of which the location does not say one)."""
    while True:
        if typing.get_origin(tp) is Annotated:
            tp, *meta = typing.get_args(tp)
            if any(isinstance(m, ByShape) for m in meta):
                forms = by_shape(union_members(tp), value)
                if len(forms) > 1:
                    return Any if part is not None else typing.Union[tuple(forms)]  # noqa: UP007
                tp = forms[0]
            continue
        members = [m for m in union_members(tp) if m is not type(None)]
        if len(members) != 1 or members[0] is tp:
            return tp
        tp = members[0]


def _one_error(e: dict, tp: Any) -> str:
    """The message of one error at a plain field path; `tp` is the type there (for an unknown
    field, its model)."""
    kind, value = e["type"], e.get("input")
    if kind == "extra_forbidden":
        fields = list(tp.model_fields) if isinstance(tp, type) and issubclass(tp, BaseModel) else []
        hint = did_you_mean(str(e["loc"][-1]), fields)
        if fields and not hint:
            hint = f"; fields here are {', '.join(fields)}"
        return f"unknown field{hint}"
    allowed = [a for m in union_members(tp) if typing.get_origin(m) is Literal for a in typing.get_args(m)]
    if kind == "literal_error" and allowed:
        if isinstance(value, str) and any(not isinstance(a, str) and str(a) == value for a in allowed):
            return f"{value!r} is a string; write {value} without quotes"
        names = [str(a) for a in allowed]
        return f"{value!r} is not one of {', '.join(names)}{did_you_mean(str(value), names)}"
    if kind == "missing":
        return "required field missing"
    if kind in ("dict_type", "model_type", "model_attributes_type"):
        return f"expected a mapping of fields ({{key: value, ...}}), got {value!r}"
    return e["msg"].removeprefix("Value error, ")


def _set_dotted(raw: dict, key: str, value: Any) -> None:
    node = raw
    parts = key.split(".")
    for p in parts[:-1]:
        if not isinstance(node.get(p), dict):
            node[p] = {}
        node = node[p]
    node[parts[-1]] = value
