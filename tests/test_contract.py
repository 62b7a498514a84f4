"""The step contract, checked over every step and every kind (docs/STEP_CONTRACT.md):

* `draw` makes every random choice: `apply` draws nothing (no global RNG, no new generator);
* the recorded parameters replay the exact picture, also after a JSON round trip (the manifest);
* a step provides what it declares;
* after a warp every target is in sync: instance masks, layers and the matte share the canvas and
  the masks lie under the matte.
"""
from __future__ import annotations

import json
import random
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from pydantic import TypeAdapter

from product_augment.pipeline import ParamStep
from product_augment.sample import Instance, Sample
from product_augment.steps.registry import STEPS

from .conftest import make_packshot

REPO = Path(__file__).resolve().parents[1]
WEIGHTS = REPO / "weights" / "yolact_ws_effnetlite0.safetensors"
SMALL = {"canvas": {"size": 128}, "scale": {"range": [0.5, 0.7]}}
NO_REFINE = {"refine": {"erode": 0, "feather": 0, "decontaminate": False}}


def _build(step: str, cfg: dict, base_dir: Path = REPO) -> ParamStep:
    module = STEPS[step].module
    config = TypeAdapter(module.Config).validate_python(cfg, context={"base_dir": str(base_dir)})
    return module.build(config)


def _photo() -> Sample:
    img, _ = make_packshot(96, 128, radius=30)
    return Sample(image=img, meta={"relpath": "p.png"})


def _segmented() -> Sample:
    img, mask = make_packshot(96, 128, radius=30)
    alpha = mask.astype(np.float32)
    return Sample(image=img, alpha=alpha, instances=(Instance.from_mask(3, mask),),
                  layers={"probe": alpha.copy()}, meta={"relpath": "p.png"})


def _placed(kind: str = "solid") -> Sample:
    step = _build("background", {"kind": kind, **SMALL})
    return step(_segmented(), np.random.default_rng(1))


def _mask_sources(tmp: Path) -> tuple[Path, Path]:
    _, mask = make_packshot(96, 128, radius=30)
    folder = tmp / "masks"
    folder.mkdir()
    Image.fromarray(mask.astype(np.uint8) * 255).save(folder / "p.png")
    from product_augment.annotations import mask_to_rle
    coco = {"images": [{"id": 1, "file_name": "p.png", "height": 96, "width": 128}],
            "categories": [{"id": 1, "name": "mug"}],
            "annotations": [{"id": 1, "image_id": 1, "category_id": 1, "segmentation": mask_to_rle(mask),
                             "area": int(mask.sum()), "bbox": [0, 0, 1, 1], "iscrowd": 0}]}
    (tmp / "coco.json").write_text(json.dumps(coco))
    return folder, tmp / "coco.json"


# (id, step, config, input sample factory)
CASES = [
    ("segment-alpha", "segment", {"backend": "alpha"}, _segmented),
    ("segment-classical", "segment", {"backend": "classical"}, _photo),
    ("segment-masks-folder", "segment", {"backend": "masks", "path": "MASKS"}, _photo),
    ("segment-masks-coco", "segment", {"backend": "masks", "path": "COCO"}, _photo),
    ("segment-yolact", "segment", {"backend": "yolact", "weights": str(WEIGHTS), "score_threshold": 0.05},
     _photo),
    ("palette", "palette", {"k": 3}, _segmented),
    *[(f"background-{k}", "background", {"kind": k, **SMALL}, _segmented)
      for k in ("solid", "gradient", "texture", "studio", "transparent")],
    ("background-image", "background", {"kind": "image", "path": str(REPO / "backgrounds"), **SMALL},
     _segmented),
    *[(f"shadow-{k}-{state}", "shadow", {"kind": k}, f)
      for k in ("mirror", "drop", "realistic", "none")
      for state, f in (("plate", _placed), ("transparent", lambda: _placed("transparent")),
                       ("photo", _segmented))],
    *[(f"logo-{k}-{state}", "logo", cfg, f)
      for k, cfg in (("logo", {"kind": "logo"}), ("caption", {"kind": "caption"}))
      for state, f in (("plate", _placed), ("transparent", lambda: _placed("transparent")),
                       ("photo", _segmented))],
]


def _same(a: Sample, b: Sample) -> None:
    for name in ("image", "alpha", "plate", "output_alpha"):
        x, y = getattr(a, name), getattr(b, name)
        assert (x is None) == (y is None), name
        if x is not None:
            assert np.array_equal(x, y), name
    assert a.floor_y == b.floor_y
    assert a.layers.keys() == b.layers.keys()
    assert all(np.array_equal(a.layers[k], b.layers[k]) for k in a.layers)
    assert len(a.instances) == len(b.instances)
    for i, j in zip(a.instances, b.instances):
        assert i.class_id == j.class_id and i.box == j.box and np.array_equal(i.mask, j.mask)


