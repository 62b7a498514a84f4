"""The training-data arms' augmentations: this pipeline (offline, through the runner), copy-paste
(offline, in memory) and classical augmentation (on the fly, per training sample).

`load_preset` is imported in exactly one place (`_load_preset` below), so a move of the preset
package is a one-line change.
"""
from __future__ import annotations

import os
import random
import shutil
import time
from pathlib import Path

import cv2
import numpy as np
import yaml

from .data import ArraySet, list_items

ABLATABLE = ("background", "shadow", "logo")


def _load_preset(path: Path, overrides: dict):
    from ..presets.loader import load_preset

    return load_preset(path, overrides)


# ------------------------------------------------------------------ this pipeline

def bench_steps(preset_path: Path, base_root: Path, base_format: str, ablate: str | None = None,
                variant: str | None = None) -> list:
    """The preset's steps with the segment step replaced by the base set's known masks (so the
    comparison isolates the augmentation), the `ablate` family removed and changed for a cause arm
    (`variant`, bench/causes.py)."""
    raw = yaml.safe_load(Path(preset_path).read_text(encoding="utf-8"))
    base_root = Path(base_root).resolve()
    seg_path = base_root / "annotations.json" if base_format == "coco" else base_root / "masks"
    steps = []
    for item in raw.get("steps", []):
        (name, cfg), = item.items()
        if name == ablate:
            continue
        if name == "segment":
            cfg = {"backend": "masks", "path": str(seg_path)}
        steps.append({name: cfg})
    if not any("segment" in s for s in steps):
        steps.insert(0, {"segment": {"backend": "masks", "path": str(seg_path)}})
    if variant and variant != "geometry":
        from .causes import variant_steps

        steps = variant_steps(steps, variant)
    return steps


def _stage_inputs(base_root: Path, names: list[str], fmt: str, stage: Path) -> Path:
    """A folder of links to the chosen base images, named so the masks backend finds their masks
    (COCO: the annotation's relative path; image+mask folder: the mask's stem)."""
    if stage.exists():
        shutil.rmtree(stage)
    stage.mkdir(parents=True)
    for rel in names:
        dst = stage / (rel if fmt == "coco" else Path(rel).name)
        dst.parent.mkdir(parents=True, exist_ok=True)
        src = (Path(base_root) / rel).resolve()
        try:
            os.symlink(src, dst)
        except OSError:
            shutil.copy2(src, dst)
    return stage


def make_augmented(preset_path: Path, base_root: Path, out_dir: Path, seed: int, expansion: int,
                   limit: int | None = None, base_format: str = "auto", ablate: str | None = None,
                   workers: int = 1, variant: str | None = None) -> dict:
    """Run the pipeline over the first `limit` base images, `expansion` variants each, into
    `out_dir` (a COCO folder). Resumes: the runner skips items already made with the same preset.
    Returns {images, failed, seconds, steps}."""
    from ..runner import RunError, RunOptions, run

    fmt, names = list_items(base_root, base_format, limit)
    steps = bench_steps(preset_path, base_root, fmt, ablate, variant)
    overrides = {"seed": int(seed), "variants": int(expansion), "output.annotations": ["coco"],
                 "steps": steps}
    preset = _load_preset(Path(preset_path), overrides)
    stage = _stage_inputs(base_root, names, fmt, Path(out_dir).parent / f".{Path(out_dir).name}-inputs")
    t0 = time.perf_counter()
    try:
        summary = run(preset, RunOptions(input_dir=stage, output_dir=Path(out_dir), workers=workers))
    except RunError:  # the folder holds another preset's images (the preset file changed): remake it
        summary = run(preset, RunOptions(input_dir=stage, output_dir=Path(out_dir), workers=workers,
                                         overwrite=True))
    return {"images": summary.done + summary.resumed, "failed": len(summary.failed),
            "seconds": round(time.perf_counter() - t0, 1), "resumed": summary.resumed,
            "steps": [next(iter(s)) for s in steps]}


# ------------------------------------------------------------------ copy-paste

def copy_paste(base: ArraySet, expansion: int, seed: int, scale: tuple[float, float] = (0.35, 0.8)) -> ArraySet:
    """`expansion` images per base image: image i (the backdrop, its own product kept) gets the
    foreground of another random base image j pasted onto it, flipped with p 0.5, scaled by a factor
    drawn from `scale` and placed at random (partly outside the frame at most by a quarter). The new
    mask is the backdrop's mask minus the pasted area, plus the pasted object; pasting happens at 2×
    the bench resolution with a one-pixel feathered edge, then the image is area-downscaled."""
    rng = np.random.default_rng([seed, 7, 11])
    n, s = len(base), base.x.shape[1]
    xs, ys, vs = [], [], []
    for _ in range(expansion):
        for i in range(n):
            j = int(rng.integers(n - 1)) if n > 1 else 0
            j = j + (j >= i) if n > 1 else 0
            xs_, ys_ = _paste(base, i, j, rng, scale)
            xs.append(xs_)
            ys.append(ys_)
            vs.append(base.valid[i])
    names = [f"copy-paste/{k:05d}" for k in range(len(xs))]
    aspect = np.tile(base.aspect, expansion)
    return ArraySet(np.stack(xs) if xs else np.zeros((0, s, s, 3), np.uint8),
                    np.stack(ys) if ys else np.zeros((0, s, s), bool),
                    np.stack(vs) if vs else np.zeros((0, s, s), bool), aspect, names)


