"""Synthetic scenes from the cutout bank, written as COCO instance segmentation.

Two styles:

* ``catalog``: one product, centred, on a plain or gradient light backdrop with a soft contact
  shadow, like e-commerce base photos.
* ``wild``: 1-4 products on textures, photos, studio wall/floor sets, noise or colour; relative
  scale follows the objects' physical heights (compressed so that a watch next to a sofa stays
  visible); products may overlap and touch the border.

Masks are exact: each pasted cutout's mask is ``alpha >= 0.5`` at its placement, minus the masks
of everything pasted after it. Instances whose visible part would be too small are removed from
the plan before anything is drawn, so no unannotated product remains in an image.

Every image draws from its own ``SeedSequence([seed, style, split, index])``; a split folder can
be extended or resumed (existing images are kept), and two builds with the same seed and bank are
byte-identical.
"""
from __future__ import annotations

import io
import json
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import cv2
import numpy as np
from PIL import Image

from ..annotations import mask_to_rle
from ..classes import coco_categories
from ..io import write_atomic
from ..sample import mask_box
from . import backdrops as bg
from .bank import Cutout, assign_splits, read_rgba

STYLES = ("catalog", "wild")


@dataclass(frozen=True, slots=True)
class SceneConfig:
    style: str = "wild"
    size: int = 512
    max_objects: int = 4
    min_visible_fraction: float = 0.35  # of the instance's unoccluded area
    min_visible_pixels: int = 256
    jpeg_quality: tuple[int, int] = (70, 96)

    def __post_init__(self):
        if self.style not in STYLES:
            raise ValueError(f"style must be one of {STYLES}, got {self.style!r}")


@dataclass(frozen=True, slots=True)
class Placement:
    cutout: Cutout
    x: int  # top-left of the resized cutout in the canvas (may be negative)
    y: int
    w: int
    h: int
    flip: bool
    gain: float  # per-object brightness
    saturation: float
    shadow: float  # contact shadow strength, 0 = none


@lru_cache(maxsize=768)
def _load_cutout(path: str) -> np.ndarray:
    return read_rgba(Path(path))


def resize_premultiplied(rgba: np.ndarray, w: int, h: int) -> np.ndarray:
    """Resize with premultiplied colour so edges do not pick up the transparent pixels' colour.

    Unlike ``ops.overlay.resize_rgba`` (un-premultiplied uint8 + float alpha, bicubic when
    enlarging) this keeps the premultiplied float32 layer (alpha 0..255) that the scene compositing
    works on, and enlarges bilinearly; the built sets depend on these exact values.
    """
    a = rgba[..., 3:4].astype(np.float32) / 255.0
    pre = np.concatenate([rgba[..., :3].astype(np.float32) * a, a * 255.0], axis=-1)
    interp = cv2.INTER_AREA if w < rgba.shape[1] else cv2.INTER_LINEAR
    return cv2.resize(pre, (w, h), interpolation=interp)  # float32, premultiplied, alpha in 0..255


def _window(p: Placement, H: int, W: int):
    """Canvas and cutout slices of a placement clipped to the canvas, or None when off-canvas."""
    x0, y0, x1, y1 = max(p.x, 0), max(p.y, 0), min(p.x + p.w, W), min(p.y + p.h, H)
    if x0 >= x1 or y0 >= y1:
        return None
    return (slice(y0, y1), slice(x0, x1)), (slice(y0 - p.y, y1 - p.y), slice(x0 - p.x, x1 - p.x))


def placement_layer(p: Placement, bank: Path) -> np.ndarray:
    """The placement's premultiplied RGBA (float32, alpha 0..255) at its pixel size, flips applied."""
    layer = resize_premultiplied(_load_cutout(str(bank / p.cutout.file)), p.w, p.h)
    return layer[:, ::-1] if p.flip else layer


def full_mask(p: Placement, layer: np.ndarray, H: int, W: int) -> np.ndarray:
    mask = np.zeros((H, W), bool)
    win = _window(p, H, W)
    if win is not None:
        mask[win[0]] = layer[win[1]][..., 3] >= 127.5
    return mask


