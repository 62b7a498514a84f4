"""The public Python API: load a preset, build it once, apply it to one image.

    >>> import product_augment as pa
    >>> aug = pa.Augmenter("catalog-white")            # a shipped name, a YAML path or a dict
    >>> result = aug("examples/mug.jpg", seed=0)       # doctest: +SKIP
    >>> result.image.shape, result.boxes, result.class_names   # doctest: +SKIP

`augment run` goes through `Augmenter.__call__` too (`jobs.run_job`), so the same preset, seed,
key and variant give the same pixels here and in a run's `images/` (`Result.encode` gives the
same bytes). Every name is listed in docs/API.md.
"""
from __future__ import annotations

import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from .api_inputs import (
    GIVEN,
    CachedSegment,
    GivenSegment,
    SegmentCache,
    as_matte,
    from_coco,
    given_instances,
    read_input,
)
from .classes import class_id, class_name
from .io import ImageReadError, encode_image, read_image
from .pipeline import ParamStep, Pipeline, SampleError, step_rngs
from .presets.errors import PresetError
from .presets.loader import Preset, preset_from_dict
from .presets.loader import load_preset as _load_preset_file
from .sample import Sample

__all__ = [
    "Augmenter",
    "ImageReadError",
    "PresetError",
    "Result",
    "SampleError",
    "cache_masks",
    "load_preset",
    "preset_names",
]

PresetSource = Preset | str | os.PathLike | Mapping[str, Any]


# ---------------------------------------------------------------------------------------------
# presets

def preset_names() -> list[str]:
    """The shipped presets' names (what `load_preset("name")` and `augment run --config name` find)."""
    from .resources import asset_dir

    return sorted(p.stem for p in asset_dir("configs").glob("*.yaml"))


def load_preset(source: PresetSource, overrides: Mapping[str, Any] | None = None,
                base_dir: str | os.PathLike | None = None) -> Preset:
    """A validated preset from a YAML file, a shipped preset's name (``"catalog-white"``) or a
    mapping (the parsed YAML; its relative paths resolve against `base_dir`, default the current
    folder). `overrides` sets fields by dotted name, as the CLI's options do (``{"seed": 3,
    "variants": 2, "output.format": "png"}``). Nothing is built and no image is read; a bad
    preset raises PresetError naming the file and the field. A `Preset` is returned as it is."""
    if isinstance(source, Preset):
        if overrides:
            raise TypeError("overrides apply when a preset is loaded: pass the file, name or mapping")
        return source
    if isinstance(source, Mapping):
        return preset_from_dict(dict(source), base_dir, dict(overrides or {}))
    if not isinstance(source, (str, os.PathLike)):
        raise TypeError(f"a preset is a file path, a shipped preset's name or a mapping, not "
                        f"{type(source).__name__}")
    path = Path(source)
    if not path.is_file() and path.parent == Path(".") and path.suffix in ("", ".yaml", ".yml"):
        from .resources import asset_dir

        shipped = asset_dir("configs") / (path.stem + ".yaml")
        if shipped.is_file():
            path = shipped
        elif path.suffix == "":
            from .presets.errors import did_you_mean

            names = preset_names()
            raise PresetError(path, [(f"no such preset file, and no shipped preset of that name "
                                     f"(shipped: {', '.join(names)}){did_you_mean(path.name, names)}")])
    return _load_preset_file(path, dict(overrides or {}))


# ---------------------------------------------------------------------------------------------
# results