def _paste(base: ArraySet, i: int, j: int, rng: np.random.Generator, scale: tuple[float, float]):
    s = base.x.shape[1]
    big = 2 * s
    up = lambda a, interp: cv2.resize(a, (big, big), interpolation=interp)
    dst = up(base.x[i], cv2.INTER_LINEAR).astype(np.float32)
    dst_m = up(base.y[i].astype(np.uint8), cv2.INTER_NEAREST) > 0
    src = up(base.x[j], cv2.INTER_LINEAR)
    src_m = (up(base.y[j].astype(np.uint8), cv2.INTER_NEAREST) > 0) & (up(base.valid[j].astype(np.uint8),
                                                                          cv2.INTER_NEAREST) > 0)
    if src_m.any():
        ys_, xs_ = np.nonzero(src_m)
        y0, y1, x0, x1 = ys_.min(), ys_.max() + 1, xs_.min(), xs_.max() + 1
        crop, crop_m = src[y0:y1, x0:x1], src_m[y0:y1, x0:x1]
        if rng.random() < 0.5:
            crop, crop_m = crop[:, ::-1], crop_m[:, ::-1]
        f = float(rng.uniform(*scale))
        ch, cw = max(2, round(crop.shape[0] * f)), max(2, round(crop.shape[1] * f))
        crop = cv2.resize(np.ascontiguousarray(crop), (cw, ch), interpolation=cv2.INTER_AREA)
        alpha = cv2.resize(np.ascontiguousarray(crop_m).astype(np.float32), (cw, ch), interpolation=cv2.INTER_AREA)
        alpha = cv2.GaussianBlur(alpha, (3, 3), 0.7)
        oy = int(rng.integers(-ch // 4, big - 3 * ch // 4 + 1))
        ox = int(rng.integers(-cw // 4, big - 3 * cw // 4 + 1))
        ty0, tx0 = max(0, oy), max(0, ox)
        ty1, tx1 = min(big, oy + ch), min(big, ox + cw)
        if ty1 > ty0 and tx1 > tx0:
            a = alpha[ty0 - oy:ty1 - oy, tx0 - ox:tx1 - ox]
            c = crop[ty0 - oy:ty1 - oy, tx0 - ox:tx1 - ox].astype(np.float32)
            region = dst[ty0:ty1, tx0:tx1]
            dst[ty0:ty1, tx0:tx1] = a[..., None] * c + (1 - a[..., None]) * region
            pasted = np.zeros((big, big), bool)
            pasted[ty0:ty1, tx0:tx1] = a >= 0.5
            dst_m = dst_m & ~pasted | pasted
    img = cv2.resize(np.clip(dst + 0.5, 0, 255).astype(np.uint8), (s, s), interpolation=cv2.INTER_AREA)
    mask = cv2.resize(dst_m.astype(np.float32), (s, s), interpolation=cv2.INTER_AREA) >= 0.5
    return img, mask & base.valid[i]


# ------------------------------------------------------------------ classical (on the fly)

class Classical:
    """The recipe users know, in albumentations (the config's `classical`): HorizontalFlip, Affine
    (shift, scale, rotate), RandomResizedCrop back to the frame, ColorJitter; per training sample,
    seeded from the run's generator (`rng`), so a seed gives the same samples in any process.

    The foreground and the valid region go through as masks. Pixels that the affine brings in from
    outside the frame are invalid (no loss) and, like the resize policy's fill, take the colour of
    the nearest pixel that came from inside (not black bars)."""

    def __init__(self, spec, size: int):
        try:
            import albumentations as A
        except ImportError:
            raise RuntimeError("the classical arms need albumentations: pip install 'product-augment[bench]'") from None
        spec = spec if isinstance(spec, dict) else spec.model_dump()
        af, cr, cj = spec["affine"], spec["random_resized_crop"], spec["color_jitter"]
        self.transform = A.Compose([
            A.HorizontalFlip(p=spec["hflip"]),
            A.Affine(scale=tuple(af["scale"]), translate_percent=(-af["translate"], af["translate"]),
                     rotate=(-af["rotate"], af["rotate"]), border_mode=cv2.BORDER_CONSTANT, fill=0, fill_mask=0,
                     p=af["p"]),
            A.RandomResizedCrop(size=(size, size), scale=tuple(cr["scale"]), ratio=tuple(cr["ratio"]), p=cr["p"]),
            A.ColorJitter(brightness=cj["brightness"], contrast=cj["contrast"], saturation=cj["saturation"],
                          hue=cj["hue"], p=cj["p"]),
        ], seed=0)

    def __call__(self, x: np.ndarray, y: np.ndarray, valid: np.ndarray, rng: np.random.Generator
                 ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        # one generator pair shared by every transform, seeded from the run's generator (set_random_seed
        # would seed each transform alike, so their apply-or-not draws would all coincide)
        seed = int(rng.integers(2**63))
        self.transform.set_random_state(np.random.default_rng(seed), random.Random(seed))
        inside = np.ones(x.shape[:2], np.uint8)
        out = self.transform(image=np.ascontiguousarray(x),
                             masks=[y.astype(np.uint8), valid.astype(np.uint8), inside])
        xo, (yo, vo, io) = out["image"], out["masks"]
        io = np.asarray(io) > 0
        if not io.all():
            xo = _fill_nearest(xo, io)
        vo = (np.asarray(vo) > 0) & io
        return xo, (np.asarray(yo) > 0) & vo, vo


def _fill_nearest(img: np.ndarray, known: np.ndarray) -> np.ndarray:
    """`img` with every pixel outside `known` set to its nearest known pixel's colour."""
    if not known.any():
        return img
    _, labels = cv2.distanceTransformWithLabels((~known).astype(np.uint8), cv2.DIST_L2, 5,
                                                labelType=cv2.DIST_LABEL_PIXEL)
    ys, xs = np.nonzero(known)  # label k (1-based) is the k-th zero pixel in row-major order
    src = labels - 1
    out = img.copy()
    miss = ~known
    out[miss] = img[ys[src[miss]], xs[src[miss]]]
    return out
