"""Step protocol, the Pipeline, and per-image seeding."""
from __future__ import annotations

import hashlib
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any, ClassVar, Protocol, runtime_checkable

import numpy as np

from .sample import Sample


@runtime_checkable
class Step(Protocol):
    name: ClassVar[str]
    requires: ClassVar[frozenset[str]]
    provides: ClassVar[frozenset[str]]
    # optional: what the step reads when an earlier step provides it (see check_order)
    # uses: ClassVar[frozenset[str]]
    # optional batch hook (see Pipeline.prepare): `prepare(images) -> list` makes, in one call for
    # a group of images (one model call), one picklable result per image; the pipeline then calls
    # `step(sample, rng, prepared=result)`, which must give the sample `step(sample, rng)` gives
    # def prepare(self, images: Sequence[np.ndarray]) -> list[Any]: ...

    def __call__(self, sample: Sample, rng: np.random.Generator) -> Sample: ...


class ParamStep:
    """Base for steps that draw all their randomness up front.

    `draw` samples the parameters (JSON-serialisable dict) from `rng`; `apply` is deterministic
    given them. Calling the step records the parameters in meta["applied"][name], so
    `apply(sample, recorded)` replays the exact image.
    """

    name: ClassVar[str]
    requires: ClassVar[frozenset[str]] = frozenset()
    provides: ClassVar[frozenset[str]] = frozenset()
    # read when present, not required: a step that provides one of these must not come later
    uses: ClassVar[frozenset[str]] = frozenset()

    def draw(self, sample: Sample, rng: np.random.Generator) -> dict[str, Any]:
        return {}

    def apply(self, sample: Sample, params: Mapping[str, Any]) -> Sample:
        raise NotImplementedError

    def apply_prepared(self, sample: Sample, params: Mapping[str, Any], prepared: Any) -> Sample:
        """`apply` with what the step's batch hook (`prepare`) made for this image: the same
        sample, without the per-image work the hook did for a whole group. Without a hook: `apply`."""
        return self.apply(sample, params)

    def __call__(self, sample: Sample, rng: np.random.Generator, prepared: Any = None) -> Sample:
        params = self.draw(sample, rng)
        out = self.apply(sample, params) if prepared is None else self.apply_prepared(sample, params, prepared)
        return record_applied(out, self.name, params)


def record_applied(sample: Sample, name: str, params: Mapping[str, Any]) -> Sample:
    applied = dict(sample.meta.get("applied", {}))
    applied[name] = dict(params)
    return sample.replace(meta={**sample.meta, "applied": applied})


def stable_hash(text: str) -> int:
    """A 64-bit hash of a string that is the same in every process and on every machine."""
    return int.from_bytes(hashlib.blake2b(text.encode("utf-8"), digest_size=8).digest(), "little")


def step_rngs(seed: int, relpath: str, variant: int, n_steps: int) -> list[np.random.Generator]:
    """One independent generator per step for one (input, variant)."""
    ss = np.random.SeedSequence([int(seed), stable_hash(relpath), int(variant)])
    return [np.random.default_rng(child) for child in ss.spawn(n_steps)]


class PipelineOrderError(ValueError):
    pass


