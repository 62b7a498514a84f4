"""The arms that separate the causes of the augmented arm's effect, and their summary table.

Every cause arm trains like `augmented` (the N base images + f images per base image, E epochs);
only the added images differ:

- geometry: the augmented set's framing without its new appearance. Each added image is the base
  photo itself (its own backdrop and shadow), moved onto the augmented image's canvas with the very
  placement (scale and position) the pipeline drew for it (read from the augmented run's manifest);
  the canvas beyond the photo's edges repeats the photo's edge pixels (its own backdrop; the mask
  is extended the same way, so a product touching the edge stays labelled where it is smeared).
- appearance: the preset with every background at the photo's own size and place (`canvas: null`,
  `scale: null`: the identity placement), so backgrounds, shadows and the sticker change and the
  framing does not.
- bg-<kind>: only that one of the preset's background choices (gradient, texture, studio, image).
- bg-image-plain: the `image` choice alone with the scene's realism off (`sizing: scale`, a size drawn
  from `scale` instead of the class's physical size on the backdrop's floor; `harmonize: 0`, the
  product keeps its own lighting): paired with `bg-image`, it asks whether issue 21's realism
  moves the result.
- shadow-<kind>: only that shadow kind (mirror, drop, none).
- no-logo: the preset without its logo step (`augmented` has it: logo on).

The causes table sets each against `base-steps` (does it help at all, compute-matched) and against
`augmented` (is it better or worse than the whole recipe), paired by seed.
"""
from __future__ import annotations

import copy
import json
from pathlib import Path

import cv2
import numpy as np

from .data import ArraySet, fit_square, read_items

FIXED = ("geometry", "appearance", "no-logo")
PLAIN = "bg-image-plain"
PLAIN_FIELDS = {"sizing": "scale", "harmonize": 0.0}  # what bg-image-plain turns off
TWINS = {"bg-image": PLAIN}  # arm → the twin it is also paired with: bg-image − bg-image-plain = the realism


def _background_choices(cfg: dict) -> list[dict]:
    return list(cfg["choice"]) if "choice" in cfg else [cfg]


def _shadow_kinds(cfg: dict) -> list[str]:
    kind = cfg.get("kind", "drop")
    if isinstance(kind, dict) and "choice" in kind:
        return [str(k) for k in kind["choice"]]
    return [str(kind)]


def available(steps: list[dict]) -> list[str]:
    """The cause arms a preset's steps allow (in the order of the module doc)."""
    names = dict(next(iter(s.items())) for s in steps)
    out = ["geometry", "appearance"]
    if "background" in names:
        kinds = list(dict.fromkeys(c.get("kind", "solid") for c in _background_choices(names["background"])))
        out += [f"bg-{k}" for k in kinds]
        if "image" in kinds:
            out.append(PLAIN)
    if "shadow" in names:
        out += [f"shadow-{k}" for k in dict.fromkeys(_shadow_kinds(names["shadow"]))]
    if "logo" in names:
        out.append("no-logo")
    return out


def variant_steps(steps: list[dict], variant: str) -> list[dict]:
    """The preset's steps changed for one cause arm (`geometry` uses the unchanged steps)."""
    out = []
    for item in copy.deepcopy(steps):
        (name, cfg), = item.items()
        if variant == "no-logo" and name == "logo":
            continue
        if name == "background" and variant == "appearance":
            for c in _background_choices(cfg):
                c["canvas"], c["scale"] = None, None
        elif name == "background" and variant.startswith("bg-"):
            kind = "image" if variant == PLAIN else variant[3:]
            kept = [c for c in _background_choices(cfg) if c.get("kind", "solid") == kind]
            if not kept:
                raise ValueError(f"arm {variant!r}: the preset's background has no kind {kind!r}")
            cfg = {**kept[0], **PLAIN_FIELDS} if variant == PLAIN else kept[0]
        elif name == "shadow" and variant.startswith("shadow-"):
            kind = variant[7:]
            if kind not in _shadow_kinds(cfg):
                raise ValueError(f"arm {variant!r}: the preset's shadow has no kind {kind!r}")
            from ..steps.registry import STEPS  # the fields that kind knows (a kind choice shares the rest)

            fields = STEPS["shadow"].kinds[kind].model_fields
            cfg = {**{k: v for k, v in cfg.items() if k in fields}, "kind": kind}
        out.append({name: cfg})
    return out