@dataclass(frozen=True)
class Result:
    """One augmented image and its annotations, aligned with `image`.

    image:    H×W×3 uint8 RGB.
    alpha:    H×W float32 coverage when the output is transparent (an RGBA cut-out), else None.
    masks:    N×H×W bool, one per instance: the products first, then the backdrop's own objects.
    boxes:    N×4 float32 xyxy in pixels (x1, y1 exclusive), tight around each mask.
    classes:  N int64 class ids (1..21, 22 = generic product; `class_names` gives the names).
    scores:   N float32 (1 for given masks).
    backdrop: N bool: True for an object of a background photo (annotated, never cut or placed).
    layers:   name → H×W float32 matte in [0, 1] ("shadow", "logo"), as far as the preset made them.
    params:   every step's recorded parameters (JSON-able; `Augmenter.replay` re-makes the image,
              and a run's manifest keeps the same dict as `applied`).
    sample:   the pipeline's full record (scene light, gloss, support, palette, meta).
    """

    image: np.ndarray
    alpha: np.ndarray | None
    masks: np.ndarray
    boxes: np.ndarray
    classes: np.ndarray
    scores: np.ndarray
    backdrop: np.ndarray
    layers: dict[str, np.ndarray]
    params: dict[str, Any]
    sample: Sample = field(repr=False)

    @property
    def class_names(self) -> list[str]:
        return [class_name(int(c)) for c in self.classes]

    def encode(self, format: str = "jpg", quality: int = 92) -> bytes:
        """The image file's bytes as `augment run` writes them (a transparent output is a PNG
        with alpha when `format` is jpg)."""
        fmt = "png" if self.alpha is not None and format == "jpg" else format
        return encode_image(self.image, self.alpha, fmt, quality)

    @property
    def placement(self) -> tuple[np.ndarray, tuple[int, int]] | None:
        """(2×3 affine matrix from the input's pixels to this image's, (width, height)): where
        the background step put the product, the same warp its masks went through; None when the
        preset has no background step (the picture keeps the input's geometry)."""
        bg = self.params.get("background")
        if bg is None:
            return None
        if "choice" in bg and "params" in bg:
            bg = bg["params"]
        return np.asarray(bg["matrix"], np.float64), (int(bg["canvas"][0]), int(bg["canvas"][1]))

    @staticmethod
    def from_sample(sample: Sample) -> Result:
        from .io import jsonable

        h, w = sample.image.shape[:2]
        insts = sample.instances
        masks = np.stack([i.mask for i in insts]) if insts else np.zeros((0, h, w), bool)
        return Result(
            image=sample.image, alpha=sample.output_alpha, masks=masks,
            boxes=np.array([i.box for i in insts], np.float32).reshape(-1, 4),
            classes=np.array([i.class_id for i in insts], np.int64),
            scores=np.array([i.score for i in insts], np.float32),
            backdrop=np.array([i.backdrop for i in insts], bool),
            layers=dict(sample.layers), params=jsonable(dict(sample.meta.get("applied", {}))),
            sample=sample)


# ---------------------------------------------------------------------------------------------
# the augmenter



