"""The training-data arms' augmentations: this pipeline (offline, through the runner), copy-paste
(offline, in memory) and classical augmentation (on the fly, per training sample).

`load_preset` is imported in exactly one place (`_load_preset` below), so a move of the preset
package is a one-line change.
"""
from __future__ import annotations

import os
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

def bench_steps(preset_path: Path, base_root: Path, base_format: str, ablate: str | None = None) -> list:
    """The preset's steps with the segment step replaced by the base set's known masks (so the
    comparison isolates the augmentation) and the `ablate` family removed."""
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
                   workers: int = 1) -> dict:
    """Run the pipeline over the first `limit` base images, `expansion` variants each, into
    `out_dir` (a COCO folder). Resumes: the runner skips items already made with the same preset.
    Returns {images, failed, seconds, steps}."""
    from ..runner import RunError, RunOptions, run

    fmt, names = list_items(base_root, base_format, limit)
    steps = bench_steps(preset_path, base_root, fmt, ablate)
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

def classical(x: np.ndarray, y: np.ndarray, valid: np.ndarray, rng: np.random.Generator
              ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """What a user would otherwise do, per sample: horizontal flip (p 0.5); scale/crop (an affine
    zoom by a factor in [0.75, 1.33] with aspect jitter [0.8, 1.25] and a shift of up to ±12 % of the
    side, edges repeated like the resize policy, uncovered pixels invalid); colour jitter
    (brightness and contrast ±25 %, saturation ±30 %, hue ±8°)."""
    s = x.shape[0]
    if rng.random() < 0.5:
        x, y, valid = x[:, ::-1], y[:, ::-1], valid[:, ::-1]
    zoom = float(np.exp(rng.uniform(np.log(0.75), np.log(1.33))))
    ar = float(np.exp(rng.uniform(np.log(0.8), np.log(1.25))))
    sx, sy = zoom * np.sqrt(ar), zoom / np.sqrt(ar)
    tx, ty = rng.uniform(-0.12, 0.12, 2) * s
    c = (s - 1) / 2
    m = np.array([[sx, 0, c - sx * c + tx], [0, sy, c - sy * c + ty]], np.float32)
    x = cv2.warpAffine(np.ascontiguousarray(x), m, (s, s), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    y = cv2.warpAffine(np.ascontiguousarray(y).astype(np.uint8), m, (s, s), flags=cv2.INTER_NEAREST,
                       borderMode=cv2.BORDER_CONSTANT, borderValue=0) > 0
    valid = cv2.warpAffine(np.ascontiguousarray(valid).astype(np.uint8), m, (s, s), flags=cv2.INTER_NEAREST,
                           borderMode=cv2.BORDER_CONSTANT, borderValue=0) > 0
    hsv = cv2.cvtColor(x, cv2.COLOR_RGB2HSV).astype(np.float32)
    hsv[..., 0] = (hsv[..., 0] + rng.uniform(-4, 4)) % 180  # OpenCV hue is 0–180: ±4 = ±8°
    hsv[..., 1] *= rng.uniform(0.7, 1.3)
    x = cv2.cvtColor(np.clip(hsv, 0, 255).astype(np.uint8), cv2.COLOR_HSV2RGB).astype(np.float32)
    x = (x - x.mean()) * rng.uniform(0.75, 1.25) + x.mean() * rng.uniform(0.75, 1.25)
    return np.clip(x + 0.5, 0, 255).astype(np.uint8), y, valid