def _case_step(case, tmp_path):
    """(step name, built step, sample maker) of a contract case; its mask sources written under
    ``tmp_path``; skipped when it needs the shipped weights and they are absent."""
    ident, step_name, cfg, make = case
    if "yolact" in ident and not WEIGHTS.exists():
        pytest.skip("shipped weights not present")
    if cfg.get("path") in ("MASKS", "COCO"):
        folder, coco = _mask_sources(tmp_path)
        cfg = {**cfg, "path": str(folder if cfg["path"] == "MASKS" else coco)}
    return step_name, _build(step_name, cfg), make


@pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
def test_step_contract(case, tmp_path, monkeypatch):
    step_name, step, make = _case_step(case, tmp_path)
    sample = make()
    out = step(sample, np.random.default_rng(7))

    # what it declares it provides, it provides
    for what in step.provides:
        assert out.has(what), f"{step_name} declares {what!r} but did not set it"

    # the recorded parameters replay the picture exactly, also after the manifest's JSON
    params = out.meta["applied"][step.name]
    params_json = json.loads(json.dumps(params))

    def no_draws(*a, **k):
        raise AssertionError("apply drew a random number generator")

    np_state, py_state = np.random.get_state(), random.getstate()
    with monkeypatch.context() as m:
        m.setattr(np.random, "default_rng", no_draws)
        m.setattr(np.random, "Generator", no_draws)
        replay = step.apply(sample, params_json)
    assert np.array_equal(np.random.get_state()[1], np_state[1]) and random.getstate() == py_state
    _same(out.replace(meta={}), replay.replace(meta={}))

    # targets in sync: every aligned array has the picture's size, masks lie under the matte
    h, w = out.image.shape[:2]
    assert out.alpha is None or out.alpha.shape == (h, w)
    assert all(v.shape == (h, w) for v in out.layers.values())
    for inst in out.instances:
        assert inst.mask.shape == (h, w) and inst.mask.any()
        if out.alpha is not None and not inst.backdrop:  # a backdrop's own objects lie outside it
            assert (out.alpha[inst.mask] > 0).mean() > 0.99


@pytest.mark.parametrize("kind", ["solid", "gradient", "texture", "studio", "transparent", "image"])
def test_one_matrix_moves_every_target(kind):
    """A layer equal to the matte before placement equals the matte after it (refinement off), and
    the instance mask is the half-coverage cut of the same warp."""
    cfg = {"kind": kind, **SMALL, **NO_REFINE}
    if kind == "image":
        cfg["path"] = str(REPO / "backgrounds")
    out = _build("background", cfg)(_segmented(), np.random.default_rng(3))
    # the same warp (OpenCV interpolates in fixed point, so a different ROI origin moves the last bits)
    assert np.abs(out.layers["probe"] - out.alpha).max() < 1e-3
    (inst,) = [i for i in out.instances if not i.backdrop]
    assert np.array_equal(inst.mask, out.layers["probe"] >= 0.5) or \
        np.mean(inst.mask != (out.layers["probe"] >= 0.5)) < 0.002


@pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
def test_batch_hook(case, tmp_path, monkeypatch):
    """The optional batch hook (`prepare(images)`, docs/STEP_CONTRACT.md): a pipeline runs it once
    for a group of images, and each image's result, after a pickle round trip (Ray ships it from a
    segmenter actor), gives the sample the step makes alone, also for a second variant; a step
    without a hook is not called with a result."""
    import pickle

    from product_augment.pipeline import Pipeline

    step_name, step, make = _case_step(case, tmp_path)
    hook = getattr(step, "prepare", None)
    pipe = Pipeline([step], initial=frozenset(s for s in ("image", "alpha", "instances", "plate", "palette")
                                              if make().has(s)))
    if not callable(hook):
        assert pipe.batched == () and pipe.prepare([make().image]) == [{}]
        return
    assert step_name == "segment"  # the steps that own a model
    calls = []
    monkeypatch.setattr(step, "prepare", lambda images: calls.append(len(images)) or hook(images))
    samples = [make(), make().replace(image=np.ascontiguousarray(make().image[::-1]))]
    prepared = pickle.loads(pickle.dumps(pipe.prepare([s.image for s in samples])))
    assert calls == [2] and len(prepared) == 2 and pipe.batched == (step,)
    for sample, ready in zip(samples, prepared):
        for variant in (0, 1):
            alone = pipe(sample, seed=3, relpath="p.png", variant=variant)
            batched = pipe(sample, seed=3, relpath="p.png", variant=variant, prepared=ready)
            _same(alone.replace(meta={}), batched.replace(meta={}))
            assert alone.meta["applied"] == batched.meta["applied"]
            assert alone.meta.get("models") == batched.meta.get("models")
