"""The steps a preset can name, written out: each step's config models by kind, its step classes
and its builder. The preset loader validates against this table, the reference (docs/PRESETS.md) is
generated from it and a new step is added here."""
from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from types import ModuleType
from typing import Any

from pydantic import BaseModel

from ..pipeline import Step
from . import background, logo, palette, segment, shadow
from .choice import Choice, ChoiceStep


@dataclass(frozen=True)
class StepType:
    """A step of the preset language."""

    name: str
    module: ModuleType          # its docstring opens its section of the reference
    key: str | None             # the field that picks the kind ("kind", "backend"); None: one model
    kinds: Mapping[str, type[BaseModel]]  # kind → config model
    step_class: Callable[[Any], type]      # a validated config → the class that runs it
    build: Callable[..., Step]             # (config, ctx) → the built step

    def models(self) -> list[type[BaseModel]]:
        return list(dict.fromkeys(self.kinds.values()))


STEPS: dict[str, StepType] = {s.name: s for s in (
    StepType("segment", segment, "backend",
             {"yolact": segment.YolactConfig, "alpha": segment.AlphaConfig, "masks": segment.MasksConfig,
              "classical": segment.ClassicalConfig},
             segment.step_class, segment.build),
    StepType("palette", palette, None, {"kmeans": palette.PaletteConfig}, palette.step_class, palette.build),
    StepType("background", background, "kind",
             {"solid": background.SolidConfig, "gradient": background.GradientConfig,
              "texture": background.TextureConfig, "image": background.ImageConfig,
              "studio": background.StudioConfig, "transparent": background.TransparentConfig},
             background.step_class, background.build),
    StepType("shadow", shadow, "kind",
             {"mirror": shadow.MirrorConfig, "drop": shadow.DropConfig, "realistic": shadow.RealisticConfig,
              "none": shadow.NoneConfig},
             shadow.step_class, shadow.build),
    StepType("logo", logo, "kind", {"logo": logo.LogoConfig, "caption": logo.CaptionConfig},
             logo.step_class, logo.build),
)}


@dataclass(frozen=True)
class StepContract:
    """A configured step's requirements as `pipeline.check_order` reads them."""

    name: str
    requires: frozenset[str]
    provides: frozenset[str]
    uses: frozenset[str]


def contract(name: str, cfg: Any) -> StepContract:
    """The contract of a configured step from its configs' step classes (nothing is built); a choice
    requires and uses what any alternative does and provides what all of them do."""
    parts = []
    for c in (cfg.alternatives if isinstance(cfg, Choice) else (cfg,)):
        cls = STEPS[name].step_class(c)
        uses = cls.contract_uses(c) if hasattr(cls, "contract_uses") else cls.uses
        parts.append((frozenset(cls.requires), frozenset(cls.provides), frozenset(uses)))
    return StepContract(name, frozenset().union(*(p[0] for p in parts)),
                        frozenset.intersection(*(p[1] for p in parts)), frozenset().union(*(p[2] for p in parts)))


def build_step(name: str, cfg: Any, ctx: Any = None) -> Step:
    """The step for a validated config (or a Choice of them): resources resolved, models not loaded."""
    build = STEPS[name].build
    if isinstance(cfg, Choice):
        return ChoiceStep(name, [build(c, ctx) for c in cfg.alternatives], cfg.weights)
    return build(cfg, ctx)