def resolve_occlusion(masks: list[np.ndarray], min_fraction: float, min_pixels: int) -> tuple[list[int], list]:
    """Indices of instances to keep (in paste order) and their visible masks.

    Later instances occlude earlier ones. Dropping one can only uncover others, so we drop the first
    failing instance and re-check until all kept instances are visible enough.
    """
    keep = list(range(len(masks)))
    while True:
        visible, cover = {}, np.zeros_like(masks[0]) if masks else None
        for i in reversed(keep):
            visible[i] = masks[i] & ~cover
            cover |= masks[i]
        bad = [i for i in keep
               if visible[i].sum() < max(min_pixels, min_fraction * max(int(masks[i].sum()), 1))]
        if not bad:
            return keep, [visible[i] for i in keep]
        keep.remove(bad[0])


def _contact_shadow(canvas: np.ndarray, mask: np.ndarray, strength: float, rng_offset: float) -> None:
    """Darken the canvas under an object: a blurred flat ellipse at its base plus a faint drop shadow."""
    x0, _, x1, y1 = (int(v) for v in mask_box(mask))
    if x1 == 0:
        return
    H, W = mask.shape
    bottom, width = y1 - 1, x1 - x0
    shadow = np.zeros((H, W), np.float32)
    cx = int((x0 + x1 - 1) / 2)
    axes = (max(2, int(width * 0.48)), max(2, int(width * 0.06)))
    cv2.ellipse(shadow, (cx, bottom - axes[1] // 2), axes, 0, 0, 360, 1.0, -1)
    sigma = max(1.5, width * 0.04)
    shadow = cv2.GaussianBlur(shadow, (0, 0), sigma)
    drop = np.roll(mask.astype(np.float32), (int(width * 0.03), int(width * rng_offset)), axis=(0, 1))
    drop = cv2.GaussianBlur(drop, (0, 0), max(2.0, width * 0.05)) * 0.35
    s = np.clip(np.maximum(shadow, drop) * strength, 0, 0.85)
    canvas *= (1.0 - s)[..., None]


def _object_scale_catalog(c: Cutout, H: int, W: int, rng) -> tuple[int, int]:
    frac = rng.uniform(0.55, 0.85)
    f = frac * min(H / c.height, W / c.width)
    return max(4, round(c.width * f)), max(4, round(c.height * f))


def plan_catalog(pool: list[Cutout], H: int, W: int, rng) -> list[Placement]:
    c = pool[int(rng.integers(len(pool)))]
    w, h = _object_scale_catalog(c, H, W, rng)
    x = round((W - w) / 2 + rng.uniform(-0.05, 0.05) * W)
    y = round((H - h) / 2 + rng.uniform(-0.04, 0.06) * H)
    return [Placement(c, x, y, w, h, bool(rng.uniform() < 0.5), float(rng.uniform(0.92, 1.08)),
                      float(rng.uniform(0.9, 1.1)), float(rng.uniform(0.25, 0.6)))]


def plan_wild(pool_by_class: dict[int, list[Cutout]], pool: list[Cutout], H: int, W: int, rng,
              max_objects: int, floor_y: int | None) -> list[Placement]:
    n = int(rng.choice(np.arange(1, max_objects + 1), p=_count_probs(max_objects)))
    classes = sorted(pool_by_class)
    chosen = []
    for _ in range(n):
        if rng.uniform() < 0.6:  # class-balanced draw, so thin classes are seen often enough
            items = pool_by_class[classes[int(rng.integers(len(classes)))]]
        else:
            items = pool
        chosen.append(items[int(rng.integers(len(items)))])
    tallest = max(c.height_cm for c in chosen)
    top_px = rng.uniform(0.3, 0.8) * H if n > 1 else rng.uniform(0.15, 0.9) * H
    out = []
    for c in chosen:
        # physical scale, compressed (exponent < 1) so small products stay learnable
        h_px = top_px * (c.height_cm / tallest) ** 0.6 * rng.uniform(0.85, 1.15)
        h_px = float(np.clip(h_px, 0.1 * H, 0.95 * H))
        w_px = h_px * c.width / c.height
        if w_px > 0.95 * W:
            h_px, w_px = h_px * 0.95 * W / w_px, 0.95 * W
        w, h = max(4, round(w_px)), max(4, round(h_px))
        x = int(rng.integers(-int(0.15 * w), max(W - int(0.85 * w), -int(0.15 * w)) + 1))
        if floor_y is not None and floor_y + 4 < H and rng.uniform() < 0.85:
            bottom = int(rng.uniform(floor_y + 0.02 * H, H - 1))  # stand on the floor
            y = bottom - h
        else:
            y = int(rng.integers(-int(0.15 * h), max(H - int(0.85 * h), -int(0.15 * h)) + 1))
        out.append(Placement(c, x, y, w, h, bool(rng.uniform() < 0.5), float(rng.uniform(0.8, 1.2)),
                             float(rng.uniform(0.8, 1.2)),
                             float(rng.uniform(0.2, 0.6)) if rng.uniform() < 0.5 else 0.0))
    if floor_y is not None:  # things nearer the camera (lower on the floor) are drawn last
        out.sort(key=lambda p: p.y + p.h)
    return out


def _count_probs(max_objects: int) -> np.ndarray:
    p = np.array([0.3, 0.3, 0.22, 0.18][:max_objects] + [0.1] * max(0, max_objects - 4))
    return p / p.sum()


def _adjust_object(layer: np.ndarray, gain: float, saturation: float) -> np.ndarray:
    rgb = layer[..., :3] * gain
    grey = rgb.mean(axis=-1, keepdims=True)
    rgb = grey + (rgb - grey) * saturation
    return np.concatenate([np.clip(rgb, 0, layer[..., 3:4]), layer[..., 3:4]], axis=-1)


def photometric(img: np.ndarray, rng, style: str) -> tuple[np.ndarray, dict]:
    """Global brightness/contrast/hue/saturation, blur and sensor noise; returns uint8 and the params."""
    strong = style == "wild"
    x = img.astype(np.float32)
    b = rng.uniform(-25, 25) if strong else rng.uniform(-8, 8)
    c = rng.uniform(0.75, 1.25) if strong else rng.uniform(0.92, 1.08)
    x = (x - x.mean()) * c + x.mean() + b
    x = np.clip(x, 0, 255).astype(np.uint8)
    hue = int(rng.integers(-8, 9)) if strong else 0
    sat = rng.uniform(0.75, 1.25) if strong else rng.uniform(0.95, 1.05)
    hsv = cv2.cvtColor(x, cv2.COLOR_RGB2HSV).astype(np.int16)
    hsv[..., 0] = (hsv[..., 0] + hue) % 180
    hsv[..., 1] = np.clip(np.round(hsv[..., 1] * sat), 0, 255)
    x = cv2.cvtColor(hsv.astype(np.uint8), cv2.COLOR_HSV2RGB)
    blur = float(rng.uniform(0.3, 1.3)) if rng.uniform() < (0.3 if strong else 0.1) else 0.0
    if blur:
        x = cv2.GaussianBlur(x, (0, 0), blur)
    sigma = float(rng.uniform(1, 7)) if rng.uniform() < (0.4 if strong else 0.1) else 0.0
    if sigma:
        x = np.clip(x.astype(np.float32) + rng.normal(0, sigma, x.shape), 0, 255).astype(np.uint8)
    params = {"brightness": round(b, 2), "contrast": round(c, 3), "hue": hue, "saturation": round(sat, 3),
              "blur": round(blur, 3), "noise": round(sigma, 3)}
    return x, params


def render_scene(pool: list[Cutout], bank: Path, config: SceneConfig, rng, textures: list[str]):
    """Draw one scene: returns (RGB uint8 image, [(cutout, visible mask)], meta)."""
    H = W = config.size
    pool_by_class: dict[int, list[Cutout]] = {}
    for c in pool:
        pool_by_class.setdefault(c.class_id, []).append(c)
    if config.style == "catalog":
        back, bmeta = bg.packshot_background(H, W, rng)
        plan = plan_catalog(pool, H, W, rng)
    else:
        back, bmeta = bg.wild_background(H, W, rng, textures)
        plan = plan_wild(pool_by_class, pool, H, W, rng, config.max_objects, bmeta.get("floor_y"))
    layers = [placement_layer(p, bank) for p in plan]
    masks = [full_mask(p, layer, H, W) for p, layer in zip(plan, layers)]
    keep, visible = resolve_occlusion(masks, config.min_visible_fraction, config.min_visible_pixels)
    canvas = back.astype(np.float32)
    offsets = rng.uniform(-0.04, 0.04, size=len(plan))
    for i in keep:
        p, layer = plan[i], _adjust_object(layers[i], plan[i].gain, plan[i].saturation)
        if p.shadow > 0:
            _contact_shadow(canvas, masks[i], p.shadow, float(offsets[i]))
        win = _window(p, H, W)
        if win is None:
            continue
        dst, src = win
        piece = layer[src]
        a = piece[..., 3:4] / 255.0
        canvas[dst] = piece[..., :3] + (1 - a) * canvas[dst]
    img, pmeta = photometric(np.clip(np.round(canvas), 0, 255).astype(np.uint8), rng, config.style)
    quality = int(rng.integers(config.jpeg_quality[0], config.jpeg_quality[1] + 1))
    meta = {"background": bmeta, "photometric": pmeta, "jpeg_quality": quality,
            "objects": [{"cutout": p.cutout.file, "x": p.x, "y": p.y, "w": p.w, "h": p.h, "flip": p.flip,
                         "kept": i in keep} for i, p in enumerate(plan)]}
    return img, [(plan[i].cutout, m) for i, m in zip(keep, visible)], meta


STYLE_CODE = {"catalog": 1, "wild": 2}
SPLIT_CODE = {"train": 1, "val": 2, "test": 3}


def build_split(bank: Path, cutouts: list[Cutout], out_dir: Path, split: str, count: int, config: SceneConfig,
                seed: int = 0, textures_dir: Path | None = None,
                progress: Callable[[int, int], None] | None = None, splits: dict[str, str] | None = None) -> dict:
    """Write ``count`` scenes of ``split`` into ``out_dir`` (images/, .ann/, annotations.json).

    ``splits`` maps split keys to splits (default: ``assign_splits(cutouts)``; the CLI passes the
    bank's frozen ``bank_splits``).
    """

    bank, out_dir = Path(bank), Path(out_dir)
    splits = splits if splits is not None else assign_splits(cutouts)
    pool = sorted((c for c in cutouts if splits[c.split_key] == split), key=lambda c: c.file)
    if not pool:
        raise ValueError(f"no cutouts in split {split!r}")
    textures = bg.list_textures(textures_dir)
    for i in range(count):
        name = f"{config.style}_{split}_{i:06d}.jpg"
        img_path, ann_path = out_dir / "images" / name, out_dir / ".ann" / f"{i:06d}.json"
        if img_path.exists() and ann_path.exists():
            continue
        rng = np.random.default_rng(np.random.SeedSequence([seed, STYLE_CODE[config.style], SPLIT_CODE[split], i]))
        img, instances, meta = render_scene(pool, bank, config, rng, textures)
        buf = io.BytesIO()
        Image.fromarray(img).save(buf, format="JPEG", quality=meta["jpeg_quality"])
        anns = [instance_annotation(cutout, mask) for cutout, mask in instances]
        record = {"image": {"file_name": f"images/{name}", "height": img.shape[0], "width": img.shape[1],
                            "meta": meta}, "annotations": anns}
        write_atomic(img_path, buf.getvalue())
        write_atomic(ann_path, json.dumps(record, sort_keys=True).encode())
        if progress:
            progress(i + 1, count)
    return write_annotations(out_dir, count)


def instance_annotation(cutout: Cutout, mask: np.ndarray, **extra) -> dict:
    """The COCO annotation of one pasted cut-out (RLE, area, box from the mask) plus ``extra`` keys."""
    from pycocotools import mask as mask_utils

    rle = mask_to_rle(mask)
    return {"category_id": cutout.class_id, "segmentation": rle, "iscrowd": 0,
            "area": float(mask_utils.area(rle)), "bbox": [float(v) for v in mask_utils.toBbox(rle)],
            "source_id": cutout.source_id, "cutout": cutout.file, **extra}


def write_annotations(out_dir: Path, count: int, description: str = "product-augment synthetic scenes",
                      categories: list[dict] | None = None) -> dict:
    """Assemble ``annotations.json`` (COCO) from the per-image records 0..count-1."""
    images, anns = [], []
    for i in range(count):
        rec = json.loads((out_dir / ".ann" / f"{i:06d}.json").read_text())
        image_id = i + 1
        images.append({"id": image_id, **rec["image"]})
        for a in rec["annotations"]:
            anns.append({"id": len(anns) + 1, "image_id": image_id, **a})
    coco = {"info": {"description": description, "version": "1"},
            "images": images, "annotations": anns,
            "categories": coco_categories() if categories is None else categories}
    write_atomic(out_dir / "annotations.json", json.dumps(coco, sort_keys=True).encode())
    return coco


def class_counts(coco: dict) -> dict[int, int]:
    counts: dict[int, int] = {}
    for a in coco["annotations"]:
        counts[a["category_id"]] = counts.get(a["category_id"], 0) + 1
    return counts