class Augmenter:
    """A preset, built once: asset folders listed, mask files indexed, fonts read; models load on
    the first image that needs them. Call it on one image at a time; keep one per process (or per
    DataLoader worker).

    `cache` keeps the segmentation of that many distinct photos (keyed by their pixels and key),
    so a photo seen again (the next variant, the next epoch) is not segmented again; the result
    is the same as without it. `pipeline`: an already built pipeline of this preset (the runner's).
    """

    def __init__(self, preset: PresetSource, *, cache: int = 0, pipeline: Pipeline | None = None):
        self.preset = load_preset(preset)
        self.pipeline = pipeline if pipeline is not None else self.preset.build_pipeline()
        self._given: Pipeline | None = None
        self._cache: SegmentCache | None = None
        if cache and cache > 0:
            self._cache = SegmentCache(cache)

    def __repr__(self) -> str:
        return f"Augmenter({self.preset.path.name!r}, steps={[s.name for s in self.pipeline.steps]})"

    @property
    def seed(self) -> int:
        return self.preset.model.seed

    # -- running

    def __call__(self, image: np.ndarray | str | os.PathLike, *, seed: int | None = None,
                 rng: np.random.Generator | None = None, key: str | None = None, variant: int = 0,
                 alpha: np.ndarray | None = None, masks: Any = None, classes: Sequence[int | str] | None = None,
                 annotations: Sequence[Mapping[str, Any]] | None = None,
                 categories: Sequence[Mapping[str, Any]] | None = None,
                 timings: dict[str, float] | None = None,
                 observe: Callable[[str, Sample], None] | None = None,
                 prepared: Mapping[int, Any] | None = None) -> Result:
        """Augment one image.

        image:  H×W×3 uint8 RGB (H×W×4 RGBA: its alpha is the input's matte; H×W grey), or a file
                path (read as `augment run` reads inputs, `input.max_side` applied).
        seed / rng: `seed` (default: the preset's) draws from `SeedSequence([seed, hash(key),
                variant])`, exactly as `augment run` does for the input at relative path `key`;
                `rng` (a numpy Generator) draws the step seeds from the caller's generator instead
                (it advances). Give one or neither.
        key:    the input's name in the seeding and for `segment: {backend: masks}` (default: a
                path's file name; none for an array).
        masks / classes: the products' masks (N×H×W or a list of H×W, non-zero = product) and their
                classes (ids or names; default the segment step's class_name): the segment step
                then uses them and no segmenter runs.
        annotations / categories: the same as COCO annotation dicts (`segmentation` as polygons or
                RLE, `category_id`) and the file's `categories` (their names give the class;
                without them `category_id` is taken as this project's class id).
        timings / observe: a dict that receives each step's seconds; a callback
                `observe(step_name, sample)` after each step (the runner's quality gate).
        prepared: this image's results of `self.pipeline.prepare` (the steps' batch hooks, run for
                a group of images at once, as the runner does for a shard): the same result.
        """
        sample, pipe = self._prepare(image, key, alpha, masks, classes, annotations, categories)
        rngs = self._rngs(seed, rng, key if key is not None else sample.meta.get("relpath", ""), variant)
        ready = prepared if pipe is self.pipeline else None  # given masks: no segmenter runs
        return Result.from_sample(pipe.run(sample, rngs, timings, observe, ready))

    def replay(self, image: np.ndarray | str | os.PathLike, params: Mapping[str, Any], *,
               key: str | None = None, alpha: np.ndarray | None = None, masks: Any = None,
               classes: Sequence[int | str] | None = None,
               annotations: Sequence[Mapping[str, Any]] | None = None,
               categories: Sequence[Mapping[str, Any]] | None = None) -> Result:
        """The image again from recorded parameters (`Result.params`, or a manifest entry's
        `applied` with `key` = its `source`): no random draws. A result made from given masks
        needs the same masks again."""
        params = dict(params)
        given = masks is not None or annotations is not None
        seg = params.get("segment")
        if isinstance(seg, Mapping) and seg.get("backend") == GIVEN and not given:
            raise SampleError("these parameters were recorded with given masks: pass the same "
                              "masks (or annotations) to replay them")
        sample, pipe = self._prepare(image, key, alpha, masks, classes, annotations, categories)
        if given and "segment" in params:
            params["segment"] = {"backend": GIVEN}
        return Result.from_sample(pipe.replay(sample, params))

    # -- internals

    def _rngs(self, seed: int | None, rng: np.random.Generator | None, key: str, variant: int
              ) -> list[np.random.Generator]:
        n = len(self.pipeline.steps)
        if rng is not None:
            if seed is not None:
                raise TypeError("give seed or rng, not both")
            if not isinstance(rng, np.random.Generator):
                raise TypeError(f"rng must be a numpy.random.Generator, not {type(rng).__name__}")
            entropy = rng.integers(0, 2**63, size=4, dtype=np.int64).tolist()
            return [np.random.default_rng(c) for c in np.random.SeedSequence(entropy).spawn(n)]
        return step_rngs(self.seed if seed is None else int(seed), key, int(variant), n)

    def _prepare(self, image, key, alpha, masks, classes, annotations, categories) -> tuple[Sample, Pipeline]:
        rgb, own_alpha, relpath = read_input(image, key, self.preset.model.input.max_side)
        if alpha is not None:
            own_alpha = as_matte(alpha, rgb.shape[:2], "alpha")
        meta = {"relpath": relpath} if relpath is not None else {}
        sample = Sample(image=rgb, alpha=own_alpha, meta=meta)
        if annotations is not None:
            if masks is not None:
                raise TypeError("give masks or annotations, not both")
            masks, classes = from_coco(annotations, categories, rgb.shape[:2])
        if masks is not None:
            given = given_instances(masks, classes, rgb.shape[:2], self._default_class())
            sample = sample.replace(meta={**sample.meta, GIVEN: given})
            return sample, self._given_pipeline()
        if self._cache is not None:
            return sample, self._cached_pipeline()
        return sample, self.pipeline

    def _default_class(self) -> int:
        for name, cfg in self.preset.step_configs:
            if name == "segment":
                first = cfg.alternatives[0] if hasattr(cfg, "alternatives") else cfg
                return class_id(getattr(first, "class_name", "product"))
        return class_id("product")

    def _swap_segment(self, make: Callable[[Any], ParamStep]) -> Pipeline:
        steps = list(self.pipeline.steps)
        i = next((k for k, s in enumerate(steps) if s.name == "segment"), None)
        if i is None:
            steps.insert(0, GivenSegment())
        else:
            steps[i] = make(steps[i])
        return Pipeline(steps)

    def _given_pipeline(self) -> Pipeline:
        if self._given is None:
            self._given = self._swap_segment(lambda _s: GivenSegment())
        if len(self._given.steps) != len(self.pipeline.steps):
            raise PresetError(self.preset.path, [("given masks need a `segment` step in the preset "
                                                 "(it is the step they replace)")])
        return self._given

    def _cached_pipeline(self) -> Pipeline:
        if self._cache.pipeline is None:
            self._cache.pipeline = self._swap_segment(lambda s: CachedSegment(s, self._cache))
        return self._cache.pipeline


