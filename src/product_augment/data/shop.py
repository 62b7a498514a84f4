"""Shop-photo scenes: one product composed the way real e-commerce photographs are taken.

Where ``scenes.py`` makes generic scenes (catalog: centred on a light backdrop; wild: 1–4 objects
anywhere), this module imitates real shop photography around one *main* product:

* **white** — seamless white/near-white packshot with a soft contact shadow;
* **sweep** — studio sweep: a wall that curves smoothly into a floor, the product standing on it,
  contact + cast shadow (the shadow is never part of the mask);
* **plinth** — the product on a plinth/box/cylinder top in a sweep (the plinth is not the product);
* **colour** — saturated plain or two-tone backdrop (as brands shoot), shadow;
* **lifestyle** — a rendered interior/table backdrop (``backgrounds/``), a texture or a photo,
  defocused (depth of field), the product on the lower part of the frame.

Optionally 1–2 *props* (other objects) stand at the frame's edge, cut by it, behind the product;
they are annotated as instances too, and ``main`` marks the product in each annotation.
Canvases are not square (1:1, 4:3, 3:4, 2:3, 3:2) and photographs in the photo bank are never
enlarged more than ``max_upscale``, so their real texture survives. Camera effects: white balance,
exposure/contrast/saturation, vignette, sensor noise, slight lens blur, JPEG.

Determinism: image *i* of a split draws only from ``SeedSequence([seed, 3, split code, i])``.
"""
from __future__ import annotations

import io
import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
from PIL import Image

from ..classes import GENERIC_PRODUCT, coco_categories
from ..io import encode_mask, write_atomic
from ..sample import mask_box
from . import backdrops as bg
from .bank import Cutout
from .scenes import (
    SPLIT_CODE,
    _contact_shadow,
    _load_cutout,
    instance_annotation,
    photometric,
    resize_premultiplied,
    write_annotations,
)

KINDS = ("white", "sweep", "plinth", "colour", "lifestyle")
KIND_P = (0.25, 0.2, 0.12, 0.13, 0.3)
ASPECTS = ((1.0, 0.4), (4 / 3, 0.15), (3 / 4, 0.2), (2 / 3, 0.15), (3 / 2, 0.1))  # width / height, p


@dataclass(frozen=True)
class Source:
    """A pool of cut-outs and the bank folder their files are relative to."""

    bank: Path
    cutouts: tuple[Cutout, ...]
    max_upscale: float = 10.0  # photographs: keep near native resolution


def shop_categories() -> list[dict]:
    return coco_categories() + [{"id": GENERIC_PRODUCT.id, "name": GENERIC_PRODUCT.name,
                                 "supercategory": "product"}]


def _pick(sources: list[Source], weights: np.ndarray, rng) -> tuple[Source, Cutout]:
    s = sources[int(rng.choice(len(sources), p=weights))]
    return s, s.cutouts[int(rng.integers(len(s.cutouts)))]


def _canvas_size(rng, c: Cutout, frac_h: float, max_up: float) -> tuple[int, int]:
    r = ASPECTS[int(rng.choice(len(ASPECTS), p=[a[1] for a in ASPECTS]))][0]
    long_side = float(rng.uniform(320, 640))
    W, H = (long_side, long_side / r) if r >= 1 else (long_side * r, long_side)
    # keep the photographed product at most max_up × its native size
    need_h = frac_h * H
    obj_scale = min(need_h / c.height, 0.9 * W / c.width)
    if obj_scale > max_up:
        k = max_up / obj_scale
        W, H = W * k, H * k
    f = max(1.0, 192 / min(W, H))
    return round(W * f), round(H * f)


def _sweep(H: int, W: int, rng, floor_y: int) -> np.ndarray:
    wall = bg.light_colour(rng) if rng.uniform() < 0.8 else bg.any_colour(rng) * 0.5 + 100
    floor = np.clip(wall * rng.uniform(0.8, 1.0) + rng.uniform(-10, 10), 0, 255)
    yy = np.arange(H, dtype=np.float32)[:, None, None]
    t = 1 / (1 + np.exp(-(yy - floor_y) / max(2.0, rng.uniform(0.02, 0.12) * H)))
    img = wall * (1 - t) + floor * t
    img = np.broadcast_to(img, (H, W, 3)).astype(np.float32)
    xx = np.arange(W, dtype=np.float32)[None, :, None]
    light = 1 - rng.uniform(0.0, 0.25) * ((xx / W - rng.uniform(0.3, 0.7)) ** 2 * 2 + (yy / H - 0.4) ** 2)
    return np.clip(img * light, 0, 255)