class Pipeline:
    """Steps run in order on a Sample; requirements are checked when it is built."""

    def __init__(self, steps: Sequence[Step], initial: frozenset[str] = frozenset({"image"})):
        self.steps = tuple(steps)
        check_order(self.steps, initial)

    @property
    def batched(self) -> tuple[Step, ...]:
        """The steps with a batch hook (`prepare`)."""
        return tuple(s for s in self.steps if callable(getattr(s, "prepare", None)))

    def prepare(self, images: Sequence[np.ndarray]) -> list[dict[int, Any]]:
        """Every batch hook run once on a group of images (a shard's, in one model call): for each
        image, what each hooked step made for it, by step index. Pass an image's to `run` or
        `__call__` (`prepared=`) for each of its variants: the same samples as without it. The
        results pickle, so they may be made in another process (Ray's segmenter actors)."""
        out: list[dict[int, Any]] = [{} for _ in images]
        for i, step in enumerate(self.steps):
            hook = getattr(step, "prepare", None)
            if not callable(hook):
                continue
            results = hook(list(images))
            if len(results) != len(out):
                raise ValueError(f"{step.name}.prepare made {len(results)} results for {len(out)} images")
            for d, r in zip(out, results):
                d[i] = r
        return out

    def __call__(self, sample: Sample, seed: int, relpath: str, variant: int = 0,
                 timings: dict[str, float] | None = None,
                 observe: Callable[[str, Sample], None] | None = None,
                 prepared: Mapping[int, Any] | None = None) -> Sample:
        """Run every step with its own generator; `timings`, when given, receives each step's
        wall-clock seconds (where the time goes; never part of the result); `observe(name, sample)`
        sees the sample after each step (the quality gate's measurements; it must not change it);
        `prepared`: this image's results of `prepare`."""
        return self.run(sample, step_rngs(seed, relpath, variant, len(self.steps)), timings, observe, prepared)

    def run(self, sample: Sample, rngs: Sequence[np.random.Generator],
            timings: dict[str, float] | None = None,
            observe: Callable[[str, Sample], None] | None = None,
            prepared: Mapping[int, Any] | None = None) -> Sample:
        """Run every step with the given generators, one per step (`__call__` makes them from the
        seed; `api.Augmenter` also from a caller's generator)."""
        if len(rngs) != len(self.steps):
            raise ValueError(f"{len(rngs)} generators for {len(self.steps)} steps")
        for i, (step, rng) in enumerate(zip(self.steps, rngs)):
            t0 = time.perf_counter()
            ready = prepared.get(i) if prepared else None
            sample = step(sample, rng) if ready is None else step(sample, rng, prepared=ready)
            if timings is not None:
                timings[step.name] = round(time.perf_counter() - t0, 4)
            if observe is not None:
                observe(step.name, sample)
        return sample

    def replay(self, sample: Sample, applied: Mapping[str, Mapping[str, Any]]) -> Sample:
        """Re-run every step with recorded parameters instead of random draws."""
        for step in self.steps:
            if not isinstance(step, ParamStep):
                raise TypeError(f"step {step.name!r} cannot replay parameters")
            if step.name not in applied:
                raise KeyError(f"no recorded parameters for step {step.name!r} (recorded: "
                               f"{', '.join(applied) or 'none'}): was the manifest written by this preset?")
            params = applied[step.name]
            sample = record_applied(step.apply(sample, params), step.name, params)
        return sample


def check_order(steps: Sequence[Step], initial: frozenset[str] = frozenset({"image"})) -> None:
    """Raise PipelineOrderError naming the first step whose requirements no earlier step provides,
    or that comes before a step providing something it uses (reads when present): the background
    step reads the palette, and a shadow or logo drawn before the background would be painted over.
    """
    have = set(initial)
    for i, step in enumerate(steps):
        missing = sorted(step.requires - have)
        if missing:
            providers = {m: [s.name for s in steps[i + 1:] if m in s.provides] for m in missing}
            hint = "; ".join(
                f"{m!r} is provided by {', '.join(p)} which comes later" if p
                else f"no step provides {m!r}" for m, p in providers.items())
            raise PipelineOrderError(f"steps[{i}].{step.name} requires {', '.join(missing)}: {hint}")
        used = sorted(getattr(step, "uses", frozenset()) - have)
        later = {m: [s.name for s in steps[i + 1:] if m in s.provides] for m in used}
        later = {m: p for m, p in later.items() if p}
        if later:
            hint = "; ".join(f"{m!r} is provided by {', '.join(p)} which comes later" for m, p in later.items())
            after = sorted({n for p in later.values() for n in p})
            raise PipelineOrderError(f"steps[{i}].{step.name} uses {', '.join(later)}: {hint} "
                                     f"(put {step.name} after {', '.join(after)})")
        have |= step.provides


class SampleError(Exception):
    """A problem with one input (no product found, missing mask, ...): the runner reports it,
    marks that input failed and goes on with the batch."""
