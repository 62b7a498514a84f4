"""Preset files: YAML → validated models → a built Pipeline.

A preset is checked completely before any image is read: unknown fields, bad values, missing files
and steps in the wrong order all fail here with the file and field path named. The steps and their
kinds come from `steps.registry`; every message comes from the models themselves
(`presets.fields`: unknown fields, allowed values; `presets.sampling`: sampled values and bounds;
each config's validators), so this module only picks a step's model by its kind and formats.
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from pydantic import Field, ValidationError

from ..formats import ANNOTATION_FORMATS, OUTPUT_FORMATS
from ..pipeline import Pipeline, PipelineOrderError, check_order
from ..qa import QAConfig
from ..steps.choice import Choice
from ..steps.registry import STEPS, StepContract, StepType, build_step, contract
from .errors import PresetError, did_you_mean
from .fields import ConfigModel, format_errors, one_of
from .sampling import weights_problem


class InputOptions(ConfigModel):
    dir: str | None = Field(None, description="input folder or image (relative to the preset); --input overrides")
    recursive: bool = Field(True, description="also read images in sub-folders")
    max_side: int = Field(4096, ge=64, description="larger inputs are downscaled to this longest side")


class OutputOptions(ConfigModel):
    dir: str | None = Field(None, description="output folder (relative to the preset); --output overrides")
    format: one_of(*OUTPUT_FORMATS) = Field(
        "jpg", description="image format; a transparent background always gives PNG (or WebP) with alpha")
    quality: int = Field(92, ge=1, le=100, description="JPEG/WebP quality")
    annotations: list[one_of(*ANNOTATION_FORMATS)] = Field(
        ["coco"], description="annotations.json (COCO instance segmentation) and/or labels/*.txt (YOLO-seg)")
    layers: list[one_of("shadow", "logo")] = Field(
        [], description="also write these mattes to layers/ and annotate them in layers.json (COCO, one "
                    "category per layer; annotations.json keeps only the products)")
    subfolders: bool = Field(False, description="put each output's files in a sub-folder of images/, "
                                                "masks/, layers/, labels/ named by two hex digits of a hash "
                                                "of its name (256 folders; for folders of millions of files); "
                                                "same file names, every view names the paths")


class PresetModel(ConfigModel):
    version: one_of(1) = Field(description="preset format version")
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
    step_configs: tuple[tuple[str, Any], ...]  # (step name, validated config or a Choice of them)
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
        steps = [build_step(name, cfg, ctx) for name, cfg in self.step_configs]
        return Pipeline(steps)

    def __reduce__(self):
        # sent to worker processes as its parsed YAML and validated there again (configs of
        # parametrised pydantic generics do not pickle; the YAML file is not read again)
        return _validate_preset, (self.path, self.raw, self.sha256)

    def contracts(self) -> list[StepContract]:
        """What each step requires, provides and uses, from the configs alone (nothing built)."""
        return [contract(name, cfg) for name, cfg in self.step_configs]


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
        raise PresetError(path, format_errors(e)) from None

    ctx = {"base_dir": str(path.parent.resolve())}
    problems: list[str] = []
    configs: list[tuple[str, Any]] = []
    for i, item in enumerate(model.steps):
        where = f"steps[{i}]"
        if len(item) != 1:
            problems.append(f"{where}: each step is a mapping with exactly one key, the step name "
                            f"({', '.join(STEPS)}); got {sorted(item) or 'nothing'}")
            continue
        (name, params), = item.items()
        if name not in STEPS:
            problems.append(f"{where}: unknown step {name!r}; steps are {', '.join(STEPS)}"
                            f"{did_you_mean(name, STEPS)}")
            continue
        # applied parameters and layers are keyed by step name: a second one would overwrite them
        first = next((j for j, other in enumerate(model.steps[:i]) if name in other), None)
        if first is not None:
            problems.append(f"{where}.{name}: {name} is already steps[{first}]; each step can appear "
                            f"once (use `choice:` to vary it)")
            continue
        try:
            configs.append((name, _validate_step(STEPS[name], params if params is not None else {}, ctx)))
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
        if isinstance(cfg, Choice) else [("", cfg)]
    wanted = [where for where, c in alternatives if getattr(c, "device", None) == "cuda"]
    if not wanted or cuda_available():
        return []
    return [f"{where}.device: 'cuda' but no CUDA GPU is available on this machine "
            f"(torch.cuda.is_available() is false); use device: auto (GPU when there is one) or cpu"
            for where in wanted]


class _StepErrors(Exception):
    def __init__(self, messages: list[str]):
        self.messages = messages


def _validate_step(step: StepType, params: Any, ctx: dict) -> Any:
    """A step's config, or a Choice of configs for `{choice: [..], weights: [..]}` and
    `kind: {choice: [..]}`. Raises _StepErrors."""
    if isinstance(params, dict) and set(params) <= {"choice", "weights"} and "choice" in params:
        alts = params["choice"]
        weights = params.get("weights")
        if not isinstance(alts, list) or not alts:
            raise _StepErrors([".choice: must be a non-empty list of alternatives"])
        msgs = _weights_messages(".weights", weights, len(alts))
        validated = []
        for j, alt in enumerate(alts):
            try:
                validated.append(_validate_config(step, alt, ctx))
            except _StepErrors as e:
                msgs.extend(f".choice[{j}]{m}" for m in e.messages)
        if msgs:
            raise _StepErrors(msgs)
        return Choice(tuple(validated), tuple(float(w) for w in weights) if weights else None)
    if step.key and isinstance(params, dict) and isinstance(params.get(step.key), dict) \
            and "choice" in params[step.key]:
        return _validate_kind_choice(step, params, ctx)
    return _validate_config(step, params, ctx)


def _weights_messages(where: str, weights: Any, n: int) -> list[str]:
    return [f"{where}: must be {n} non-negative numbers, not all zero"] if weights_problem(weights, n) else []


def _validate_config(step: StepType, params: Any, ctx: dict) -> Any:
    """One config, validated by the model its kind names, alone. Raises _StepErrors."""
    model = next(iter(step.kinds.values()))
    if step.key is not None and isinstance(params, dict):  # a non-mapping fails any model alike
        kinds = step.kinds
        if step.key not in params:
            raise _StepErrors([f".{step.key}: missing; one of {', '.join(kinds)}"])
        tag = params[step.key]
        if not isinstance(tag, str) or tag not in kinds:
            hint = did_you_mean(str(tag), kinds)
            raise _StepErrors([f".{step.key}: {tag!r} is not one of {', '.join(kinds)}{hint}"])
        model = kinds[tag]
    try:
        return model.model_validate(params, context=ctx)
    except ValidationError as e:
        raise _StepErrors([m if m.startswith(("[", ":")) else "." + m for m in format_errors(e)]) from None


def _validate_kind_choice(step: StepType, params: dict, ctx: dict) -> Choice:
    """`kind: {choice: [a, b], weights: [..]}`: each kind gets the shared fields it knows."""
    key, spec = step.key, params[step.key]
    kinds, weights = spec.get("choice"), spec.get("weights")
    if not isinstance(kinds, list) or not kinds:
        raise _StepErrors([f".{key}.choice: must be a non-empty list of kinds"])
    shared = {k: v for k, v in params.items() if k != key}
    msgs, validated, used = [], [], set()
    for j, kind in enumerate(kinds):
        if not isinstance(kind, str) or kind not in step.kinds:
            msgs.append(f".{key}.choice[{j}]: {kind!r} is not one of {', '.join(step.kinds)}"
                        f"{did_you_mean(str(kind), step.kinds)}")
            continue
        fields = {k: v for k, v in shared.items() if k in step.kinds[kind].model_fields}
        used |= set(fields)
        try:
            validated.append(_validate_config(step, {key: kind, **fields}, ctx))
        except _StepErrors as e:  # a shared field's error is said once, not once per kind
            msgs.extend(m for m in e.messages if m not in msgs)
    all_fields = set().union(*(m.model_fields for m in step.models()))
    for k in shared:
        if k not in used and not msgs:
            msgs.append(f".{k}: no chosen kind has this field{did_you_mean(k, all_fields)}")
    msgs += _weights_messages(f".{key}.weights", weights, len(kinds))
    if msgs:
        raise _StepErrors(msgs)
    return Choice(tuple(validated), tuple(float(w) for w in weights) if weights else None)


def _set_dotted(raw: dict, key: str, value: Any) -> None:
    node = raw
    parts = key.split(".")
    for p in parts[:-1]:
        if not isinstance(node.get(p), dict):
            node[p] = {}
        node = node[p]
    node[parts[-1]] = value