def _backdrop(kind: str, H: int, W: int, rng, textures: list[str], backdrops: list[str]):
    """(float32 H×W×3 backdrop, floor_y or None, meta)."""
    if kind == "white":
        c = np.full(3, rng.uniform(238, 255)) + rng.uniform(-3, 3, 3)
        img = np.broadcast_to(np.clip(c, 0, 255), (H, W, 3)).astype(np.float32).copy()
        if rng.uniform() < 0.4:
            img = bg.gradient(H, W, rng)[0].astype(np.float32) * 0.3 + img * 0.7
        return img, None, {"kind": "white"}
    if kind in ("sweep", "plinth"):
        fy = int(H * rng.uniform(0.45, 0.75))
        return _sweep(H, W, rng, fy), fy, {"kind": kind, "floor_y": fy}
    if kind == "colour":
        if rng.uniform() < 0.6:
            c = bg.any_colour(rng)
            img = np.broadcast_to(c, (H, W, 3)).astype(np.float32).copy()
        else:
            img = bg.gradient(H, W, rng, light=False)[0].astype(np.float32)
        return img, None, {"kind": "colour"}
    u = rng.uniform()
    if backdrops and u < 0.5:
        path = backdrops[int(rng.integers(len(backdrops)))]
        img = bg.random_crop(bg.load_rgb(path), H, W, rng)
        meta = {"kind": "lifestyle", "file": Path(path).name}
    elif u < 0.8:
        img, meta = bg.texture(H, W, rng, textures)
    else:
        img, meta = bg.photo(H, W, rng)
    img = img.astype(np.float32)
    # depth of field: the backdrop is out of focus, more so for rendered rooms (their furniture is not the product)
    sigma = float(rng.uniform(1.5, 5) if meta["kind"] == "lifestyle" else rng.uniform(0, 4)) * min(H, W) / 400
    if sigma > 0.3:
        img = cv2.GaussianBlur(img, (0, 0), sigma)
    meta["defocus"] = round(sigma, 2)
    fy = int(H * rng.uniform(0.5, 0.8)) if rng.uniform() < 0.7 else None
    return img, fy, meta


def _paste(canvas: np.ndarray, layer: np.ndarray, x: int, y: int) -> np.ndarray:
    """Composite a premultiplied float layer at (x, y); returns its full-canvas alpha (0..1)."""
    H, W = canvas.shape[:2]
    h, w = layer.shape[:2]
    alpha = np.zeros((H, W), np.float32)
    x0, y0, x1, y1 = max(x, 0), max(y, 0), min(x + w, W), min(y + h, H)
    if x0 >= x1 or y0 >= y1:
        return alpha
    piece = layer[y0 - y:y1 - y, x0 - x:x1 - x]
    a = piece[..., 3:4] / 255.0
    canvas[y0:y1, x0:x1] = piece[..., :3] + (1 - a) * canvas[y0:y1, x0:x1]
    alpha[y0:y1, x0:x1] = a[..., 0]
    return alpha


def _cast_shadow(canvas: np.ndarray, alpha: np.ndarray, rng, strength: float) -> None:
    """A sheared, squashed, blurred silhouette on the floor behind/beside the product."""
    _, y0, x1, y1 = mask_box(alpha > 0.5)
    if x1 == 0:
        return
    H, W = alpha.shape
    bottom = y1 - 1
    h = y1 - y0
    squash, shear = rng.uniform(0.15, 0.5), rng.uniform(-1.2, 1.2)
    m = np.array([[1, shear * squash, -shear * squash * bottom], [0, squash, bottom * (1 - squash)]], np.float32)
    sh = cv2.warpAffine(alpha, m, (W, H), flags=cv2.INTER_LINEAR)
    sh = cv2.GaussianBlur(sh, (0, 0), max(1.5, h * rng.uniform(0.02, 0.06)))
    canvas *= (1 - np.clip(sh * strength, 0, 0.8))[..., None]