def reframe_set(base_root: Path, base_format: str, aug_root: Path, size: int, pad: str = "replicate") -> ArraySet:
    """The geometry arm's images: every image of the augmented COCO folder `aug_root`, remade from
    its base photo and mask with the same canvas and placement matrix (manifest.jsonl), the photo's
    edge pixels (and its mask's) repeated past its edges, in the bench frame."""
    coco = json.loads((Path(aug_root) / "annotations.json").read_text())
    kept = {im["file_name"] for im in coco.get("images", [])}
    plans = {}
    for line in (Path(aug_root) / "manifest.jsonl").read_text().splitlines():
        e = json.loads(line)
        if e.get("status") == "ok" and e.get("outputs", {}).get("image") in kept:
            bg = e["applied"]["background"]
            bg = bg.get("params", bg)
            plans.setdefault(e["source"], []).append((e["outputs"]["image"], bg["canvas"], bg["matrix"]))
    xs, ys, vs, aspects, names = [], [], [], [], []
    for rel, img, mask in read_items(base_root, base_format):
        key = rel if base_format == "coco" else Path(rel).name
        for out_name, (cw, ch), matrix in sorted(plans.get(key, [])):
            m = np.asarray(matrix, np.float64)
            interp = cv2.INTER_AREA if m[0, 0] < 1 else cv2.INTER_LINEAR
            im = cv2.warpAffine(img, m, (cw, ch), flags=interp, borderMode=cv2.BORDER_REPLICATE)
            mk = cv2.warpAffine(mask.astype(np.float32), m, (cw, ch), flags=cv2.INTER_LINEAR,
                                borderMode=cv2.BORDER_REPLICATE) >= 0.5
            x, y, v = fit_square(im, mk, size, pad)
            xs.append(x)
            ys.append(y)
            vs.append(v)
            aspects.append(cw / ch)
            names.append(f"geometry/{out_name}")
    if not xs:
        raise FileNotFoundError(f"{aug_root}: no augmented image matched a base image of {base_root}")
    order = np.argsort(names)
    return ArraySet(np.stack(xs), np.stack(ys), np.stack(vs), np.asarray(aspects, np.float32),
                    names).subset(order)


# ------------------------------------------------------------------ the causes table

CAUSE_CONTROLS = ("base-steps", "augmented")
CAUSE_METRICS = ("iou_image", "component_ap", "instance_ap")


def summarise(results: dict) -> dict:
    """{arm: {test: {control: {metric: paired Δ}}}} for `augmented` and every cause arm that ran,
    from the arms' `delta_vs` (results.json's `causes`)."""
    out: dict = {}
    for name, arm in results["arms"].items():
        if not (name in FIXED or name.startswith(("bg-", "shadow-")) or name == "augmented"):
            continue
        tests = (arm.get("summary") or {}).get("tests", {})
        per = {}
        for t, s in tests.items():
            dv = s.get("delta_vs", {})
            per[t] = {c: {m: dv[c][m] for m in CAUSE_METRICS if m in dv.get(c, {})}
                      for c in (*CAUSE_CONTROLS, TWINS.get(name)) if c in dv}
        if per:
            out[name] = per
    return out


def _cell(d: dict | None) -> str:
    if not d or d.get("mean") is None:
        return "–"
    return f"{d['mean']:+.3f} ± {d['std']:.3f} ({d.get('positive', 0)}/{d['n']})"


def table(results: dict) -> list[str]:
    """report.md's causes table: per cause arm and test set, Δ IoU (image mean) against base-steps
    and against augmented, mean ± std over seeds (seeds where the arm is higher / seeds)."""
    causes = results.get("causes") or {}
    if not any(k != "augmented" for k in causes):
        return []
    tests = list(results["data"]["tests"])
    intro = ("**What helps** (the cause arms; paired Δ of foreground IoU, image mean, arm − control, "
             "mean ± std over seeds, in brackets the seeds where the arm is higher / seeds). "
             "vs `base-steps`: does this part of the augmentation help at all, compute-matched; "
             "vs `augmented`: is it better than the whole recipe. Component and instance mAP Δ are "
             "in results.json (`causes`).")
    lines = [intro, "",
             "| arm | " + " | ".join(f"{t}: vs base-steps | {t}: vs augmented" for t in tests) + " |",
             "|---|" + "---:|---:|" * len(tests)]
    for name, per in causes.items():
        cells = []
        for t in tests:
            c = per.get(t, {})
            cells += [_cell(c.get("base-steps", {}).get("iou_image")), _cell(c.get("augmented", {}).get("iou_image"))]
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    for name, twin in TWINS.items():
        per = causes.get(name, {})
        if any(twin in per.get(t, {}) for t in tests):
            cells = [f"{t} {_cell(per.get(t, {}).get(twin, {}).get('iou_image'))}" for t in tests]
            lines += ["", f"`{name}` − `{twin}` (the same backdrops with and without the scene's realism, "
                      "paired by seed; IoU): " + ", ".join(cells) + "."]
    return lines + [""]