# ---------------------------------------------------------------------------------------------
# a mask cache for on-the-fly use

def cache_masks(preset: PresetSource | Augmenter, folder: str | os.PathLike, path: str | os.PathLike,
                recursive: bool = True) -> dict[str, Any]:
    """Segment every image under `folder` once with the preset's segment step and write the
    products' masks as a COCO file at `path` (file names relative to `folder`, at the size the
    images are read at). A preset with `segment: {backend: masks, path: <that file>}`, the torch
    dataset (`masks=`) and `Augmenter(..., annotations=)` then never run the segmenter on those
    photos again. The masks are binary: a soft model edge becomes a hard one. Returns the COCO
    dict; images where nothing is found are listed under `"failed"`."""
    import json

    from .annotations import mask_to_rle
    from .classes import GENERIC_PRODUCT, coco_categories
    from .io import list_inputs, write_atomic

    aug = preset if isinstance(preset, Augmenter) else Augmenter(preset)
    seg = next((s for s in aug.pipeline.steps if s.name == "segment"), None)
    if seg is None:
        raise PresetError(aug.preset.path, ["cache_masks needs a `segment` step"])
    rels, _ = list_inputs(Path(folder), recursive)
    images, annotations, failed = [], [], []
    for i, rel in enumerate(rels, 1):
        p = Path(folder) / rel if Path(folder).is_dir() else Path(folder)
        try:
            rgb, alpha = read_image(p, aug.preset.model.input.max_side)
            rng = step_rngs(aug.seed, rel, 0, len(aug.pipeline.steps))[aug.pipeline.steps.index(seg)]
            s = seg(Sample(image=rgb, alpha=alpha, meta={"relpath": rel}), rng)
        except (ImageReadError, SampleError) as e:
            failed.append({"file_name": rel, "error": str(e)})
            continue
        h, w = rgb.shape[:2]
        images.append({"id": i, "file_name": rel, "width": w, "height": h})
        for inst in s.instances:
            annotations.append({"id": len(annotations) + 1, "image_id": i, "category_id": int(inst.class_id),
                                "segmentation": mask_to_rle(inst.mask), "area": int(inst.mask.sum()),
                                "bbox": [inst.box[0], inst.box[1], inst.box[2] - inst.box[0],
                                         inst.box[3] - inst.box[1]],
                                "score": round(float(inst.score), 4), "iscrowd": 0})
    categories = [*coco_categories(), {"id": GENERIC_PRODUCT.id, "name": GENERIC_PRODUCT.name,
                                       "supercategory": "product"}]
    coco = {"images": images, "annotations": annotations, "categories": categories, "failed": failed}
    write_atomic(Path(path), json.dumps(coco).encode())
    return coco