def _camera(img: np.ndarray, rng, style: str) -> tuple[np.ndarray, dict]:
    wb = rng.uniform(0.9, 1.1, 3) if rng.uniform() < 0.6 else np.ones(3)
    img = img * wb
    H, W = img.shape[:2]
    vig = rng.uniform(0, 0.3) if rng.uniform() < 0.4 else 0.0
    if vig:
        yy, xx = np.mgrid[0:H, 0:W].astype(np.float32)
        img = img * (1 - vig * (((xx / W - 0.5) ** 2 + (yy / H - 0.5) ** 2) / 0.5))[..., None]
    out, meta = photometric(np.clip(np.round(img), 0, 255).astype(np.uint8), rng, style)
    meta.update({"white_balance": [round(float(v), 3) for v in wb], "vignette": round(float(vig), 3)})
    return out, meta


def render_shop(sources: list[Source], weights: np.ndarray, rng, textures: list[str], backdrops: list[str],
                prop_p: float = 0.25):
    """One shop photo: (RGB uint8, [(cutout, visible mask, is_main)], meta)."""
    src, c = _pick(sources, weights, rng)
    kind = KINDS[int(rng.choice(len(KINDS), p=KIND_P))]
    packshot = kind != "lifestyle"
    frac_h = rng.uniform(0.45, 0.88) if packshot else rng.uniform(0.25, 0.65)
    W, H = _canvas_size(rng, c, frac_h, src.max_upscale)
    canvas, floor_y, bmeta = _backdrop(kind, H, W, rng, textures, backdrops)
    h = round(frac_h * H)
    w = round(h * c.width / c.height)
    if w > 0.92 * W:
        w = int(0.92 * W)
        h = max(4, round(w * c.height / c.width))
    w, h = max(4, w), max(4, h)
    layer = resize_premultiplied(_load_cutout(str(src.bank / c.file)), w, h)
    if rng.uniform() < 0.5:
        layer = layer[:, ::-1]
    gain, sat = rng.uniform(0.9, 1.1), rng.uniform(0.9, 1.1)
    rgb = layer[..., :3] * gain
    grey = rgb.mean(-1, keepdims=True)
    layer = np.concatenate([np.clip(grey + (rgb - grey) * sat, 0, layer[..., 3:4]), layer[..., 3:4]], -1)
    x = round((W - w) / 2 + rng.uniform(-0.08, 0.08) * W) if packshot else int(rng.integers(0, max(1, W - w)))
    if floor_y is not None:
        bottom = int(np.clip(floor_y + rng.uniform(0.02, 0.2) * H, h, H - 2))
        y = bottom - h
    else:
        y = round((H - h) / 2 + rng.uniform(-0.05, 0.07) * H)
    y = int(np.clip(y, -int(0.02 * h), H - h + int(0.02 * h)))
    instances: list[tuple[Cutout, np.ndarray, bool]] = []
    # props at the frame's edge, behind the product
    props = []
    if rng.uniform() < prop_p:
        for _ in range(int(rng.integers(1, 3))):
            ps, pc = _pick(sources, weights, rng)
            if pc.source_id == c.source_id:  # a prop is another object
                continue
            ph = round(rng.uniform(0.3, 0.8) * H)
            pw = max(4, round(ph * pc.width / pc.height))
            if pw > 0.6 * W:
                pw = int(0.6 * W)
                ph = max(4, round(pw * pc.height / pc.width))
            side = rng.uniform() < 0.5
            px = int(-pw * rng.uniform(0.3, 0.6)) if side else int(W - pw * rng.uniform(0.4, 0.7))
            py = int(np.clip((floor_y or H * 0.85) + rng.uniform(0, 0.1) * H - ph, -ph // 3, H - ph // 2))
            props.append((pc, resize_premultiplied(_load_cutout(str(ps.bank / pc.file)), pw, ph), px, py))
    if kind == "plinth":
        pw = int(w * rng.uniform(1.1, 1.8))
        ph = H if rng.uniform() < 0.6 else int(H * rng.uniform(0.12, 0.35))  # to the frame's bottom
        px0 = x + w // 2 - pw // 2
        top = y + h - max(1, int(0.02 * h))
        colour = bg.light_colour(rng) * rng.uniform(0.7, 1.0) if rng.uniform() < 0.7 else bg.any_colour(rng)
        x0c, x1c = max(px0, 0), min(px0 + pw, W)
        if x0c < x1c and top < H:
            shade = np.linspace(1.0, rng.uniform(0.75, 0.95), x1c - x0c, dtype=np.float32)[None, :, None]
            canvas[top:min(top + ph, H), x0c:x1c] = colour * shade
            canvas[top:min(top + 2, H), x0c:x1c] *= 1.05
        bmeta["plinth"] = [int(px0), int(top), int(pw), int(ph)]
    prop_alphas = []
    for pc, pl, px, py in props:
        prop_alphas.append((pc, _paste(canvas, pl, px, py)))
    # shadows of the product (never in its mask)
    full = np.zeros((H, W), np.float32)
    x0, y0, x1, y1 = max(x, 0), max(y, 0), min(x + w, W), min(y + h, H)
    full[y0:y1, x0:x1] = layer[y0 - y:y1 - y, x0 - x:x1 - x, 3] / 255.0
    strength = float(rng.uniform(0.15, 0.6))
    if rng.uniform() < 0.85:
        _contact_shadow(canvas, full > 0.5, strength, float(rng.uniform(-0.04, 0.04)))
    if floor_y is not None and rng.uniform() < 0.5:
        _cast_shadow(canvas, full, rng, strength * 0.8)
    alpha = _paste(canvas, layer, x, y)
    main_mask = alpha >= 0.5
    for pc, pa in prop_alphas:
        vis = (pa >= 0.5) & ~main_mask
        if vis.sum() >= 256:
            instances.append((pc, vis, False))
    instances.append((c, main_mask, True))
    img, pmeta = _camera(canvas, rng, "catalog" if kind in ("white", "sweep", "plinth") else "wild")
    meta = {"kind": kind, "background": bmeta, "photometric": pmeta, "main": c.file,
            "box": [x, y, w, h]}
    return img, instances, meta


def build_shop_split(sources: list[Source], weights: list[float], out_dir: Path, split: str, count: int,
                     seed: int = 0, textures: list[str] | None = None, backdrops: list[str] | None = None,
                     prop_p: float = 0.25, masks: bool = False,
                     progress: Callable[[int, int], None] | None = None) -> dict:
    """Write ``count`` shop photos (images/, .ann/, annotations.json; with ``masks`` also masks/<stem>.png
    of the main product, the image + mask layout of ``shared/tools/peer_rembg.py``). Resumable."""
    out_dir = Path(out_dir)
    w = np.asarray(weights, float)
    w = w / w.sum()
    for i in range(count):
        stem = f"shop_{split}_{i:06d}"
        img_path, ann_path = out_dir / "images" / f"{stem}.jpg", out_dir / ".ann" / f"{i:06d}.json"
        if img_path.exists() and ann_path.exists():
            continue
        rng = np.random.default_rng(np.random.SeedSequence([seed, 3, SPLIT_CODE[split], i]))
        img, instances, meta = render_shop(sources, w, rng, textures or [], backdrops or [], prop_p)
        quality = int(rng.integers(60, 96))
        buf = io.BytesIO()
        Image.fromarray(img).save(buf, format="JPEG", quality=quality)
        meta["jpeg_quality"] = quality
        anns = [instance_annotation(cutout, m, main=is_main) for cutout, m, is_main in instances]
        if masks:
            main_mask = next(m for _, m, is_main in instances if is_main)
            write_atomic(out_dir / "masks" / f"{stem}.png", encode_mask(main_mask))
        record = {"image": {"file_name": f"images/{stem}.jpg", "height": img.shape[0], "width": img.shape[1],
                            "meta": meta}, "annotations": anns}
        write_atomic(img_path, buf.getvalue())
        write_atomic(ann_path, json.dumps(record, sort_keys=True).encode())
        if progress:
            progress(i + 1, count)
    return write_annotations(out_dir, count, "product-augment shop-photo scenes", shop_categories())

